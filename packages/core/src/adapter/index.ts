// @remit/core/adapter: what an adapter needs — the value a vendor's text stands for (one truth
// table for every adapter), and, to add HTTP operations to a Remit server, the route description
// the server serves and documents (defineRoute types a handler from its schemas) and the OpenAPI
// document made from it.

export { PermanentDeliveryError, RetryLaterError } from '../outbox/outbox.ts'
export { type CustomerCacheOptions, customerCache, type VendorCustomer } from './customers.ts'
export {
  APEX_IDENTIFIER,
  type OpenApiOptions,
  openApiDocument,
  SALESFORCE_DESCRIPTION_MAX,
  typedOpenApi,
} from './openapi.ts'
export {
  type Context,
  defineRoute,
  type Principal,
  type PrincipalOf,
  type Role,
  type Route,
  type RouteReply,
  type RouteRequest,
  type RouteSpec,
  scopedExternalId,
} from './route.ts'
export { activityTime, boundedText, cutText, valueFromText } from './text.ts'
