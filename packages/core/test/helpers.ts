import { readFileSync } from 'node:fs'
import { loadPolicy, openRemit, openSqliteStore, type Policy, type Remit } from '../src/index.ts'

export const seedPolicyText = readFileSync(
  new URL('../../../examples/seed-week/remit.yaml', import.meta.url),
  'utf8',
)
export const seedPolicy: Policy = loadPolicy(seedPolicyText, { file: 'examples/seed-week/remit.yaml' })

export const MON = '2026-04-06T09:00:00Z'
export function at(hoursAfterMonday: number): string {
  return new Date(Date.parse(MON) + hoursAfterMonday * 3600e3).toISOString()
}

export async function engine(policy: Policy | string = seedPolicy): Promise<Remit> {
  return openRemit({
    policy: typeof policy === 'string' ? loadPolicy(policy) : policy,
    store: openSqliteStore(':memory:'),
    clock: () => new Date(MON),
  })
}

export const acme = {
  accountId: 'acme',
  contactId: 'acme-jane',
  email: 'jane@acme.example',
  facts: { lifecycle: 'renewal', tier: 'enterprise' },
}
export const globex = {
  accountId: 'globex',
  contactId: 'globex-omar',
  facts: { lifecycle: 'customer', tier: 'smb' },
}
export const initech = { accountId: 'initech', facts: { lifecycle: 'prospect', tier: 'smb' } }

export const rules = (d: { reasons: { rule: string }[] }) => d.reasons.map((r) => r.rule)
