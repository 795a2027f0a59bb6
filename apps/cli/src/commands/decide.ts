import { readFile } from 'node:fs/promises'
import { loadPolicyFile, openRemit, type Policy } from '@remit/core'
import { decisionToWire } from '@remit/core/internal'
import { type Io, printDecision, UsageError } from '../output.ts'
import { openSqliteFile } from './serve.ts'

export interface DecideOptions {
  policy: string
  store: string
  agent?: string
  tool?: string
  action?: string
  attr: string[]
  account?: string
  contact?: string
  email?: string
  fact: string[]
  at?: string
  dryRun?: boolean
  idempotencyKey?: string
  request?: string
  json?: boolean
}

/** Decides one action, from flags or a JSON request body (`--request file.json`, `-` for stdin). */
export async function decide(io: Io, o: DecideOptions): Promise<number> {
  const policy = await loadPolicyFile(o.policy)
  if (!o.agent && !o.tool)
    throw new UsageError(
      'say who is asking: --agent <id> or --tool <tool>',
      `agents: ${[...policy.agents.keys()].join(', ')}`,
    )
  const body = o.request
    ? withFlags(
        requestJson(o.request, o.request === '-' ? await readStdin() : await readFile(o.request, 'utf8')),
        o,
      )
    : fromFlags(policy, o)
  const remit = await openRemit({ policy, store: openSqliteFile(o.store) })
  try {
    const d = await remit.decide(o.tool ? { tool: o.tool } : { agent: o.agent as string }, body)
    if (o.json) io.out(JSON.stringify({ ...decisionToWire(d), dryRun: d.dryRun }, null, 2))
    else printDecision(io, d)
    return 0
  } finally {
    await remit.close()
  }
}

export function fromFlags(policy: Policy, o: DecideOptions): Record<string, unknown> {
  if (!o.action)
    throw new UsageError(
      'say what the agent wants to do: --action <kind>',
      `kinds: ${[...policy.actions.keys()].join(', ')}`,
    )
  if (!o.account && !o.contact && !o.email)
    throw new UsageError('name the customer: --account, --contact or --email')
  const action: Record<string, unknown> = { kind: o.action }
  for (const [name, text] of pairs(o.attr, '--attr'))
    action[name] = typed(text, policy.attributes[name]?.type)
  const facts: Record<string, unknown> = {}
  for (const [name, text] of pairs(o.fact, '--fact')) facts[name] = typed(text, policy.facts[name]?.type)
  return {
    action,
    customer: {
      ...(o.account ? { accountId: o.account } : {}),
      ...(o.contact ? { contactId: o.contact } : {}),
      ...(o.email ? { email: o.email } : {}),
      facts,
    },
    ...(o.at ? { at: atFlag(o.at) } : {}),
    ...(o.idempotencyKey ? { idempotencyKey: o.idempotencyKey } : {}),
    ...(o.dryRun ? { dryRun: true } : {}),
  }
}

/**
 * A --request body with --at, --idempotency-key and --dry-run applied: they hold for a body as for
 * flags. A flag and a different value in the body is a usage error naming both.
 */
export function withFlags(
  body: unknown,
  o: Pick<DecideOptions, 'at' | 'idempotencyKey' | 'dryRun' | 'request'>,
): ReturnType<typeof JSON.parse> {
  const file = o.request === '-' ? 'stdin' : (o.request ?? 'the request')
  if (!body || typeof body !== 'object' || Array.isArray(body))
    throw new UsageError(
      `${file} is not a JSON object`,
      'the body of a decision request, e.g. {"action":{"kind":"…"},"customer":{"accountId":"…"}}',
    )
  const b = { ...(body as Record<string, unknown>) }
  const clash = (flag: string, value: string, key: string) =>
    new UsageError(
      `${flag}${value ? ` ${value}` : ''} conflicts with "${key}": ${JSON.stringify(b[key])} in ${file}`,
      'give one of them, or the same value in both',
    )
  if (o.at !== undefined) {
    const at = atFlag(o.at)
    if (b.at !== undefined && !(typeof b.at === 'string' && Date.parse(b.at) === Date.parse(at)))
      throw clash('--at', o.at, 'at')
    b.at = at
  }
  if (o.idempotencyKey !== undefined) {
    if (b.idempotencyKey !== undefined && b.idempotencyKey !== o.idempotencyKey)
      throw clash('--idempotency-key', o.idempotencyKey, 'idempotencyKey')
    b.idempotencyKey = o.idempotencyKey
  }
  if (o.dryRun) {
    if (b.dryRun !== undefined && b.dryRun !== true) throw clash('--dry-run', '', 'dryRun')
    b.dryRun = true
  }
  return b
}

/** --at's time, as the API takes it; anything else is a usage error (not "Invalid time value"). */
export function atFlag(text: string): string {
  // An offset (Z or ±hh:mm) is required, as the API requires it: a time without one is ambiguous.
  const ms = /(z|[+-]\d\d(:?\d\d)?)$/i.test(text.trim()) ? Date.parse(text) : Number.NaN
  if (Number.isNaN(ms))
    throw new UsageError(
      `--at wants an ISO 8601 time with an offset, e.g. 2026-04-10T10:00:00Z; got "${text}"`,
    )
  return new Date(ms).toISOString()
}

function pairs(list: string[], flag: string): [string, string][] {
  return list.map((item) => {
    const eq = item.indexOf('=')
    if (eq <= 0) throw new UsageError(`${flag} expects name=value, got "${item}"`)
    return [item.slice(0, eq), item.slice(eq + 1)]
  })
}

/** Flags are text; the policy says what each fact or attribute is, so convert by its declared type. */
function typed(text: string, type: string | undefined): unknown {
  if (type === 'number' && text.trim() !== '' && !Number.isNaN(Number(text))) return Number(text)
  if (type === 'boolean' && (text === 'true' || text === 'false')) return text === 'true'
  if (type === 'list') return text === '' ? [] : text.split(',')
  return text
}

/** A --request file's JSON; text that is not JSON is bad input, named by its file. */
export function requestJson(file: string, text: string): ReturnType<typeof JSON.parse> {
  try {
    return JSON.parse(text)
  } catch (error) {
    throw new UsageError(
      `${file === '-' ? 'stdin' : file} is not JSON: ${(error as Error).message}`,
      'the body of a decision request, e.g. {"action":{"kind":"…"},"customer":{"accountId":"…"}}',
    )
  }
}

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = []
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer)
  return Buffer.concat(chunks).toString('utf8')
}
