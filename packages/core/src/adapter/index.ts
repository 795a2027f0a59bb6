// @remit/core/adapter: what an adapter needs to add HTTP operations to a Remit server — the route
// description the server serves and documents, and the OpenAPI document made from it.
export { openApiDocument } from './openapi.ts'
export type { Context, Principal, Role, Route, RouteReply, RouteRequest } from './route.ts'
