// pnpm bench (packages/sendgrid): how fast the event webhook takes SendGrid's largest batch.
// SendGrid posts "every 30 seconds or when the batch size reaches 768 kilobytes" (SendGrid docs,
// "Getting started with the Event Webhook"). A 768 KB batch of events Remit records (the worst
// case: no open or click to skip), signed as SendGrid signs it, is POSTed to the receiver on
// node:http; the receiver records every event in `remit serve` (embedded SQLite store, its own
// process) before it answers. Then the same batch again: SendGrid's retry, every event already held.
import { copyFileSync, mkdtempSync, writeFileSync } from 'node:fs'
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { generateKey, keyLine } from '@remit/server'
import { startServe } from '../../../apps/cli/test/serve-process.ts'
import { eventWebhook } from '../src/webhook.ts'
import { eventSigner } from '../test/signer.ts'

const BATCH_BYTES = 768 * 1024
const ROUNDS = 3
const dir = mkdtempSync(join(tmpdir(), 'remit-webhook-bench-'))
copyFileSync(new URL('../../../examples/seed-week/remit.yaml', import.meta.url), join(dir, 'remit.yaml'))
const key = generateKey()
writeFileSync(
  join(dir, 'keys.yaml'),
  `${keyLine({ name: 'sendgrid-events', agent: 'marketing-agent' }, key)}\n`,
)
const cli = fileURLToPath(new URL('../../../apps/cli/dist/bin.js', import.meta.url))
const serve = await startServe(
  ['--policy', join(dir, 'remit.yaml'), '--store', join(dir, 'remit.db'), '--keys', join(dir, 'keys.yaml')],
  { bin: cli },
)

const { publicKeyBase64, signed } = eventSigner()

/** A batch of up to 768 KB: events shaped as the Event Webhook Reference shows them. */
function batch(label: string): { body: string; events: number } {
  const events: string[] = []
  let size = 2
  for (let i = 0; ; i++) {
    const name = i % 20 === 19 ? 'unsubscribe' : i % 10 === 9 ? 'bounce' : 'delivered'
    const e = JSON.stringify({
      email: `r${i % 1000}.${label}@bench.example`,
      timestamp: 1_790_000_000 + i,
      'smtp-id': `<14c5d75ce93.dfd.64b469.${label}.${i}@ismtpd-555>`,
      event: name,
      category: ['cat facts'],
      sg_event_id: `${label}-${i}-rWVYmVk90MjZJ9iohOBa3w`,
      sg_message_id: `14c5d75ce93.dfd.64b469.filter0001.16648.5515E0B88.${i}`,
      ...(name === 'delivered' ? { response: '250 OK' } : {}),
      ...(name === 'bounce' ? { reason: '500 unknown recipient', status: '5.0.0', type: 'bounce' } : {}),
    })
    if (size + e.length + 1 > BATCH_BYTES) break
    events.push(e)
    size += e.length + 1
  }
  return { body: `[${events.join(',')}]`, events: events.length }
}

async function time(run: () => Promise<unknown>): Promise<number> {
  const t0 = process.hrtime.bigint()
  await run()
  return Number(process.hrtime.bigint() - t0) / 1e6
}
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] as number

for (const concurrency of [1, 8, 32]) {
  const hook = eventWebhook({ publicKey: publicKeyBase64, remit: { url: serve.url, key }, concurrency })
  const server = createServer(hook.listener)
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`
  const post = async (body: string) => {
    const res = await fetch(url, { method: 'POST', headers: signed(body), body })
    if (res.status !== 200) throw new Error(`webhook answered ${res.status}: ${await res.text()}`)
    await res.arrayBuffer()
  }
  await post(batch(`warm${concurrency}`).body)
  const fresh: number[] = []
  const again: number[] = []
  let events = 0
  let bytes = 0
  for (let round = 1; round <= ROUNDS; round++) {
    const b = batch(`c${concurrency}r${round}`)
    events = b.events
    bytes = b.body.length
    fresh.push(await time(() => post(b.body)))
    again.push(await time(() => post(b.body)))
  }
  const perSecond = (ms: number) => Math.round((events / ms) * 1000)
  console.log(
    `768 KB batch (${(bytes / 1024).toFixed(0)} KiB, ${events} events), concurrency ${concurrency}, median of ${ROUNDS}: ` +
      `new ${median(fresh).toFixed(0)} ms/batch (${perSecond(median(fresh))} events/s); ` +
      `redelivered ${median(again).toFixed(0)} ms/batch (${perSecond(median(again))} events/s)`,
  )
  await new Promise((r) => server.close(r))
}
serve.process.kill('SIGTERM')
