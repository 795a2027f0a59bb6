import { readFile } from 'node:fs/promises'
import { loadPolicyFile, openRemit, openSqliteStore, type Policy } from '@remit/core'
import { decisionToWire } from '@remit/core/internal'
import { type Io, printDecision, UsageError } from '../output.ts'

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
    ? requestJson(o.request, o.request === '-' ? await readStdin() : await readFile(o.request, 'utf8'))
    : fromFlags(policy, o)
  const remit = await openRemit({ policy, store: openSqliteStore(o.store) })
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
    ...(o.at ? { at: new Date(o.at).toISOString() } : {}),
    ...(o.idempotencyKey ? { idempotencyKey: o.idempotencyKey } : {}),
    ...(o.dryRun ? { dryRun: true } : {}),
  }
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
