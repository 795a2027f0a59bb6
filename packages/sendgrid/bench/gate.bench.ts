// pnpm bench (packages/sendgrid): what the gate adds to a 1,000-recipient sendMultiple.
// SendGrid is a local mock answering 202; Remit is `remit serve` on the embedded store in its own
// process. Added time per recipient = (gated − direct) / 1,000. Target ≤ 1 ms.
import { copyFileSync, mkdtempSync, writeFileSync } from 'node:fs'
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { generateKey, keyLine } from '@remit/server'
import sendgrid from '@sendgrid/mail'
import { startServe } from '../../../apps/cli/test/serve-process.ts'
import { gate, type MailService } from '../src/index.ts'

const RECIPIENTS = 1000
const ROUNDS = 5
const dir = mkdtempSync(join(tmpdir(), 'remit-gate-bench-'))
copyFileSync(new URL('../../../examples/seed-week/remit.yaml', import.meta.url), join(dir, 'remit.yaml'))
const key = generateKey()
writeFileSync(join(dir, 'keys.yaml'), `${keyLine({ name: 'bench', agent: 'marketing-agent' }, key)}\n`)

const mock = createServer((req, res) => {
  req.resume()
  req.on('end', () => {
    res.writeHead(202)
    res.end()
  })
})
await new Promise<void>((r) => mock.listen(0, '127.0.0.1', r))
const mockUrl = `http://127.0.0.1:${(mock.address() as AddressInfo).port}`

// remit serve, built, in its own process (the same helper the CLI's own tests and benchmarks use).
const cli = fileURLToPath(new URL('../../../apps/cli/dist/bin.js', import.meta.url))
const serve = await startServe(
  ['--policy', join(dir, 'remit.yaml'), '--store', join(dir, 'remit.db'), '--keys', join(dir, 'keys.yaml')],
  { bin: cli },
)
const remitUrl = serve.url

function service(): MailService {
  const svc = new (
    sendgrid as unknown as {
      MailService: new () => MailService & { client: { setDefaultRequest(k: string, v: string): void } }
    }
  ).MailService()
  svc.setApiKey('SG.bench')
  svc.client.setDefaultRequest('baseUrl', mockUrl)
  return svc
}
const message = (round: number, label: string) => ({
  to: Array.from({ length: RECIPIENTS }, (_, i) => `r${i}.${label}${round}@bench.example`),
  from: 'marketing@remit.example',
  subject: `Round ${round}`,
  text: 'Hello',
})

const direct = service()
const gated = gate(service(), {
  remit: { url: remitUrl, key },
  action: () => ({ kind: 'email.positioning' }),
  customer: ({ email }) => ({ email, facts: { lifecycle: 'customer', tier: 'smb' } }),
  holdPath: join(dir, 'held.db'),
  releaseEveryMs: 0,
})

async function time(run: () => Promise<unknown>): Promise<number> {
  const t0 = process.hrtime.bigint()
  await run()
  return Number(process.hrtime.bigint() - t0) / 1e6
}
await direct.send(message(0, 'warm'), true)
await gated.send(message(0, 'warm'), true)
const d: number[] = []
const g: number[] = []
for (let round = 1; round <= ROUNDS; round++) {
  d.push(await time(() => direct.send(message(round, 'd'), true)))
  g.push(await time(() => gated.send(message(round, 'g'), true)))
}
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] as number
const added = (median(g) - median(d)) / RECIPIENTS
console.log(
  `sendMultiple to ${RECIPIENTS} recipients, median of ${ROUNDS}: direct ${median(d).toFixed(1)} ms, gated ${median(g).toFixed(1)} ms`,
)
console.log(
  `gate's added time per recipient: ${added.toFixed(3)} ms   (target ≤ 1 ms; each recipient is a decision and an outcome over HTTP)`,
)
await gated.close()
serve.process.kill('SIGTERM')
mock.close()
