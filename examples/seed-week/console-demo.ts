// The seed's week, played as the week just gone, on a Remit server with the console: the flags are
// left open for a person to answer in the browser. Used by `./dev demo` and the console's tests.
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { openSqliteStore } from '@remit/core'
import { createServer, generateKey, keyLine, type RemitServer } from '@remit/server'
import { runWeek, week } from './scenario.ts'

const here = fileURLToPath(new URL('.', import.meta.url))

export interface ConsoleDemo {
  server: RemitServer
  url: string
  keys: { sales: string; support: string; admin: string; marketingAgent: string }
  close(): Promise<void>
}

export async function startConsoleDemo(
  o: { port?: number; consoleDir?: string; store?: string } = {},
): Promise<ConsoleDemo> {
  const dir = mkdtempSync(join(tmpdir(), 'remit-console-demo-'))
  // Reviewers get 14 days here (72 h in the week's policy), so the week's flags are still open.
  writeFileSync(
    join(dir, 'remit.yaml'),
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
    policy: join(dir, 'remit.yaml'),
    store: openSqliteStore(o.store ?? join(dir, 'remit.db')),
    keys: join(dir, 'keys.yaml'),
    consoleDir: o.consoleDir ?? join(here, '../../apps/console/dist'),
    logger: false,
    watch: false,
  })
  // The week ends now: its last attempt happened a minute ago.
  const last = Math.max(...week.map((e) => Date.parse(e.at)))
  await runWeek(server.remit, { answerReviews: false, shiftMs: Date.now() - 60_000 - last })
  const url = await server.listen({ port: o.port ?? 0 })
  return { server, url, keys, close: () => server.close() }
}
