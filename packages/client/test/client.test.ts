import { createServer as createHttpServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { startTestServer, type TestServer } from '@remit/server/testing'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { createClient, RemitError } from '../src/index.ts'

const globex = { accountId: 'globex', facts: { lifecycle: 'customer', tier: 'smb' } }
const positioning = { action: { kind: 'email.positioning' }, customer: globex }

let remit: TestServer
let url: string
let key: string
let reviewerKey: string
const extra: Server[] = []

beforeEach(async () => {
  remit = await startTestServer({
    policy: new URL('../../../examples/seed-week/remit.yaml', import.meta.url),
    keys: { mkt: { agent: 'marketing-agent' }, sales: { reviewer: 'sales' } },
  })
  ;({ url } = remit)
  key = remit.keys.mkt as string
  reviewerKey = remit.keys.sales as string
})
afterEach(async () => {
  await remit.close()
  for (const s of extra.splice(0)) s.close()
})

/** A server in front of Remit that answers the first `fail` requests itself, recording what it saw. */
async function flaky(fail: number, answer: (res: import('node:http').ServerResponse) => void) {
  const seen: string[] = []
  const server = createHttpServer(async (req, res) => {
    const chunks: Buffer[] = []
    for await (const c of req) chunks.push(c as Buffer)
    const body = Buffer.concat(chunks).toString()
    seen.push(body)
    if (seen.length <= fail) return answer(res)
    const upstream = await fetch(`${url}${req.url}`, {
      method: req.method ?? 'GET',
      headers: req.headers as Record<string, string>,
      ...(body ? { body } : {}),
    })
    res.writeHead(upstream.status, { 'content-type': 'application/json' })
    res.end(await upstream.text())
  })
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
  extra.push(server)
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, seen }
}

describe('@remit/client', () => {
  it('decides, reports the outcome and reads the timeline', async () => {
    const client = createClient({ url, key })
    const d = await client.decide(positioning)
    expect(d).toMatchObject({ verdict: 'go', reasons: [{ rule: 'mkt-positioning' }] })
    expect(d.unreachable).toBeUndefined()
    expect((await client.outcome(d.id, 'sent')).status).toBe('sent')
    const reviewer = createClient({ url, key: reviewerKey })
    expect((await reviewer.timeline('globex')).touches).toHaveLength(1)
  })

  it("re-checks an approved flag's stops before it is sent", async () => {
    const client = createClient({ url, key })
    const reviewer = createClient({ url, key: reviewerKey })
    const renewal = { accountId: 'acme', facts: { lifecycle: 'renewal', tier: 'enterprise' } }
    const d = await client.decide({ action: { kind: 'email.positioning' }, customer: renewal })
    expect(d.verdict).toBe('flag')
    await reviewer.approve(d.reviewId as string)
    expect(await client.recheckReview(d.reviewId as string)).toEqual({ ok: true, reasons: [] })
  })

  it('throws RemitError naming the field for a request Remit refuses', async () => {
    const client = createClient({ url, key })
    const error = await client
      .decide({ action: { kind: 'offer.discount', discountPct: 'lots' }, customer: globex })
      .catch((e) => e)
    expect(error).toBeInstanceOf(RemitError)
    expect(error).toMatchObject({ status: 400, code: 'BAD_TYPE', path: ['action', 'discountPct'] })
  })

  it('a bad key is loud, not a fail-open', async () => {
    const client = createClient({ url, key: 'rk_wrong', failMode: 'open' })
    await expect(client.decide(positioning)).rejects.toMatchObject({ status: 401 })
  })

  it('retries a 503 with the same idempotency key, and reserves once', async () => {
    const proxy = await flaky(2, (res) => {
      res.writeHead(503, { 'retry-after': '0' })
      res.end()
    })
    const client = createClient({ url: proxy.url, key, retries: 3 })
    const d = await client.decide(positioning)
    expect(d.verdict).toBe('go')
    const keys = proxy.seen.map((b) => JSON.parse(b).idempotencyKey)
    expect(keys).toHaveLength(3)
    expect(new Set(keys).size).toBe(1)
    expect((await remit.server.remit.timeline('globex')).touches).toHaveLength(1)
  })

  it('a retry after a lost answer gets the same decision, not a second go', async () => {
    // The first request reaches Remit (and is decided), but its answer is lost.
    let first = true
    const server = createHttpServer(async (req, res) => {
      const chunks: Buffer[] = []
      for await (const c of req) chunks.push(c as Buffer)
      const upstream = await fetch(`${url}${req.url}`, {
        method: 'POST',
        headers: req.headers as Record<string, string>,
        body: Buffer.concat(chunks).toString(),
      })
      if (first) {
        first = false
        return res.destroy()
      }
      res.writeHead(upstream.status, { 'content-type': 'application/json' })
      res.end(await upstream.text())
    })
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
    extra.push(server)
    const client = createClient({ url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, key })
    const d = await client.decide(positioning)
    expect(d).toMatchObject({ verdict: 'go', replayed: true })
    expect((await remit.server.remit.timeline('globex')).touches).toHaveLength(1)
  })

  it('fails closed by default when Remit cannot be reached: stop, held, and says so', async () => {
    const client = createClient({ url: 'http://127.0.0.1:9', key, retries: 1, timeoutMs: 500 })
    const d = await client.decide(positioning)
    expect(d.verdict).toBe('stop')
    expect(d.unreachable).toMatchObject({ failMode: 'closed' })
    expect(d.reasons[0]).toMatchObject({
      rule: 'remit-unreachable',
      message: expect.stringContaining('held'),
    })
    expect(d.retryAfter).toBeDefined()
  })

  it('fails open only when configured, and says so', async () => {
    const client = createClient({ url: 'http://127.0.0.1:9', key, retries: 0, failMode: 'open' })
    const d = await client.decide(positioning)
    expect(d.verdict).toBe('go')
    expect(d.unreachable).toMatchObject({ failMode: 'open' })
    expect(d.reasons[0]?.message).toContain('ungated')
  })

  it('times out a Remit that does not answer', async () => {
    const hang = await flaky(99, () => {})
    const client = createClient({ url: hang.url, key, retries: 1, timeoutMs: 200 })
    const started = Date.now()
    const d = await client.decide(positioning)
    expect(d.unreachable?.error).toBe('timed out')
    expect(Date.now() - started).toBeLessThan(5000)
    expect(hang.seen).toHaveLength(2)
  })
})
