export { ACTION_FIELD, type ExecutionRequest, type HubSpotActionOptions, hubspotAction } from './action.ts'
export {
  type HubSpotConfig,
  HubSpotConfigError,
  hubspotConfigSchema,
  readHubSpotConfig,
} from './config.ts'
export {
  type CustomerContext,
  type HubSpotContext,
  type HubSpotContextOptions,
  hubspotContext,
} from './context.ts'
export { actionDefinition, type RegisterOptions, registerAction } from './register.ts'
export {
  type SignatureCheck,
  type SignedRequest,
  verifyHubSpotSignature,
} from './signature.ts'
