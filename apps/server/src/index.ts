export { openApiDocument } from '@remit/core/adapter'
export { bundledConsoleDir } from './console.ts'
export { ForbiddenError, toHttpError } from './errors.ts'
export {
  generateKey,
  hashKey,
  type KeyEntry,
  KeyRing,
  KeysError,
  keyLine,
  type Principal,
  readKeysFile,
} from './keys.ts'
export { PolicyService, type ReloadResult } from './policy-service.ts'
export type { Route } from './route.ts'
export { createServer, type RawRoute, type RemitServer, type ServerOptions } from './server.ts'
export {
  REVIEW_EVENTS,
  type ReviewEvent,
  type ReviewEventType,
  readWebhooksFile,
  reviewWebhooks,
  signWebhook,
  verifyWebhook,
  WEBHOOK_TOLERANCE_S,
  WebhooksConfigError,
  type WebhookTarget,
} from './webhooks.ts'
