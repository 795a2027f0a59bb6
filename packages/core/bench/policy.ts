// A 100-rule policy for benchmarks: 5 teams, 10 agents, 20 action kinds, rules scoped the way real
// teams write them (by team and kind), a few reading the ledger. Deterministic.
export const TEAMS = ['marketing', 'sales', 'support', 'success', 'partners'] as const
export const AGENTS = TEAMS.flatMap((team) => [`${team}-agent-1`, `${team}-agent-2`])
export const KINDS = Array.from(
  { length: 20 },
  (_, i) => `${['email', 'offer', 'sequence', 'sms'][i % 4]}.k${i}`,
)

export function benchPolicy(): string {
  const lines: string[] = ['version: 1', 'teams:']
  for (const t of TEAMS) lines.push(`  ${t}: { reviewCapacityPerDay: 50 }`)
  lines.push('agents:')
  for (const a of AGENTS) lines.push(`  ${a}: { team: ${a.replace(/-agent-\d$/, '')}, tools: ["api:${a}"] }`)
  lines.push(
    'facts:',
    '  lifecycle: { type: string, enum: [prospect, customer, renewal, churned] }',
    '  tier: { type: string, enum: [smb, midmarket, enterprise] }',
    '  region: { type: string }',
    '  score: { type: number }',
    '  lastTicketOpenedAt: { type: timestamp, optional: true }',
    'actions:',
  )
  KINDS.forEach((k, i) => {
    const attrs = k.startsWith('offer.') ? ', commitment: discount, attributes: { discountPct: number }' : ''
    lines.push(
      `  ${k}: { channel: ${k.split('.')[0] === 'sms' ? 'sms' : 'email'}, outbound: ${i % 5 !== 4}${attrs} }`,
    )
  })
  let n = 0
  const team = (i: number) => TEAMS[i % TEAMS.length]
  const kind = (i: number) => KINDS[i % KINDS.length]
  lines.push('stops:')
  for (let i = 0; i < 20; i++, n++) {
    const when =
      i % 4 === 0
        ? `touches.exists(t, t.team == '${team(i + 1)}' && now - t.at < duration('24h'))`
        : i % 4 === 1
          ? "customer.tier == 'enterprise' && customer.lifecycle == 'churned'"
          : i % 4 === 2
            ? `customer.region == 'r${i}' && customer.score < 10.0`
            : "customer.lifecycle == 'prospect' && customer.score > 95.0"
    lines.push(`  - { id: stop-${i}, team: ${team(i)}, action: ${kind(i * 3)}, when: "${when}" }`)
  }
  lines.push('triggers:')
  lines.push(`  - { id: renewal-flag, when: "customer.lifecycle == 'renewal'", then: flag }`)
  lines.push(
    `  - { id: ticket-pause, outbound: true, then: stop, when: "has(customer.lastTicketOpenedAt) && now - customer.lastTicketOpenedAt < duration('48h')", until: "customer.lastTicketOpenedAt + duration('48h')" }`,
  )
  n += 2
  for (let i = 0; i < 18; i++, n++) {
    lines.push(
      `  - { id: trig-${i}, team: ${team(i)}, action: ${kind(i * 7)}, then: ${i % 3 ? 'flag' : 'stop'}, when: "customer.score > ${90 + (i % 10)}.0 && customer.region != 'r0'" }`,
    )
  }
  lines.push('limits:')
  lines.push('  - { id: outbound-cap, outbound: true, max: 500, per: 72h }')
  n++
  for (let i = 0; i < 9; i++, n++) {
    lines.push(`  - { id: limit-${i}, team: ${team(i)}, channel: email, max: ${400 + i}, per: ${24 + i}h }`)
  }
  lines.push('ownership:')
  for (let i = 0; i < 5; i++, n++) {
    lines.push(`  - { id: own-${i}, when: "customer.region == 'owner-r${i}'", owner: ${team(i)} }`)
  }
  lines.push('permissions:')
  for (let i = 0; i < 45; i++, n++) {
    const when =
      i % 3 === 0
        ? ', when: "action.discountPct <= 15.0"'
        : i % 3 === 1
          ? `, when: "customer.lifecycle != 'churned'"`
          : ''
    const k = kind(i)
    const w = k?.startsWith('offer.') || i % 3 !== 0 ? when : ''
    lines.push(`  - { id: perm-${i}, team: ${team(i)}, action: ${k}${w} }`)
  }
  lines.push('review: { defaultTeam: sales, expiresAfter: 72h }')
  if (n !== 100) throw new Error(`bench policy has ${n} rules, not 100`)
  return `${lines.join('\n')}\n`
}
