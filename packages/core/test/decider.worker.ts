import { parentPort, workerData } from 'node:worker_threads'
import { openRemit, openSqliteStore } from '../src/index.ts'
import { seedPolicy } from './helpers.ts'

const { path, rounds, perRound, threads, thread, barrier } = workerData as {
  path: string
  rounds: number
  perRound: number
  threads: number
  thread: number
  barrier: Int32Array
}
const remit = await openRemit({ policy: seedPolicy, store: openSqliteStore(path, { busyTimeoutMs: 30_000 }) })
const go: Record<string, string[]> = {}
let decisions = 0
for (let round = 0; round < rounds; round++) {
  // Wait until every thread is here, so the round's deciders start together.
  Atomics.add(barrier, round, 1)
  while (Atomics.load(barrier, round) < threads) Atomics.wait(barrier, round, Atomics.load(barrier, round), 5)
  Atomics.notify(barrier, round)
  const accountId = `acme-${round}`
  for (let i = 0; i < perRound; i++) {
    const d = await remit.decide('marketing-agent', {
      action: { kind: 'email.positioning' },
      customer: { accountId, facts: { lifecycle: 'customer', tier: 'smb' } },
      idempotencyKey: `t${thread}-${round}-${i}`,
    })
    decisions++
    if (d.verdict === 'go') go[accountId] = [...(go[accountId] ?? []), d.id]
  }
}
await remit.close()
parentPort?.postMessage({ go, decisions })
