// pnpm bench: hostile requests to every route the server serves, with every kind of key, on SQLite and
// PostgreSQL, counting the answers ≥ 500 instead of stopping at the first. test/fuzz.test.ts runs the
// same requests with a fixed seed, fewer of them, and shrinks the first 5xx to a minimal request.
//   FUZZ_RUNS    requests in all, split over the stores (default 60000, about 45 s here)
//   FUZZ_SEED    the seed (default: random, printed so a run can be repeated)
//   FUZZ_STORES  which stores, e.g. "sqlite" (default: sqlite,postgres)
//   REMIT_TEST_POSTGRES  the database (default: the local `test` database)
import { randomBytes } from 'node:crypto'
import fc from 'fast-check'
import { describeFailure, fuzzTarget, openStore } from '../test/fuzz-requests.ts'

async function main() {
  const { harness } = await import('../test/helpers.ts')
  const runs = Number(process.env.FUZZ_RUNS ?? 60_000)
  const seed = Number(process.env.FUZZ_SEED ?? randomBytes(4).readInt32LE())
  const stores = (process.env.FUZZ_STORES ?? 'sqlite,postgres').split(',') as ('sqlite' | 'postgres')[]
  console.log(`fuzz: ${runs} requests over ${stores.join(', ')}, seed ${seed} (FUZZ_SEED=${seed} repeats it)`)
  let failed = 0
  for (const name of stores) {
    const { store, drop } = await openStore(name)
    const h = await harness({ store })
    const target = await fuzzTarget(h)
    const kinds = new Map<string, { count: number; first: string }>()
    const answers = new Map<string, Map<number, number>>()
    let count = 0
    const started = performance.now()
    await fc.assert(
      fc.asyncProperty(target.request, async (r) => {
        count++
        const answer = await target.send(r)
        const statuses = answers.get(r.route) ?? new Map<number, number>()
        answers.set(r.route, statuses.set(answer.status, (statuses.get(answer.status) ?? 0) + 1))
        if (answer.status !== 0 && answer.status < 500) return
        // One kind of failure per route, status and first line of the logged error.
        const kind = `${r.route} → ${answer.status || 'no answer'}: ${answer.errors[0]?.split('\n')[0] ?? answer.body.slice(0, 120)}`
        const seen = kinds.get(kind)
        if (seen) seen.count++
        else kinds.set(kind, { count: 1, first: describeFailure(r, answer) })
      }),
      { seed, numRuns: Math.ceil(runs / stores.length) },
    )
    const seconds = (performance.now() - started) / 1000
    const fives = [...kinds.values()].reduce((n, k) => n + k.count, 0)
    failed += fives
    console.log(
      `\n${name}: ${count} requests in ${seconds.toFixed(1)} s (${Math.round(count / seconds)}/s), ${fives} answered ≥ 500 or not at all`,
    )
    for (const [route, statuses] of [...answers].sort()) {
      const counts = [...statuses].sort(([a], [b]) => a - b).map(([status, n]) => `${status}×${n}`)
      console.log(`  ${route.padEnd(40)} ${counts.join(' ')}`)
    }
    for (const [kind, { count: n, first }] of kinds) console.log(`\n× ${n}  ${kind}\n${first}`)
    await h.server.close()
    await drop()
  }
  process.exitCode = failed ? 1 : 0
}

if (import.meta.main) await main()
