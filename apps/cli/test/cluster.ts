import { randomBytes } from 'node:crypto'
import { copyFileSync, mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { generateKey, keyLine } from '@remit/server'
import pg from 'pg'
import { type ServeProcess, startServe } from './serve-process.ts'

export const postgresUrl = process.env.REMIT_TEST_POSTGRES ?? 'postgres://postgres@127.0.0.1:5432/test'

export type Instance = ServeProcess

/** Policy, keys and a fresh PostgreSQL schema for a cluster of `remit serve` processes. */
export function clusterFiles() {
  const dir = mkdtempSync(join(tmpdir(), 'remit-cluster-'))
  const policy = join(dir, 'remit.yaml')
  copyFileSync(new URL('../../../examples/seed-week/remit.yaml', import.meta.url), policy)
  const key = generateKey()
  const keys = join(dir, 'keys.yaml')
  writeFileSync(keys, `${keyLine({ name: 'mkt', agent: 'marketing-agent' }, key)}\n`)
  const schema = `remit_c_${randomBytes(5).toString('hex')}`
  return { dir, policy, keys, key, schema, store: `${postgresUrl}?schema=${schema}` }
}

/** Starts `remit serve` as a separate process; resolves once it listens. */
export function startInstance(files: ReturnType<typeof clusterFiles>): Promise<Instance> {
  return startServe(['--policy', files.policy, '--store', files.store, '--keys', files.keys])
}

export async function dropSchema(schema: string): Promise<void> {
  const client = new pg.Client(postgresUrl)
  await client.connect()
  await client.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`)
  await client.end()
}

export interface Answer {
  key: string
  accountId: string
  id: string
  verdict: string
}

/**
 * `callers` concurrent callers send `total` decisions over `accounts` accounts, each to a random
 * instance; a call whose connection fails is retried on another instance with the same idempotency
 * key, as @remit/client does. `during` runs once, when `at` of the load has been answered.
 */
export async function load(
  instances: Instance[],
  o: { key: string; callers: number; total: number; accounts: number; at?: number; during?: () => void },
): Promise<{ answers: Answer[]; connectionFailures: number }> {
  const answers: Answer[] = []
  let next = 0
  let connectionFailures = 0
  let fired = false
  const live = new Set(instances)
  const caller = async () => {
    for (let i = next++; i < o.total; i = next++) {
      // Consecutive calls share an account, so each account's calls are in flight at the same time.
      const accountId = `acct-${Math.floor((i * o.accounts) / o.total)}`
      const key = `load-${i}`
      for (let attempt = 0; ; attempt++) {
        const pool = [...live]
        const target = pool[(i + attempt) % pool.length] as Instance
        try {
          const res = await fetch(`${target.url}/v1/decisions`, {
            method: 'POST',
            headers: { authorization: `Bearer ${o.key}`, 'content-type': 'application/json' },
            body: JSON.stringify({
              action: { kind: 'email.positioning' },
              customer: { accountId, facts: { lifecycle: 'customer', tier: 'smb' } },
              idempotencyKey: key,
            }),
            signal: AbortSignal.timeout(10_000),
          })
          if (res.status !== 200) throw new Error(`HTTP ${res.status}: ${await res.text()}`)
          const d = (await res.json()) as { id: string; verdict: string }
          answers.push({ key, accountId, id: d.id, verdict: d.verdict })
          break
        } catch (error) {
          if (target.process.exitCode !== null || target.process.signalCode !== null) live.delete(target)
          connectionFailures++
          if (attempt > 5) throw error
        }
      }
      if (!fired && o.during && answers.length >= (o.at ?? 0)) {
        fired = true
        o.during()
      }
    }
  }
  await Promise.all(Array.from({ length: o.callers }, caller))
  return { answers, connectionFailures }
}

/** Every decision the shared ledger holds, with the idempotency key each was asked with. */
export async function ledgerGos(schema: string) {
  const client = new pg.Client(postgresUrl)
  await client.connect()
  const decisions = await client.query(
    `SELECT id, account_id, verdict, idempotency_key FROM ${schema}.remit_decisions`,
  )
  const touches = await client.query(`SELECT decision_id, account_id, status FROM ${schema}.remit_touches`)
  await client.end()
  return {
    gos: decisions.rows.filter((r) => r.verdict === 'go') as {
      id: string
      account_id: string
      idempotency_key: string
    }[],
    decisions: decisions.rows.length,
    touches: touches.rows as { decision_id: string; account_id: string; status: string }[],
  }
}
