export { type SalesforceContextOptions, type SalesforceCustomer, salesforceContext } from './context.ts'
export {
  type ComponentStatus,
  connectionFor,
  deployPackage,
  requireDeployLibraries,
  SalesforceError,
} from './deploy.ts'
export {
  type FlowDecisionRequest,
  type FlowTouchRequest,
  flowDecisionRequestSchema,
  flowDecisionSchema,
  flowTouchRequestSchema,
  flowTouchSchema,
  salesforceOpenApi,
  salesforceRoutes,
  toDecisionRequest,
  toFlowDecision,
} from './flow.ts'
export { API_VERSION, apiName, type PackageOptions, REVIEW_FIELDS, writePackage } from './package.ts'
export { publishReviews, REVIEW_EVENT, reviewEvent } from './publish.ts'
