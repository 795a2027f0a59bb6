// @remit/core/adapter: what an adapter needs — the value a vendor's text stands for (one truth
// table for every adapter), and, to add HTTP operations to a Remit server, the route description
// the server serves and documents and the OpenAPI document made from it.

export { PermanentDeliveryError } from '../outbox/outbox.ts'
export { type CustomerCacheOptions, customerCache, type VendorCustomer } from './customers.ts'
export { openApiDocument } from './openapi.ts'
export type { Context, Principal, Role, Route, RouteReply, RouteRequest } from './route.ts'
export { valueFromText } from './text.ts'
