export {
  type Alert,
  type Gated,
  type GatedClient,
  type GatedMail,
  type GatedResult,
  type GateLog,
  type GateOptions,
  gate,
  type MailService,
  type MessageOf,
  type Outbox,
  type RecipientReport,
  type ReleaseReport,
  type SendGridClient,
  type SendGridMailService,
  type SendReport,
} from './gate.ts'
export { type Held, type HeldStatus, HoldStore, type SendRecord } from './hold.ts'
export type { EmailData, MailData, Personalization, V3Mail } from './recipients.ts'
export { type EventWebhookOptions, eventWebhook, verifySignature } from './webhook.ts'
