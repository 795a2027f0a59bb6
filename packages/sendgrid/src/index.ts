export {
  type GatedMail,
  type GatedResult,
  type GateOptions,
  gate,
  type MailService,
  type RecipientReport,
  type ReleaseReport,
  type SendReport,
} from './gate.ts'
export { type Held, type HeldStatus, HoldStore } from './hold.ts'
export type { EmailData, MailData, Personalization } from './recipients.ts'
export { type EventWebhookOptions, eventWebhook, verifySignature } from './webhook.ts'
