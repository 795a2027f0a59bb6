// The seed's week, played as the week just gone, on a Remit server with the console. `./dev demo`
// (week.ts) prints the very steps played here, so the console shows the week just printed; the
// console's tests use it with every flag left open.
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs'
import { createServer as createNetServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { openSqliteStore } from '@remit/core'
import { createServer, generateKey, keyLine, type RemitServer } from '@remit/server'
import { runWeek, type Step, week } from './scenario.ts'

const here = fileURLToPath(new URL('.', import.meta.url))
const DAY = 24 * 3600 * 1000

export interface ConsoleDemo {
  server: RemitServer
  url: string
  keys: { sales: string; support: string; admin: string; marketingAgent: string }
  /** The week as played into the served store, in time order (what `./dev demo` prints). */
  steps: Step[]
  /** How far the week was moved, in ms: a step's time in the story plus this is its time here. */
  shiftMs: number
  /** The policy the server runs: the week's, with reviews expiring after 14 days (72 h in the week's). */
  policyPath: string
  storePath: string
  close(): Promise<void>
}

export interface ConsoleDemoOptions {
  /** The port to serve on; when it is taken, any free one. Default: any free one. */
  port?: number
  consoleDir?: string
  /** The SQLite file to play the week into (default: a new one in a temporary folder). */
  store?: string
  /**
   * `'none'` (default): every flag of the week is left open, its last attempt played a minute ago.
   * `'story'`: the reviewers answer as in the story, except the flags the story marks `leftOpen`
   * (no later step of the week turns on their answer), which wait for someone in the console; the
   * week is moved by whole weeks, so Monday is still a Monday.
   */
  answers?: 'none' | 'story'
}

export async function startConsoleDemo(o: ConsoleDemoOptions = {}): Promise<ConsoleDemo> {
  const dir = mkdtempSync(join(tmpdir(), 'remit-console-demo-'))
  const policyPath = join(dir, 'remit.yaml')
  const storePath = o.store ?? join(dir, 'remit.db')
  // Reviewers get 14 days here (72 h in the week's policy), so the week's open flags are still open.
  writeFileSync(
    policyPath,
    readFileSync(join(here, 'remit.yaml'), 'utf8').replace('expiresAfter: 72h', 'expiresAfter: 14d'),
  )
  const keys = {
    sales: generateKey(),
    support: generateKey(),
    admin: generateKey(),
    marketingAgent: generateKey(),
  }
  writeFileSync(
    join(dir, 'keys.yaml'),
    [
      keyLine({ name: 'Dana (sales manager)', reviewer: 'sales' }, keys.sales),
      keyLine({ name: 'Sam (support lead)', reviewer: 'support' }, keys.support),
      keyLine({ name: 'ops', admin: true }, keys.admin),
      keyLine(
        { name: 'hubspot-marketing', agent: 'marketing-agent', tool: 'hubspot:workflow/1001' },
        keys.marketingAgent,
      ),
    ].join('\n'),
  )
  const server = await createServer({
    policy: policyPath,
    store: openSqliteStore(storePath),
    keys: join(dir, 'keys.yaml'),
    consoleDir: o.consoleDir ?? join(here, '../../apps/console/dist'),
    logger: false,
    watch: false,
  })
  const story = o.answers === 'story'
  // The week just gone: its last attempt a minute ago, or (the story) the last such week before now.
  const last = Math.max(...week.map((e) => Date.parse(e.at)))
  const ago = Date.now() - 60_000 - last
  const shiftMs = story ? Math.floor(ago / (7 * DAY)) * 7 * DAY : ago
  const steps = await runWeek(server.remit, {
    answerReviews: story ? (event) => !event.review?.leftOpen : false,
    shiftMs,
  })
  const port = o.port && (await free(o.port)) ? o.port : 0
  const url = await server.listen({ port })
  return { server, url, keys, steps, shiftMs, policyPath, storePath, close: () => server.close() }
}

/** Whether nothing listens on this port of 127.0.0.1. */
function free(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const probe = createNetServer()
    probe.once('error', () => resolve(false))
    probe.listen({ port, host: '127.0.0.1' }, () => probe.close(() => resolve(true)))
  })
}
