import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Worker } from 'node:worker_threads'
import { expect, it } from 'vitest'
import { openSqliteStore } from '../src/index.ts'

// Several threads, each with its own connection to one SQLite file, released together by a barrier
// for every round, all deciding for the same account under `max: 1 per 72h`: exactly one go per
// account, and every go is in the ledger.
it('finds exactly one go when concurrent deciders hammer one account under a max: 1 limit', async () => {
  const path = join(mkdtempSync(join(tmpdir(), 'remit-race-')), 'remit.db')
  await openSqliteStore(path).close() // create the schema once, so the workers race on decisions only
  const threads = 4
  const rounds = 60
  const perRound = 3
  const barrier = new Int32Array(new SharedArrayBuffer(4 * (rounds + 1)))
  const results = await Promise.all(
    Array.from(
      { length: threads },
      (_, i) =>
        new Promise<{ go: Record<string, string[]>; decisions: number }>((resolve, reject) => {
          const worker = new Worker(new URL('./decider.worker.ts', import.meta.url), {
            workerData: { path, rounds, perRound, threads, thread: i, barrier },
          })
          worker.once('message', resolve)
          worker.once('error', reject)
        }),
    ),
  )
  const store = openSqliteStore(path)
  for (let round = 0; round < rounds; round++) {
    const account = `acme-${round}`
    const gos = results.flatMap((r) => r.go[account] ?? [])
    expect(gos, account).toHaveLength(1)
    const ledger = await store.ledger(account, new Date(0), new Date('2030-01-01'))
    expect(ledger.touches.map((t) => t.decisionId)).toEqual(gos)
  }
  expect(results.reduce((n, r) => n + r.decisions, 0)).toBe(threads * rounds * perRound)
  await store.close()
})
