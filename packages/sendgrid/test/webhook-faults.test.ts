import { mkdtempSync, rmSync } from 'node:fs'
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { openSqliteStore } from '@remit/core'
import type { RemitServer } from '@remit/server'
import { startTestServer } from '@remit/server/testing'
import { afterEach, describe, expect, it } from 'vitest'
import { EVENT_WEBHOOK_BODY_LIMIT, eventExternalId, eventWebhook } from '../src/webhook.ts'
import { seedPolicy } from './harness.ts'
import { eventSigner } from './signer.ts'

// What SendGrid does when the receiver is not well: it retries a batch answered with anything but
// 2xx, for up to 24 hours ("Troubleshooting the Event Webhook"), and may deliver an event twice.
// Each test below delivers signed batches as SendGrid does (ECDSA P-256 over timestamp + raw body)
// to a receiver recording in a real Remit server, and counts what the ledger holds.

const { publicKeyBase64, signed } = eventSigner()

/** An event as the Event Webhook Reference shows them. */
const event = (i: number, name = 'delivered', withId = true) => ({
  email: `r${i % 50}@acme.example`,
  timestamp: 1_790_000_000 + i,
  'smtp-id': `<14c5d75ce93.dfd.64b469.${i}@ismtpd-555>`,
  event: name,
  category: ['cat facts'],
  ...(withId ? { sg_event_id: `ev-${i}-${'x'.repeat(20)}` } : {}),
  sg_message_id: `14c5d75ce93.dfd.64b469.filter0001.16648.5515E0B88.${i}`,
  ...(name === 'delivered' ? { response: '250 OK' } : {}),
  ...(name === 'bounce' ? { reason: '500 unknown recipient', status: '5.0.0', type: 'bounce' } : {}),
})

const cleanup: (() => Promise<unknown> | unknown)[] = []
afterEach(async () => {
  for (const c of cleanup.splice(0).reverse()) await c()
})

async function remitServer(store?: ReturnType<typeof openSqliteStore>) {
  const started = await startTestServer({
    policy: seedPolicy,
    keys: { events: { agent: 'marketing-agent' } },
    ...(store ? { store } : {}),
  })
  return { ...started, key: started.keys.events as string }
}

/** Every touch the ledger holds for these recipients, by external id: how often each is recorded. */
async function ledger(server: RemitServer, emails: Iterable<string>): Promise<Map<string, number>> {
  const counts = new Map<string, number>()
  for (const email of new Set(emails)) {
    for (const t of (await server.remit.timeline(`email:${email}`)).touches)
      counts.set(t.externalId ?? t.id, (counts.get(t.externalId ?? t.id) ?? 0) + 1)
  }
  return counts
}
const expectEachOnce = async (server: RemitServer, batch: object[]) => {
  const counts = await ledger(
    server,
    batch.map((e) => (e as { email: string }).email),
  )
  const recorded = batch.filter((e) => (e as { event: string }).event !== 'open')
  expect(counts.size).toBe(recorded.length)
  for (const e of recorded) expect(counts.get(`agent:marketing-agent/${eventExternalId(e)}`)).toBe(1)
}

/**
 * A proxy in front of Remit that fails POST /v1/touches as told: `refuse` answers 503 without
 * passing it on (Remit down); `lose` passes it on, Remit records it, and answers 502 (the answer is
 * lost on the way back).
 */
async function flakyProxy(upstream: string, fault: (n: number) => 'pass' | 'refuse' | 'lose') {
  let n = 0
  const server: Server = createServer(async (req, res) => {
    const chunks: Buffer[] = []
    for await (const c of req) chunks.push(c as Buffer)
    const what = req.method === 'POST' && req.url === '/v1/touches' ? fault(++n) : 'pass'
    if (what === 'refuse') {
      res.writeHead(503, { 'content-type': 'application/json' })
      res.end('{"error":{"code":"UNAVAILABLE","message":"down"}}')
      return
    }
    const r = await fetch(`${upstream}${req.url}`, {
      method: req.method ?? 'GET',
      headers: {
        authorization: String(req.headers.authorization),
        'content-type': String(req.headers['content-type'] ?? 'application/json'),
      },
      ...(chunks.length ? { body: Buffer.concat(chunks) } : {}),
    })
    const text = await r.text()
    res.writeHead(what === 'lose' ? 502 : r.status, { 'content-type': 'application/json' })
    res.end(what === 'lose' ? '{"error":{"code":"BAD_GATEWAY","message":"lost"}}' : text)
  })
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    calls: () => n,
    close: () => new Promise((r) => server.close(r)),
  }
}

describe('the event webhook when something fails', () => {
  it('answers 503 when Remit is down mid-batch, and records each event exactly once when SendGrid retries', async () => {
    const remit = await remitServer()
    cleanup.push(() => remit.close())
    // Remit is down for the 3rd touch of the first delivery only.
    const proxy = await flakyProxy(remit.url, (n) => (n === 3 ? 'refuse' : 'pass'))
    cleanup.push(() => proxy.close())
    const hook = eventWebhook({
      publicKey: publicKeyBase64,
      remit: { url: proxy.url, key: remit.key, retries: 0 },
      concurrency: 1,
    })
    const batch = Array.from({ length: 10 }, (_, i) => event(i, i === 4 ? 'unsubscribe' : 'delivered'))
    const body = JSON.stringify(batch)
    const headers = signed(body)

    const first = await hook.handle(body, headers)
    expect(first.status).toBe(503)
    expect(first.body.error?.code).toBe('REMIT_UNAVAILABLE')
    expect(first.body.recorded).toBe(2) // what was recorded before the failure stays recorded

    // SendGrid's retry: the same bytes, the same signed timestamp.
    expect(await hook.handle(body, headers)).toEqual({ status: 200, body: { recorded: 10, ignored: 0 } })
    await expectEachOnce(remit.server, batch)
    // And a third delivery (a duplicate SendGrid sends anyway) changes nothing.
    expect((await hook.handle(body, signed(body))).status).toBe(200)
    await expectEachOnce(remit.server, batch)
  })

  it('answers 503 when the first touch of a batch fails, and the retried batch is recorded once', async () => {
    const remit = await remitServer()
    cleanup.push(() => remit.close())
    const proxy = await flakyProxy(remit.url, (n) => (n === 1 ? 'refuse' : 'pass'))
    cleanup.push(() => proxy.close())
    const hook = eventWebhook({
      publicKey: publicKeyBase64,
      remit: { url: proxy.url, key: remit.key, retries: 0 },
    })
    const batch = Array.from({ length: 30 }, (_, i) => event(i, i % 3 ? 'delivered' : 'bounce'))
    const body = JSON.stringify(batch)
    expect((await hook.handle(body, signed(body))).status).toBe(503)
    expect((await hook.handle(body, signed(body))).status).toBe(200)
    await expectEachOnce(remit.server, batch)
  })

  it('records an event once when Remit recorded it but its answer was lost', async () => {
    const remit = await remitServer()
    cleanup.push(() => remit.close())
    const proxy = await flakyProxy(remit.url, (n) => (n <= 2 ? 'lose' : 'pass'))
    cleanup.push(() => proxy.close())
    const hook = eventWebhook({
      publicKey: publicKeyBase64,
      remit: { url: proxy.url, key: remit.key, retries: 0 },
    })
    const batch = [event(1, 'unsubscribe'), event(2, 'spamreport'), event(3)]
    const body = JSON.stringify(batch)
    expect((await hook.handle(body, signed(body))).status).toBe(503)
    expect((await hook.handle(body, signed(body))).status).toBe(200)
    await expectEachOnce(remit.server, batch)
  })

  it('answers 503 over node:http too, never 2xx before every event is recorded', async () => {
    const remit = await remitServer()
    cleanup.push(() => remit.close())
    let down = true
    const proxy = await flakyProxy(remit.url, () => (down ? 'refuse' : 'pass'))
    cleanup.push(() => proxy.close())
    const hook = eventWebhook({
      publicKey: publicKeyBase64,
      remit: { url: proxy.url, key: remit.key, retries: 0 },
    })
    const server = createServer(hook.listener)
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
    cleanup.push(() => new Promise((r) => server.close(r)))
    const batch = [event(1), event(2, 'unsubscribe')]
    const body = JSON.stringify(batch)
    const post = () =>
      fetch(`http://127.0.0.1:${(server.address() as AddressInfo).port}/`, {
        method: 'POST',
        headers: signed(body),
        body,
      })
    expect((await post()).status).toBe(503)
    expect(await ledger(remit.server, ['r1@acme.example', 'r2@acme.example'])).toEqual(new Map())
    down = false
    expect((await post()).status).toBe(200)
    await expectEachOnce(remit.server, batch)
  })

  it('records nothing twice across a restart: a new receiver and a reopened Remit store', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'remit-webhook-restart-'))
    cleanup.push(() => rmSync(dir, { recursive: true, force: true }))
    const file = join(dir, 'remit.db')
    const batch = Array.from({ length: 12 }, (_, i) => event(i, i % 4 ? 'delivered' : 'group_unsubscribe'))
    const body = JSON.stringify(batch)

    const before = await remitServer(openSqliteStore(file))
    const hook = eventWebhook({ publicKey: publicKeyBase64, remit: { url: before.url, key: before.key } })
    expect((await hook.handle(body, signed(body))).status).toBe(200)
    await before.close()

    // The process restarts: nothing in memory survives; the store on disk does.
    const after = await remitServer(openSqliteStore(file))
    cleanup.push(() => after.close())
    const again = eventWebhook({ publicKey: publicKeyBase64, remit: { url: after.url, key: after.key } })
    expect(await again.handle(body, signed(body))).toEqual({
      status: 200,
      body: { recorded: 12, ignored: 0 },
    })
    await expectEachOnce(after.server, batch)
  })

  it('records events without sg_event_id once each, however often they are delivered', async () => {
    const remit = await remitServer()
    cleanup.push(() => remit.close())
    const hook = eventWebhook({ publicKey: publicKeyBase64, remit: { url: remit.url, key: remit.key } })
    // One recipient: a delivery, an open, an unsubscribe, all without ids (legacy payloads).
    const batch = [
      { ...event(7, 'delivered', false), email: 'same@acme.example' },
      { ...event(8, 'open', false), email: 'same@acme.example' },
      { ...event(9, 'unsubscribe', false), email: 'same@acme.example' },
    ]
    const body = JSON.stringify(batch)
    expect((await hook.handle(body, signed(body))).body).toEqual({ recorded: 2, ignored: 1 })
    // Delivered again, re-serialized with its keys in another order: the same events.
    const reordered = JSON.stringify(batch.map((e) => Object.fromEntries(Object.entries(e).reverse())))
    expect((await hook.handle(reordered, signed(reordered))).body).toEqual({ recorded: 2, ignored: 1 })
    await expectEachOnce(remit.server, batch)
    const touches = (await remit.server.remit.timeline('email:same@acme.example')).touches
    expect(touches.map((t) => t.kind).sort()).toEqual(['email.delivered', 'email.unsubscribe'])
    expect(
      touches.every((t) => /^agent:marketing-agent\/sendgrid:sha256:[0-9a-f]{64}$/.test(t.externalId ?? '')),
    ).toBe(true)
  })

  it('standalone on node:http, refuses a body over 1 MiB with 413', async () => {
    const hook = eventWebhook({ publicKey: publicKeyBase64, remit: { url: 'http://127.0.0.1:9', key: 'k' } })
    const server = createServer(hook.listener)
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
    cleanup.push(() => new Promise((r) => server.close(r)))
    const body = JSON.stringify([
      { email: 'a@b.example', event: 'delivered', pad: 'x'.repeat(EVENT_WEBHOOK_BODY_LIMIT) },
    ])
    const res = await fetch(`http://127.0.0.1:${(server.address() as AddressInfo).port}/`, {
      method: 'POST',
      headers: signed(body),
      body,
    })
    expect(res.status).toBe(413)
  })

  it('mounted in the Remit server, takes a ~700 KB batch whole and refuses a 1.1 MB one with 413', async () => {
    let hook: ReturnType<typeof eventWebhook> | undefined
    const started = await startTestServer({
      policy: seedPolicy,
      keys: { events: { agent: 'marketing-agent' } },
      rawRoutes: [
        {
          method: 'POST',
          url: '/webhooks/sendgrid',
          bodyLimit: EVENT_WEBHOOK_BODY_LIMIT,
          handle: (raw, headers) => (hook as NonNullable<typeof hook>).handle(raw, headers),
        },
      ],
    })
    cleanup.push(() => started.close())
    hook = eventWebhook({
      publicKey: publicKeyBase64,
      remit: { url: started.url, key: started.keys.events as string },
    })
    const batchOf = (bytes: number, from = 0) => {
      const batch: object[] = []
      let size = 2
      for (let i = from; size < bytes; i++) {
        const e = event(i, i % 10 === 9 ? 'open' : 'delivered')
        batch.push(e)
        size += JSON.stringify(e).length + 1
      }
      return batch
    }
    const post = (body: string) =>
      fetch(`${started.url}/webhooks/sendgrid`, {
        method: 'POST',
        headers: { ...signed(body), 'content-type': 'application/json' },
        body,
      })

    const big = batchOf(700 * 1024)
    const body = JSON.stringify(big)
    expect(body.length).toBeGreaterThan(64 * 1024) // over the server's own body limit
    const res = await post(body)
    expect(res.status).toBe(200)
    const opens = big.filter((e) => (e as { event: string }).event === 'open').length
    expect(await res.json()).toEqual({ recorded: big.length - opens, ignored: opens })
    await expectEachOnce(started.server, big)

    const tooBig = JSON.stringify(batchOf(1.1 * 1024 * 1024, 100_000))
    const refused = await post(tooBig)
    expect(refused.status).toBe(413)
    // Nothing of the refused batch reached the ledger.
    const counts = await ledger(
      started.server,
      big.map((e) => (e as { email: string }).email),
    )
    expect(counts.size).toBe(big.length - opens)
  }, 60_000)
})
