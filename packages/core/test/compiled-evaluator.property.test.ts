import { describe, expect, it } from 'vitest'
import { celVariables, evaluateInterpreted } from '../src/evaluate/evaluate.ts'
import {
  EVALUATION_BUDGET,
  type EvaluationInput,
  evaluate,
  loadPolicy,
  type Policy,
  type Touch,
} from '../src/index.ts'
import { BAIL } from '../src/policy/lower.ts'
import { decisionSteps, withinDecision } from '../src/policy/meter.ts'

// The compiled evaluator (lowered conditions, one pass over the ledger for every limit) must say
// exactly what the interpreter says: same verdict, reasons, notify, retryAfter, owner, aborted. Random
// policies from a grammar of the conditions rules are written in, random requests and ledgers, both
// paths, whole evaluations compared. Seeded, so a failure names the seed and case that reproduce it.

const POLICIES = 150
const INPUTS_PER_POLICY = 25

/** A small, fast PRNG (mulberry32): the same seed makes the same policies and inputs. */
function prng(seed: number) {
  let a = seed >>> 0
  const next = () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
  const int = (n: number) => Math.floor(next() * n)
  const pick = <T>(xs: readonly T[]): T => xs[int(xs.length)] as T
  const chance = (p: number) => next() < p
  return { next, int, pick, chance }
}
type Random = ReturnType<typeof prng>

const TEAMS = ['growth', 'care']
const AGENTS = { 'growth-1': 'growth', 'growth-2': 'growth', 'care-1': 'care' } as const
const KINDS = ['email.promo', 'email.nudge', 'sms.ping', 'call.log'] as const
const NOW = Date.parse('2026-03-04T15:30:00Z')
const HOUR = 3600e3
const DAY = 24 * HOUR
/** Midnight in Paris (the calendar limits' zone) on Monday 2 March: a calendar week's and day's start. */
const PARIS_MONDAY = Date.parse('2026-03-01T23:00:00Z')

/** One atom of a condition: most of them lowered, some left to cel-js (size(), startsWith, map index). */
function atom(r: Random, inTouch: boolean): string {
  if (inTouch) {
    return r.pick([
      `t.kind == '${r.pick(KINDS)}'`,
      `t.team == '${r.pick(TEAMS)}'`,
      `t.channel != 'sms'`,
      `t.outbound`,
      `now - t.at < duration('${r.pick(['6h', '1d', '36h', '3d'])}')`,
      `t.at > now - duration('${r.pick(['12h', '2d'])}')`,
      `t.status == 'sent'`,
      `t.contactId == customer.contactId`,
      `t.agent in ['growth-1', 'care-1']`,
      `t.tool == ''`,
      `t.email == customer.email`,
    ])
  }
  return r.pick([
    `customer.tier == '${r.pick(['gold', 'silver', 'bronze'])}'`,
    `customer.tier in ['gold', 'silver']`,
    `customer.score < ${r.pick(['10.0', '50.0', '90.0'])}`,
    `customer.score >= 50.0`,
    `customer.vip`,
    `!customer.vip`,
    `has(customer.since)`,
    `has(customer.region) && customer.region != 'eu'`,
    `customer.region == 'eu'`,
    `now - customer.since < duration('${r.pick(['2d', '30d'])}')`,
    `customer.since > timestamp('2026-01-01T00:00:00Z')`,
    `now < customer.since + duration('7d')`,
    `action.amount > ${r.pick(['10.0', '100.0'])}`,
    `has(action.campaign)`,
    `action.campaign == 'spring'`,
    `action.kind == '${r.pick(KINDS)}'`,
    `action.channel == 'email'`,
    `agent.team == '${r.pick(TEAMS)}'`,
    `agent.id != 'growth-2'`,
    `agent.tool == 'api:growth-1'`,
    `customer.id == customer.accountId`,
    `has(customer.email)`,
    `customer.vip ? customer.score > 20.0 : customer.score > 80.0`,
    `touches.exists(t, ${condition(r, 1, true)})`,
    `touches.all(t, ${condition(r, 1, true)})`,
    `touches.filter(t, ${atom(r, true)}).size() >= ${r.int(3)}`,
    `customer.tier.startsWith('g')`,
    `touches.exists(t, t.attributes['campaign'] == 'spring')`,
    `now.getHours('Europe/Paris') >= 9`,
  ])
}

function condition(r: Random, depth: number, inTouch = false): string {
  if (depth >= 3 || r.chance(0.45)) return atom(r, inTouch)
  const left = condition(r, depth + 1, inTouch)
  const right = condition(r, depth + 1, inTouch)
  return r.pick([`${left} && ${right}`, `${left} || ${right}`, `!(${left})`, `(${left}) && !(${right})`])
}

const q = (s: string) => JSON.stringify(s)

function scope(r: Random): string[] {
  return [
    r.chance(0.3) ? `team: ${r.pick(TEAMS)}` : '',
    r.chance(0.3) ? `action: ${r.pick(KINDS)}` : '',
    r.chance(0.2) ? 'channel: email' : '',
    r.chance(0.2) ? 'outbound: true' : '',
  ]
}

/** One rule, as a YAML flow mapping of the parts that are there. */
const rule = (...parts: (string | string[])[]) => `  - { ${parts.flat().filter(Boolean).join(', ')} }`

function randomPolicy(r: Random): string {
  const lines = [
    'version: 1',
    'teams: { growth: {}, care: {} }',
    'agents:',
    ...Object.entries(AGENTS).map(([id, team]) => `  ${id}: { team: ${team}, tools: ["api:${id}"] }`),
    'facts:',
    '  tier: { type: string }',
    '  score: { type: number }',
    '  vip: { type: boolean }',
    '  since: { type: timestamp, optional: true }',
    '  region: { type: string, optional: true }',
    'actions:',
    '  email.promo: { channel: email, priority: 3, attributes: { amount: { type: number, optional: true }, campaign: { type: string, optional: true } } }',
    '  email.nudge: { channel: email, attributes: { campaign: { type: string, optional: true } } }',
    '  sms.ping: { channel: sms }',
    '  call.log: { channel: phone, outbound: false }',
  ]
  const n = () => r.int(4)
  lines.push('stops:')
  for (let i = 0, k = n(); i < k; i++) {
    lines.push(rule(`id: stop-${i}`, scope(r), `when: ${q(condition(r, 0))}`))
  }
  lines.push('triggers:')
  for (let i = 0, k = n(); i < k; i++) {
    const stop = r.chance(0.4)
    lines.push(
      rule(
        `id: trigger-${i}`,
        scope(r),
        `when: ${q(condition(r, 0))}`,
        `then: ${stop ? 'stop' : 'flag'}`,
        stop && r.chance(0.5) ? `until: ${q("now + duration('2h')")}` : '',
        r.chance(0.3) ? 'notify: [care]' : '',
      ),
    )
  }
  lines.push('limits:')
  for (let i = 0, k = n(); i < k; i++) {
    const calendar = r.chance(0.25)
    const per = calendar
      ? `calendar-${r.pick(['day', 'week'])}, zone: Europe/Paris`
      : r.pick(['6h', '24h', '3d', '7d'])
    const extra = [
      r.chance(0.3) ? 'scope: contact' : '',
      r.chance(0.3) ? `when: ${q(condition(r, 1))}` : '',
      r.chance(0.2) ? 'except: { action: call.log }' : '',
      r.chance(0.3) ? `then: ${r.pick(['flag', 'stop'])}` : '',
    ]
    const kind = r.int(6)
    const max = 1 + r.int(4)
    const measure =
      kind === 0
        ? `distinct: campaign, max: ${max}`
        : kind === 1
          ? `sum: amount, max: ${50 * max}`
          : kind === 2 && max > 1
            ? `max: ${max}, reserve: { slots: 1, minPriority: 2 }`
            : `max: ${r.int(5)}`
    // A distinct or sum limit counts only kinds that declare its attribute.
    const kinds =
      kind === 0 ? ['action: [email.promo, email.nudge]'] : kind === 1 ? ['action: email.promo'] : []
    const where = kinds.length
      ? [...scope(r).filter((part) => !part.startsWith('action')), ...kinds]
      : scope(r)
    lines.push(rule(`id: limit-${i}`, where, measure, `per: ${per}`, extra))
  }
  lines.push('ownership:')
  for (let i = 0, k = r.int(3); i < k; i++) {
    lines.push(
      rule(
        `id: own-${i}`,
        `when: ${q(condition(r, 1))}`,
        `owner: ${r.pick(TEAMS)}`,
        r.chance(0.3) ? 'then: stop' : '',
      ),
    )
  }
  lines.push('permissions:')
  for (let i = 0, k = 1 + n(); i < k; i++) {
    lines.push(rule(`id: perm-${i}`, scope(r), r.chance(0.6) ? `when: ${q(condition(r, 1))}` : ''))
  }
  lines.push('review: { defaultTeam: care }')
  // A list left with no rules is an empty list, not null.
  return `${lines.join('\n')}\n`.replace(/^(\w+):\n(?! )/gm, '$1: []\n')
}

function randomTouch(r: Random, i: number): Touch {
  const agent = r.pick(Object.keys(AGENTS)) as keyof typeof AGENTS
  const kind = r.pick(KINDS)
  const touch: Touch = {
    id: `t-${i}`,
    accountId: 'acme',
    kind,
    outbound: kind !== 'call.log',
    // Within a week, some a little after now (reserved by a decider that got the lock first), some
    // exactly on a window's edge: at the start of a calendar day, or whole hours before now.
    at: new Date(
      r.chance(0.15) ? PARIS_MONDAY + r.int(4) * DAY : NOW - r.int(8 * 24) * HOUR + r.int(2) * HOUR,
    ),
    status: r.pick(['sent', 'sent', 'reserved']),
    source: r.pick(['decision', 'recorded']),
  }
  if (r.chance(0.9)) touch.agent = agent
  if (r.chance(0.9)) touch.team = AGENTS[agent]
  if (kind !== 'call.log') touch.channel = kind.startsWith('sms') ? 'sms' : 'email'
  if (r.chance(0.6)) touch.contactId = r.pick(['jane', 'omar'])
  if (r.chance(0.3)) touch.email = r.pick(['jane@acme.example', 'omar@acme.example'])
  if (r.chance(0.5)) touch.attributes = { campaign: r.pick(['spring', 'summer', 'fall']), amount: r.int(120) }
  return touch
}

function randomInput(r: Random, policy: Policy): EvaluationInput {
  const agentId = r.pick(Object.keys(AGENTS))
  const kind = r.pick(KINDS)
  const attributes: Record<string, unknown> = {}
  if (kind === 'email.promo' && r.chance(0.7)) attributes.amount = r.pick([5, 40, 150])
  if (kind.startsWith('email') && r.chance(0.6)) attributes.campaign = r.pick(['spring', 'summer', 'winter'])
  const facts: Record<string, unknown> = {}
  // Facts as a validated request carries them, and now and then as one that was not (a missing
  // required fact, a number as a string): both paths must fail the same way.
  if (r.chance(0.95)) facts.tier = r.pick(['gold', 'silver', 'bronze'])
  if (r.chance(0.95)) facts.score = r.chance(0.03) ? '42' : r.int(100)
  if (r.chance(0.95)) facts.vip = r.chance(0.5)
  if (r.chance(0.6)) facts.since = new Date(NOW - r.int(40) * DAY)
  if (r.chance(0.5)) facts.region = r.pick(['eu', 'us'])
  const customer: EvaluationInput['customer'] = { accountId: 'acme', facts }
  if (r.chance(0.7)) customer.contactId = r.pick(['jane', 'omar'])
  if (r.chance(0.4)) customer.email = 'jane@acme.example'
  return {
    agent: policy.agents.get(agentId) as EvaluationInput['agent'],
    ...(r.chance(0.5) ? { tool: `api:${agentId}` } : {}),
    action: policy.actions.get(kind) as EvaluationInput['action'],
    attributes,
    customer,
    // Often on the half hour the touches were, so that `now - t.at` meets a window's length exactly.
    now: new Date(NOW + (r.chance(0.5) ? 0 : r.int(60) * 60e3)),
    touches: Array.from({ length: r.int(12) }, (_, i) => randomTouch(r, i)),
    commitments: [],
  }
}

/** How many of a policy's conditions have a lowered form, and how many run on cel-js. */
function lowering(policy: Policy): { lowered: number; interpreted: number } {
  const expressions = policy.rules.flatMap((rule) => (rule.when ? [rule.when] : []))
  const lowered = expressions.filter((e) => e.lowered).length
  return { lowered, interpreted: expressions.length - lowered }
}

describe('the compiled evaluator', () => {
  // Deterministic (seeded), and CPU-bound: 10–20 s on a quiet machine, more beside other suites.
  it('gives the interpreter’s evaluation for random policies, requests and ledgers', {
    timeout: 120_000,
  }, () => {
    const seen = { go: 0, flag: 0, stop: 0, lowered: 0, interpreted: 0, cases: 0 }
    for (let p = 0; p < POLICIES; p++) {
      const seed = 1000 + p
      const r = prng(seed)
      const text = randomPolicy(r)
      const policy = loadPolicy(text, { file: `random-${seed}.yaml` })
      const count = lowering(policy)
      seen.lowered += count.lowered
      seen.interpreted += count.interpreted
      for (let i = 0; i < INPUTS_PER_POLICY; i++) {
        const input = randomInput(r, policy)
        const mode = r.chance(0.2) ? 'approve' : 'decide'
        const expected = evaluateInterpreted(policy, input, mode)
        const actual = evaluate(policy, input, mode)
        expect(actual, `seed ${seed}, input ${i} (${mode})\n${text}`).toEqual(expected)
        seen[expected.verdict]++
        seen.cases++
      }
    }
    // The generator must exercise what it claims to: every verdict, and both paths of conditions.
    expect(seen.cases).toBe(POLICIES * INPUTS_PER_POLICY)
    expect(Math.min(seen.go, seen.flag, seen.stop)).toBeGreaterThan(seen.cases / 20)
    expect(seen.lowered).toBeGreaterThan(2 * seen.interpreted)
    expect(seen.interpreted).toBeGreaterThan(0)
  })
})

describe('budgets under the compiled evaluator', () => {
  it('bounds each lowered condition by at least the steps cel-js spends on it', () => {
    let compared = 0
    for (let p = 0; p < 40; p++) {
      const r = prng(5000 + p)
      const policy = loadPolicy(randomPolicy(r), { file: 'random.yaml' })
      for (let i = 0; i < 10; i++) {
        const input = randomInput(r, policy)
        const vars = celVariables(input, true)
        for (const rule of policy.rules) {
          const lowered = rule.when?.lowered
          if (!rule.when || !lowered) continue
          try {
            lowered.run(input)
          } catch (error) {
            if (error === BAIL) continue
            throw error
          }
          const bound = lowered.maxSteps(input)
          const spent = withinDecision(() => {
            rule.when?.run(vars)
            return decisionSteps()
          })
          expect(bound, rule.when.source).toBeGreaterThanOrEqual(spent)
          compared++
        }
      }
    }
    expect(compared).toBeGreaterThan(500)
  })

  it('cuts off a lowered condition over a ledger too long for its budget, as cel-js does', () => {
    const policy = loadPolicy(
      `version: 1
teams: { growth: {} }
agents: { growth-1: { team: growth, tools: ["api:growth-1"] } }
actions: { email.promo: { channel: email } }
stops:
  - { id: never-sent, when: "touches.exists(t, t.kind == 'never.sent' && t.team == 'nobody')" }
permissions:
  - { id: growth-mails, team: growth }
review: { defaultTeam: growth }
`,
      { file: 'long-ledger.yaml' },
    )
    expect(policy.rules[0]?.when?.lowered).toBeDefined()
    const input = (touches: number): EvaluationInput => ({
      agent: policy.agents.get('growth-1') as EvaluationInput['agent'],
      action: policy.actions.get('email.promo') as EvaluationInput['action'],
      attributes: {},
      customer: { accountId: 'acme', facts: {} },
      now: new Date(NOW),
      touches: Array.from({ length: touches }, (_, i) => ({
        id: `t-${i}`,
        accountId: 'acme',
        kind: 'email.promo',
        team: 'growth',
        channel: 'email',
        outbound: true,
        at: new Date(NOW - HOUR),
        status: 'sent' as const,
        source: 'decision' as const,
      })),
      commitments: [],
    })
    const short = input(1_000)
    expect(evaluate(policy, short)).toEqual(evaluateInterpreted(policy, short))
    expect(evaluate(policy, short).verdict).toBe('go')
    // Enough touches that cel-js runs out of steps walking them: the verdict is its abort, a stop.
    const long = input(Math.ceil(EVALUATION_BUDGET / 5))
    const aborted = evaluate(policy, long)
    expect(aborted).toEqual(evaluateInterpreted(policy, long))
    expect(aborted.verdict).toBe('stop')
    expect(aborted.aborted?.map((a) => a.code)).toEqual(['BUDGET_EXCEEDED'])
  })
})
