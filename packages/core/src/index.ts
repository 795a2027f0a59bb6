// The main entry: what users call. Wire schemas are in `@remit/core/api`; what adapters need in
// `@remit/core/adapter`; the store contract's tests in `@remit/core/testing`; Remit's own plumbing
// in `@remit/core/internal`.
export type { CandidateDiff, CandidateDiffKind } from './candidate/diff.ts'
export type { Decision } from './decision/decision.ts'
export type { Caller } from './decision/request.ts'
export type {
  DecisionRequest,
  DecisionWire,
  Preview,
  Reason,
  ReasonSort,
  Verdict,
} from './decision/schema.ts'
export {
  ConflictError,
  formatIssue,
  InputError,
  NotFoundError,
  PolicyChangeError,
  PolicyError,
  type PolicyIssue,
  ReviewStateError,
  type SourcePosition,
  UnavailableError,
} from './errors.ts'
export { type AbortedRule, type Evaluation, type EvaluationInput, evaluate } from './evaluate/evaluate.ts'
export { type Explanation, explain, type RuleTrace } from './evaluate/explain.ts'
export { normalizeEmail, type Person } from './ledger/identity.ts'
export type { Commitment, Identity, LedgerView, Suppression, Touch, TouchStatus } from './ledger/types.ts'
export type { OutboxFilter, OutboxMessage, OutboxSettlement, OutboxStatus } from './outbox/outbox.ts'
export { type AnalysisOptions, analyzePolicy } from './policy/analysis.ts'
export { POLICY_JSON_SCHEMA_ID, policyJsonSchema } from './policy/json-schema.ts'
export { type CheckResult, checkPolicy, loadPolicy, loadPolicyFile } from './policy/load.ts'
export { DECISION_BUDGET, EVALUATION_BUDGET } from './policy/meter.ts'
export type { ActionKind, Agent, CompiledRule, Policy } from './policy/model.ts'
export { type PolicyDocument, policySchema, type RuleSort } from './policy/schema.ts'
export {
  type BatchDeliverOptions,
  type DeliverOptions,
  type OwedWork,
  openRemit,
  Remit,
  type RemitOptions,
  type ResolveInput,
  type ReviewListener,
  type SuppressionInput,
  type TouchInput,
} from './remit.ts'
export {
  type BaselineDiff,
  type ReplayEvent,
  type ReplayOptions,
  type ReplayReport,
  replay,
  replayEventSchema,
} from './replay/replay.ts'
export { approvalDigest } from './review/digest.ts'
export type { Recheck } from './review/recheck.ts'
export type { Review, ReviewChanges, ReviewStatus } from './review/review.ts'
export { releasedAction } from './review/review.ts'
export { openSqliteStore, type SqliteStoreOptions } from './store/sqlite.ts'
export type {
  CandidateDiffFilter,
  DecideRequest,
  DecisionFilter,
  DecisionWrite,
  PruneReport,
  PruneRequest,
  ReviewFilter,
  ReviewWrite,
  Store,
  SuppressionFilter,
  SuppressionLift,
  Timeline,
} from './store/store.ts'
export {
  type DecisionLogEntry,
  type DecisionLogFile,
  type DecisionLogFileOptions,
  type DecisionLogSink,
  openDecisionLog,
  type PolicyChangeLogEntry,
} from './telemetry/decision-log.ts'
export { formatDuration, parseDuration } from './time/duration.ts'
