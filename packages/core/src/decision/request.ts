import { hash } from 'node:crypto'
import type { z } from 'zod'
import { InputError } from '../errors.ts'
import type { ActionKind, Agent, Policy } from '../policy/model.ts'
import type { TypedValue } from '../policy/schema.ts'
import { didYouMean } from '../policy/suggest.ts'
import type { Decision } from './decision.ts'
import {
  decisionRequestSchema,
  MAX_LIST_ITEMS,
  MAX_VALUE_LENGTH,
  NOT_WELL_FORMED,
  type Preview,
  wellFormed,
} from './schema.ts'

/** Who is asking: an agent id, or the tool it runs in. Never taken from the request body. */
export type Caller = string | { agent: string } | { tool: string }

/** A request checked against the policy: known agent and kind, typed attributes and facts. */
export interface ResolvedRequest {
  agent: Agent
  tool?: string
  action: ActionKind
  attributes: Record<string, unknown>
  rawAttributes: Record<string, unknown>
  customer: { accountId: string; contactId?: string; email?: string; facts: Record<string, unknown> }
  rawFacts: Record<string, unknown>
  now: Date
  /** What the customer would see, for a flag's reviewer (absent when the request sent none, or an empty one). */
  preview?: Preview
  idempotencyKey?: string
  /**
   * With an idempotency key: SHA-256 of the canonical request (who asks, the action and its
   * attributes, the customer and facts, the preview), which the key is bound to. Not `at`: a retry
   * is the same request whenever it is sent.
   */
  requestHash?: string
  /** The attributes the caller can release changed by a reviewer (the request's `acceptsChanges`). */
  acceptsChanges?: string[]
  /** With a preview: the hash of the same request without it (`DecideRequest.requestHashWithoutPreview`). */
  requestHashWithoutPreview?: string
  dryRun: boolean
}

/**
 * A logged decision's request, resolved again against `policy` as if asked at `at`: what approval
 * re-checks and what an explanation replays. One rebuild, so the two cannot drift (the explanation
 * used to drop the e-mail). Throws InputError when the policy no longer reads the decision.
 */
export function requestOf(
  policy: Policy,
  decision: Pick<Decision, 'agent' | 'tool' | 'action' | 'accountId' | 'contactId' | 'email' | 'facts'>,
  at: Date,
): ResolvedRequest {
  const req = resolveRequest(
    policy,
    decision.tool ? { tool: decision.tool } : { agent: decision.agent },
    {
      action: { kind: decision.action.kind, ...decision.action.attributes },
      customer: {
        accountId: decision.accountId,
        ...(decision.contactId ? { contactId: decision.contactId } : {}),
        ...(decision.email ? { email: decision.email } : {}),
        facts: decision.facts,
      },
      at: at.toISOString(),
    },
    () => at,
  )
  // The account the decision was made for, whatever the request would derive today.
  req.customer.accountId = decision.accountId
  return req
}

export function resolveCaller(policy: Policy, caller: Caller): { agent: Agent; tool?: string } {
  if (typeof caller === 'string' || 'agent' in caller) {
    const id = typeof caller === 'string' ? caller : caller.agent
    const agent =
      policy.agents.get(id) ??
      (policy.tools.has(id) ? policy.agents.get(policy.tools.get(id) as string) : undefined)
    if (!agent) throw unknownName('UNKNOWN_AGENT', 'agent', id, [...policy.agents.keys()], ['agent'])
    return policy.agents.has(id) ? { agent } : { agent, tool: id }
  }
  const id = policy.tools.get(caller.tool)
  if (!id) throw unknownName('UNKNOWN_TOOL', 'tool', caller.tool, [...policy.tools.keys()], ['tool'])
  return { agent: policy.agents.get(id) as Agent, tool: caller.tool }
}

export function resolveRequest(
  policy: Policy,
  caller: Caller,
  body: unknown,
  clock: () => Date,
): ResolvedRequest {
  const parsed = decisionRequestSchema.safeParse(
    body && typeof body === 'object' && (body as { at?: unknown }).at instanceof Date
      ? { ...body, at: (body as { at: Date }).at.toISOString() }
      : body,
  )
  if (!parsed.success) throw inputErrorFromZod(parsed.error)
  const req = parsed.data
  const { agent, tool } = resolveCaller(policy, caller)
  const action = policy.actions.get(req.action.kind)
  if (!action) {
    throw unknownName(
      'UNKNOWN_ACTION',
      'action kind',
      req.action.kind,
      [...policy.actions.keys()],
      ['action', 'kind'],
    )
  }
  const { kind: _kind, ...rawAttributes } = req.action
  const attributes: Record<string, unknown> = {}
  for (const [name, v] of Object.entries(rawAttributes)) {
    const declared = Object.hasOwn(action.attributes, name) ? action.attributes[name] : undefined
    if (!declared) {
      throw unknownName(
        'UNKNOWN_ATTRIBUTE',
        `attribute of ${action.kind}`,
        name,
        Object.keys(action.attributes),
        ['action', name],
      )
    }
    attributes[name] = typed(declared, v, ['action', name])
    // A budget (a limit's `sum:`) is spent, never refilled by the caller: a negative amount would
    // let the next action through over the cap.
    if ((attributes[name] as number) < 0 && budgetAttributes(policy).has(name))
      throw new InputError('BAD_VALUE', 'must not be negative: a limit counts it against a budget (sum:)', [
        'action',
        name,
      ])
  }
  for (const [name, declared] of Object.entries(action.attributes)) {
    if (!declared.optional && attributes[name] === undefined) {
      throw new InputError(
        'MISSING_ATTRIBUTE',
        `${action.kind} needs attribute "${name}" (${declared.type})`,
        ['action', name],
      )
    }
  }
  // A name the action lacks would quietly let a reviewer change nothing: said, as an attribute's is.
  for (const [i, name] of (req.acceptsChanges ?? []).entries())
    if (!Object.hasOwn(action.attributes, name))
      throw unknownName(
        'UNKNOWN_ATTRIBUTE',
        `attribute of ${action.kind}`,
        name,
        Object.keys(action.attributes),
        ['acceptsChanges', i],
      )
  const facts: Record<string, unknown> = {}
  for (const [name, v] of Object.entries(req.customer.facts)) {
    const declared = Object.hasOwn(policy.facts, name) ? policy.facts[name] : undefined
    if (!declared) {
      throw unknownName('UNKNOWN_FACT', 'fact', name, Object.keys(policy.facts), ['customer', 'facts', name])
    }
    if (v === null || v === undefined) continue
    facts[name] = typed(declared, v, ['customer', 'facts', name])
  }
  const c = req.customer
  // An empty preview is none: it shows the reviewer nothing, and must not make a retry another request.
  const parts = Object.entries(req.preview ?? {}).filter(([, v]) => v !== undefined)
  const preview = parts.length ? (Object.fromEntries(parts) as Preview) : undefined
  const accountId =
    c.accountId ?? (c.contactId ? `contact:${c.contactId}` : `email:${(c.email as string).toLowerCase()}`)
  return {
    agent,
    ...(tool ? { tool } : {}),
    action,
    attributes,
    rawAttributes,
    customer: {
      accountId,
      ...(c.contactId ? { contactId: c.contactId } : {}),
      ...(c.email ? { email: c.email } : {}),
      facts,
    },
    rawFacts: req.customer.facts,
    now: req.at ? new Date(req.at) : clock(),
    ...(preview ? { preview } : {}),
    ...(req.acceptsChanges?.length ? { acceptsChanges: [...new Set(req.acceptsChanges)] } : {}),
    ...(req.idempotencyKey
      ? {
          idempotencyKey: req.idempotencyKey,
          requestHash: requestHash(agent.id, tool, req.action, req.customer, preview),
          // A key a release before previews stored (a flow's retry across the upgrade) still replays.
          ...(preview
            ? { requestHashWithoutPreview: requestHash(agent.id, tool, req.action, req.customer) }
            : {}),
        }
      : {}),
    dryRun: req.dryRun,
  }
}

/**
 * SHA-256 of the request in one canonical form: who asks, the action's kind and attributes, the
 * customer's ids and facts, then the preview when there is one, with attributes, facts and preview
 * parts in name order (equal requests hash equal, whatever the key order they were sent in). A
 * request with no preview hashes as it did before previews existed, so keys stored then still
 * replay. On every decision with a key, so kept flat: ~1 µs (plus the preview's bytes).
 */
export function requestHash(
  agent: string,
  tool: string | undefined,
  action: Record<string, unknown>,
  customer: { accountId?: string; contactId?: string; email?: string; facts: Record<string, unknown> },
  preview?: Preview,
): string {
  const sorted = (m: Record<string, unknown>) =>
    Object.keys(m)
      .sort()
      .map((k) => [k, m[k]])
  return hash(
    'sha256',
    JSON.stringify([
      agent,
      tool ?? null,
      sorted(action),
      customer.accountId ?? null,
      customer.contactId ?? null,
      customer.email ?? null,
      sorted(customer.facts),
      ...(preview ? [sorted(preview)] : []),
    ]),
  )
}

const EARLIEST = Date.UTC(1970, 0, 1)
const LATEST = Date.UTC(9999, 11, 31, 23, 59, 59, 999)

/** A fact's or attribute's text: at most MAX_VALUE_LENGTH characters of well-formed Unicode. */
function bounded(v: string, path: (string | number)[]): void {
  if (v.length > MAX_VALUE_LENGTH)
    throw new InputError('BAD_REQUEST', `strings of at most ${MAX_VALUE_LENGTH} characters`, path)
  if (!wellFormed(v)) throw new InputError('BAD_REQUEST', NOT_WELL_FORMED, path)
}

/** Checks a value against its declared type and converts it for CEL (timestamps become Dates). */
export function typed(declared: TypedValue, v: unknown, path: (string | number)[]): unknown {
  const fail = (expected: string): never => {
    throw new InputError('BAD_TYPE', `expected ${expected}, got ${JSON.stringify(v)}`, path)
  }
  switch (declared.type) {
    case 'string':
      if (typeof v !== 'string') fail('a string')
      bounded(v as string, path)
      if (declared.enum && !declared.enum.includes(v as string)) {
        fail(`one of ${declared.enum.map((e) => JSON.stringify(e)).join(', ')}`)
      }
      return v
    case 'number':
      if (typeof v !== 'number' || !Number.isFinite(v)) fail('a number')
      return v
    case 'boolean':
      if (typeof v !== 'boolean') fail('true or false')
      return v
    case 'timestamp': {
      const d = v instanceof Date ? v : typeof v === 'string' ? new Date(v) : undefined
      if (!d || Number.isNaN(d.getTime())) fail('an ISO 8601 time')
      // Rules add durations to times; near the end of Date's range that overflows. Years 1970–9999.
      const ms = (d as Date).getTime()
      if (ms < EARLIEST || ms > LATEST) fail('a time between 1970-01-01 and 9999-12-31')
      return d
    }
    case 'list':
      if (!Array.isArray(v) || !v.every((x) => typeof x === 'string')) fail('a list of strings')
      if ((v as string[]).length > MAX_LIST_ITEMS)
        throw new InputError('BAD_REQUEST', `at most ${MAX_LIST_ITEMS} items`, path)
      for (const [i, item] of (v as string[]).entries()) bounded(item, [...path, i])
      return v
  }
}

export function unknownName(
  code: string,
  what: string,
  name: string,
  known: string[],
  path: (string | number)[],
) {
  return new InputError(
    code,
    `unknown ${what} "${name}"`,
    path,
    didYouMean(name, known) ?? `known: ${known.join(', ') || 'none'}`,
  )
}

export function inputErrorFromZod(error: z.ZodError): InputError {
  const issue = error.issues[0] as z.core.$ZodIssue
  const path = issue.path.map((p) => (typeof p === 'symbol' ? String(p) : p))
  if (issue.code === 'unrecognized_keys') {
    return new InputError('UNKNOWN_FIELD', `unknown field "${issue.keys[0]}"`, [
      ...path,
      issue.keys[0] as string,
    ])
  }
  return new InputError('BAD_REQUEST', issue.message.replace(/^Invalid input: /, ''), path)
}

/** The attributes a limit sums (`sum:`), per policy version: read once, not on every request. */
const budgets = new WeakMap<Policy, ReadonlySet<string>>()
export function budgetAttributes(policy: Policy): ReadonlySet<string> {
  let names = budgets.get(policy)
  if (!names) {
    names = new Set(policy.rules.flatMap((r) => (r.sort === 'limit' && r.sum !== undefined ? [r.sum] : [])))
    budgets.set(policy, names)
  }
  return names
}
