// A synthetic month of attempted touches for a three-team company (marketing, sales, support),
// deterministic (seeded), written as NDJSON for `remit replay`. Run: node generate.ts [out] [events]
import { createWriteStream } from 'node:fs'
import { fileURLToPath } from 'node:url'

export interface MonthOptions {
  /** How many attempts (recorded touches come on top). Default 6,000: one April. */
  attempts?: number
  accounts?: number
  seed?: number
  start?: string
}

/** Yields NDJSON lines in time order. */
export function* month(o: MonthOptions = {}): Generator<string> {
  const attempts = o.attempts ?? 6000
  const accounts = o.accounts ?? 400
  let seed = o.seed ?? 20260401
  const rand = () => {
    seed = (Math.imul(seed, 1664525) + 1013904223) >>> 0
    return seed / 2 ** 32
  }
  const pick = <T>(xs: readonly T[]) => xs[Math.floor(rand() * xs.length)] as T
  const start = Date.parse(o.start ?? '2026-04-01T00:00:00Z')
  const span = 30 * 86400e3
  // Accounts: a tenth in renewal, a fifth enterprise, some prospects.
  const account = (i: number) => ({
    accountId: `acct-${String(i).padStart(4, '0')}`,
    facts: {
      lifecycle: i % 10 === 0 ? 'renewal' : i % 7 === 0 ? 'prospect' : 'customer',
      tier: i % 5 === 0 ? 'enterprise' : 'smb',
    },
  })
  const tickets = new Map<string, number>()
  const step = span / attempts
  for (let n = 0; n < attempts; n++) {
    // Business hours, weekdays heavier: campaigns go out in bursts.
    const at = start + n * step
    const day = new Date(at).getUTCDay()
    const a = account(Math.floor(rand() * accounts))
    // Now and then a customer opens a ticket (a fact from then on) or talks to sales (a recorded touch).
    if (rand() < 0.02) tickets.set(a.accountId, at)
    if (rand() < 0.05) {
      yield JSON.stringify({
        at: new Date(at).toISOString(),
        touch: { accountId: a.accountId, kind: 'call', channel: 'phone', team: 'sales', outbound: false },
      })
    }
    const ticket = tickets.get(a.accountId)
    const facts = {
      ...a.facts,
      ...(ticket !== undefined ? { lastTicketOpenedAt: new Date(ticket).toISOString() } : {}),
    }
    const campaign = day >= 1 && day <= 4 && rand() < 0.6
    const r = rand()
    const attempt =
      campaign || r < 0.45
        ? {
            tool: 'hubspot:workflow/1001',
            action: { kind: rand() < 0.05 ? 'email.cold_prospect' : 'email.positioning' },
          }
        : r < 0.75
          ? {
              tool: 'salesforce:flow/Renewal_Offer',
              action: { kind: 'offer.discount', discountPct: pick([5, 10, 10, 15, 20, 25]) },
            }
          : { tool: 'hubspot:workflow/2002', action: { kind: 'sequence.winback' } }
    yield JSON.stringify({
      at: new Date(at).toISOString(),
      ...attempt,
      customer: { accountId: a.accountId, facts },
      ref: `h${n}`,
    })
  }
}

export async function writeMonth(path: string, o: MonthOptions = {}): Promise<void> {
  const out = createWriteStream(path)
  for (const line of month(o))
    if (!out.write(`${line}\n`)) await new Promise<void>((r) => out.once('drain', () => r()))
  await new Promise<void>((r) => out.end(() => r()))
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const path = process.argv[2] ?? fileURLToPath(new URL('history.ndjson', import.meta.url))
  await writeMonth(path, process.argv[3] ? { attempts: Number(process.argv[3]) } : {})
  console.log(`wrote ${path}`)
}
