import { type ChildProcess, spawn } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { afterAll, describe, expect, it } from 'vitest'

// `./dev demo` prints the week, then serves the console: the console must show the week just printed
// (it once replayed a different one, every flag open, in which Wednesday's discount was not paused).
const week = fileURLToPath(new URL('week.ts', import.meta.url))
let child: ChildProcess | undefined

afterAll(() => {
  child?.kill('SIGTERM')
})

/** `node week.ts` on a free port, until it prints the console's keys: its output (no colours: not a terminal). */
function startDemo(): Promise<string> {
  child = spawn(process.execPath, [week], { env: { ...process.env, PORT: '0', NO_COLOR: '1' } })
  return new Promise((resolve, reject) => {
    let out = ''
    child?.stdout?.on('data', (chunk) => {
      out += chunk
      if (/admin: +rk_\S+\n/.test(out)) resolve(out)
    })
    child?.stderr?.on('data', (chunk) => {
      out += chunk
    })
    child?.once('exit', (code) => reject(new Error(`week.ts exited ${code}:\n${out}`)))
  })
}

describe('./dev demo', () => {
  it('serves the console on the week it printed: the same decisions, answers and open flags', async () => {
    const printed = await startDemo()
    const url = /The console (http:\/\/\S+)\/console\//.exec(printed)?.[1] as string
    const admin = /admin: +(rk_\S+)/.exec(printed)?.[1] as string
    const sales = /sign in as sales: +(rk_\S+)/.exec(printed)?.[1] as string
    const get = async (path: string, key: string) =>
      (await fetch(`${url}${path}`, { headers: { authorization: `Bearer ${key}` } })).json()

    // Each attempt's printed verdict is the served decision's, in order; one answer was printed.
    const blocks = printed.split('\n\n').map((b) => b.trim().split('\n'))
    const verdicts = blocks
      .filter((b) => b[0]?.includes(' wants to send '))
      .map((b) => /^(GO|FLAG|STOP)\b/.exec(b[1]?.trim() ?? '')?.[1]?.toLowerCase())
    expect(verdicts).toHaveLength(8)
    expect(blocks.filter((b) => / (approved|rejected) the /.test(b[0] ?? ''))).toHaveLength(1)
    const { decisions } = (await get('/v1/decisions?limit=100', admin)) as {
      decisions: { verdict: string; at: string }[]
    }
    expect(decisions.sort((a, b) => a.at.localeCompare(b.at)).map((d) => d.verdict)).toEqual(verdicts)
    // Wednesday's discount to Acme is paused by the limit, as in the story, since Monday's was approved.
    expect(printed).toMatch(/Wed .{13} {2}sales-agent wants to send Acme .*\n {2}STOP \(may retry after Thu/)

    // The flags printed as left open are the ones waiting in sales's queue.
    const open = [...printed.matchAll(/left open for you/g)].length
    expect(open).toBe(2)
    expect(printed).toContain('with 2 flags left for sales to answer')
    const { reviews } = (await get('/v1/reviews?status=pending', sales)) as { reviews: { team: string }[] }
    expect(reviews).toHaveLength(open)
  }, 60_000)
})
