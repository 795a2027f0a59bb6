import { readFileSync } from 'node:fs'
import { type Attributes, context, type Span, SpanStatusCode, type Tracer, trace } from '@opentelemetry/api'
import type { Decision } from '../decision/decision.ts'
import type { Reason } from '../decision/schema.ts'
import type { OutboxMessage } from '../outbox/outbox.ts'
import type { Review } from '../review/review.ts'

// Spans through @opentelemetry/api: a no-op until the application registers an SDK (then the global
// tracer provider's). Attributes name agents, teams, tools, kinds, verdicts, rules and ids Remit
// made — never a customer: no account, contact or e-mail, no fact or attribute value, no preview,
// and no error message (a message can quote a value a caller sent, or a vendor's text about a
// contact). Each attribute is picked by name here, so nothing reaches a span by accident.

/** The attribute names, in one place (the README's table lists them). */
export const ATTR = {
  agent: 'remit.agent',
  team: 'remit.team',
  tool: 'remit.tool',
  actionKind: 'remit.action.kind',
  verdict: 'remit.verdict',
  ruleIds: 'remit.rule_ids',
  policyVersion: 'remit.policy.version',
  decisionId: 'remit.decision.id',
  dryRun: 'remit.decision.dry_run',
  replayed: 'remit.decision.replayed',
  reviewId: 'remit.review.id',
  reviewTeam: 'remit.review.team',
  reviewStatus: 'remit.review.status',
  outboxChannel: 'remit.outbox.channel',
  outboxAttempt: 'remit.outbox.attempt',
  outboxOutcome: 'remit.outbox.outcome',
  outboxMessages: 'remit.outbox.messages',
  outboxMessageId: 'remit.outbox.message_id',
  errorType: 'error.type',
} as const

let cached: Tracer | undefined

/** This package's version, from its package.json (two levels above src/telemetry/ and dist/telemetry/ alike). */
function packageVersion(): string {
  try {
    return (
      JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }
    ).version
  } catch {
    return '0.0.0'
  }
}

/**
 * The tracer. The API's proxy: it forwards to the SDK's once one is registered, whether before or
 * after this module loads, and is a no-op until then.
 */
export function tracer(): Tracer {
  cached ??= trace.getTracer('@remit/core', packageVersion())
  return cached
}

/**
 * Runs `fn` in a span named `name`, ended when `fn` settles; a throw is recorded on the span (status
 * ERROR) and rethrown. The span is made the active one (the parent of spans started inside, e.g. a
 * database driver's) when it has a trace to belong to; with no SDK it has none, and `fn` is just
 * called: the whole cost is then a no-op span and one promise.
 */
export function traced<T>(name: string, fn: (span: Span) => Promise<T>): Promise<T> {
  const span = tracer().startSpan(name)
  let running: Promise<T>
  try {
    running = trace.isSpanContextValid(span.spanContext())
      ? context.with(trace.setSpan(context.active(), span), fn, undefined, span)
      : fn(span)
  } catch (error) {
    running = Promise.reject(error)
  }
  return running.then(
    (value) => {
      span.end()
      return value
    },
    (error: unknown) => {
      recordError(span, error)
      span.end()
      throw error
    },
  )
}

/**
 * Records `error` on `span` with status ERROR, as its type and Remit's code (`BAD_TYPE`,
 * `REVIEW_RESOLVED`…) and its stack frames — not its message, which may quote what a caller sent.
 */
export function recordError(span: Span, error: unknown): void {
  if (!span.isRecording()) return
  const e = error instanceof Error ? error : undefined
  const type = e?.name ?? typeof error
  const code = (error as { code?: unknown } | null)?.code
  const label = typeof code === 'string' ? `${type} ${code}` : type
  const frames = e?.stack
    ?.split('\n')
    .filter((line) => /^\s+at /.test(line))
    .join('\n')
  span.recordException({ name: type, message: label, ...(frames ? { stack: `${label}\n${frames}` } : {}) })
  span.setAttribute(ATTR.errorType, typeof code === 'string' ? code : type)
  span.setStatus({ code: SpanStatusCode.ERROR, message: label })
}

const ruleIds = (reasons: Reason[] | undefined) => (reasons ?? []).map((r) => r.rule)

/** A decision's attributes (none of the customer's). */
export function decisionAttributes(d: Decision): Attributes {
  const a: Attributes = {
    [ATTR.decisionId]: d.id,
    [ATTR.agent]: d.agent,
    [ATTR.team]: d.team,
    [ATTR.actionKind]: d.action.kind,
    [ATTR.verdict]: d.verdict,
    [ATTR.ruleIds]: ruleIds(d.reasons),
    [ATTR.policyVersion]: d.policyVersion,
    [ATTR.dryRun]: d.dryRun,
  }
  if (d.tool) a[ATTR.tool] = d.tool
  if (d.reviewId) a[ATTR.reviewId] = d.reviewId
  if (d.reviewTeam) a[ATTR.reviewTeam] = d.reviewTeam
  if (d.replayed) a[ATTR.replayed] = true
  return a
}

/** A resolved review's attributes: the answer, its outcome and the rules behind it, the decision's who and what. */
export function reviewAttributes(
  r: Review,
  decision: Decision | undefined,
  policyVersion: string,
): Attributes {
  const a: Attributes = {
    [ATTR.reviewId]: r.id,
    [ATTR.reviewTeam]: r.team,
    [ATTR.reviewStatus]: r.status,
    [ATTR.decisionId]: r.decisionId,
    [ATTR.agent]: r.agent,
    [ATTR.ruleIds]: ruleIds(r.outcomeReasons),
    [ATTR.policyVersion]: policyVersion,
  }
  if (r.outcome) a[ATTR.verdict] = r.outcome
  if (decision) {
    a[ATTR.team] = decision.team
    a[ATTR.actionKind] = decision.action.kind
    if (decision.tool) a[ATTR.tool] = decision.tool
  }
  return a
}

/** One delivery attempt's attributes: the channel, the messages' ids and causes, the attempt number. */
export function deliveryAttributes(channel: string, messages: OutboxMessage[]): Attributes {
  const a: Attributes = {
    [ATTR.outboxChannel]: channel,
    [ATTR.outboxMessages]: messages.length,
    // The claim counted this attempt; in a batch, the most-tried message's.
    [ATTR.outboxAttempt]: Math.max(0, ...messages.map((m) => m.attempts)),
  }
  const [only] = messages
  if (messages.length === 1 && only) {
    a[ATTR.outboxMessageId] = only.id
    if (only.reviewId) a[ATTR.reviewId] = only.reviewId
    if (only.decisionId) a[ATTR.decisionId] = only.decisionId
  }
  return a
}
