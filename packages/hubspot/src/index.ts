export { ACTION_FIELD, type ExecutionRequest, type HubSpotActionOptions, hubspotAction } from './action.ts'
export {
  type ActivityKind,
  type HubSpotActivityOptions,
  hubspotActivity,
  type Identify,
  recordIdentity,
} from './activity.ts'
export { type HubSpotAppOptions, hubspotApp } from './app.ts'
export {
  activityKinds,
  type HubSpotConfig,
  HubSpotConfigError,
  hubspotConfigSchema,
  readHubSpotConfig,
  requiredScopes,
} from './config.ts'
export {
  type CustomerContext,
  type HubSpotContext,
  type HubSpotContextOptions,
  hubspotContext,
} from './context.ts'
export {
  type ActionDefinition,
  actionDefinition,
  type DefinitionOptions,
  fieldTypeOf,
  requestedProperties,
} from './definition.ts'
export { HubSpotApiError } from './http.ts'
export { installRoutes } from './install.ts'
export {
  type HubSpotClients,
  HubSpotInstallError,
  HubSpotNotInstalledError,
  type HubSpotOAuth,
  type HubSpotOAuthOptions,
  hubspotOAuth,
} from './oauth.ts'
export { findDefinition, type RegisterOptions, registerAction } from './register.ts'
export { SecretKeyError, secretKey } from './secrets.ts'
export {
  type SignatureCheck,
  type SignedRequest,
  verifyHubSpotSignature,
} from './signature.ts'
