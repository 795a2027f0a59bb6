// The route description lives in @remit/core/adapter, so adapters can add operations without
// depending on this app; the server serves and documents it.
export { type Context, defineRoute, type Role, type Route } from '@remit/core/adapter'
