import { mkdtempSync, writeFileSync } from 'node:fs'
import { createServer, type IncomingHttpHeaders } from 'node:http'
import type { AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { openRemit, openSqliteStore } from '@remit/core'
import { afterEach, describe, expect, it } from 'vitest'
import {
  type ReviewEventType,
  readWebhooksFile,
  reviewWebhooks,
  signWebhook,
  verifyWebhook,
} from '../src/webhooks.ts'

const seedPolicy = new URL('../../../examples/seed-week/remit.yaml', import.meta.url).pathname
const SECRET = 'whsec-test-0123456789abcdef'
const acme = {
  accountId: 'acme',
  email: 'jane@acme.example',
  facts: { lifecycle: 'renewal', tier: 'enterprise' },
}
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

/** A receiver answering with `status()` for each request, keeping every request. */
async function receiver(status: () => number) {
  const got: { headers: IncomingHttpHeaders; body: string; status: number }[] = []
  const server = createServer(async (req, res) => {
    const chunks: Buffer[] = []
    for await (const c of req) chunks.push(c as Buffer)
    const answer = status()
    got.push({ headers: req.headers, body: Buffer.concat(chunks).toString(), status: answer })
    res.writeHead(answer).end()
  })
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/remit`,
    got,
    close: () => server.close(),
  }
}

const cleanup: (() => unknown)[] = []
afterEach(() => {
  for (const f of cleanup.splice(0)) f()
})

async function setup(status: () => number, events?: ReviewEventType[]) {
  const hook = await receiver(status)
  const remit = await openRemit({ policy: seedPolicy, store: openSqliteStore(':memory:') })
  cleanup.push(
    hook.close,
    reviewWebhooks(remit, [{ name: 'ops', url: hook.url, secret: SECRET, ...(events ? { events } : {}) }], {
      delivery: { everyMs: 20, baseDelayMs: 20, maxDelayMs: 50 },
    }),
  )
  return { hook, remit }
}

const delivered = (hook: { got: { status: number; body: string }[] }) =>
  hook.got.filter((r) => r.status < 300).map((r) => JSON.parse(r.body) as { id: string; type: string })

describe('signed webhooks for review events', () => {
  it('a flag and its approval are POSTed signed, retried through the outbox after a 500, delivered once each', async () => {
    let calls = 0
    const { hook, remit } = await setup(() => (++calls === 1 ? 500 : 200))
    const flag = await remit.decide('marketing-agent', {
      action: { kind: 'email.positioning' },
      customer: acme,
    })
    for (let i = 0; i < 200 && delivered(hook).length < 1; i++) await sleep(10)
    await remit.reviews.approve(flag.reviewId as string, { by: 'dana', team: 'sales' })
    for (let i = 0; i < 200 && delivered(hook).length < 2; i++) await sleep(10)
    await sleep(100)
    const events = delivered(hook)
    expect(events.map((e) => e.type)).toEqual(['review.opened', 'review.approved'])
    expect(events[0]).toMatchObject({
      review: { id: flag.reviewId, status: 'pending' },
      decision: { id: flag.id, agent: 'marketing-agent' },
    })
    expect(events[1]).toMatchObject({ review: { status: 'approved', outcome: 'go', resolvedBy: 'dana' } })
    // The 500'd attempt and its retry carry one event id; each event reached the receiver once.
    expect(hook.got[0]?.status).toBe(500)
    expect(hook.got[0]?.headers['remit-webhook-id']).toBe(events[0]?.id)
    expect(new Set(events.map((e) => e.id)).size).toBe(2)
    for (const r of hook.got) {
      expect(r.headers['content-type']).toBe('application/json')
      expect(JSON.parse(r.body).id).toBe(r.headers['remit-webhook-id'])
      expect(verifyWebhook(SECRET, r.headers, r.body)).toBe(true)
    }
    expect(await remit.outbox.list({ channel: 'webhook:ops' })).toMatchObject([
      { status: 'delivered', attempts: 2 },
      { status: 'delivered', attempts: 1 },
    ])
  })

  it('rejections and expiry are events too; a receiver gets only the events it asked for', async () => {
    const { hook, remit } = await setup(() => 204, ['review.rejected', 'review.expired'])
    const first = await remit.decide('marketing-agent', {
      action: { kind: 'email.positioning' },
      customer: acme,
    })
    const second = await remit.decide('marketing-agent', {
      action: { kind: 'email.positioning' },
      customer: { ...acme, accountId: 'acme2' },
    })
    await remit.reviews.reject(first.reviewId as string, { by: 'dana' })
    await remit.reviews.expire(new Date(Date.now() + 73 * 3600e3))
    for (let i = 0; i < 200 && delivered(hook).length < 2; i++) await sleep(10)
    await sleep(100)
    expect(
      delivered(hook).map((e) => [e.type, (e as unknown as { review: { id: string } }).review.id]),
    ).toEqual([
      ['review.rejected', first.reviewId],
      ['review.expired', second.reviewId],
    ])
  })

  it('a receiver verifies: another secret, another body or a timestamp over 5 minutes old fails', () => {
    const body = '{"id":"obx_1","type":"review.opened"}'
    const ts = Math.floor(Date.now() / 1000)
    const headers = {
      'remit-webhook-timestamp': String(ts),
      'remit-webhook-signature': signWebhook(SECRET, ts, body),
    }
    expect(verifyWebhook(SECRET, headers, body)).toBe(true)
    expect(verifyWebhook('another-secret-0123456', headers, body)).toBe(false)
    expect(verifyWebhook(SECRET, headers, `${body} `)).toBe(false)
    expect(verifyWebhook(SECRET, headers, body, { nowMs: (ts + 301) * 1000 })).toBe(false)
  })

  it('a receiver refusing the event itself (410) sets it aside as dead at once', async () => {
    const { remit } = await setup(() => 410)
    await remit.decide('marketing-agent', { action: { kind: 'email.positioning' }, customer: acme })
    for (let i = 0; i < 100 && !(await remit.outbox.list({ status: 'dead' })).length; i++) await sleep(10)
    expect(await remit.outbox.list({ channel: 'webhook:ops' })).toMatchObject([
      { status: 'dead', attempts: 1, lastError: 'ops: the receiver answered 410' },
    ])
  })
})

describe('the webhooks file', () => {
  const file = (text: string) => {
    const path = join(mkdtempSync(join(tmpdir(), 'remit-webhooks-')), 'webhooks.yaml')
    writeFileSync(path, text)
    return path
  }

  it('reads each secret from the environment variable it names', async () => {
    const path = file(
      'webhooks:\n  - { name: ops, url: "https://hooks.example/remit", secretEnv: OPS_SECRET, events: [review.opened] }\n',
    )
    expect(await readWebhooksFile(path, { OPS_SECRET: SECRET })).toEqual([
      { name: 'ops', url: 'https://hooks.example/remit', secret: SECRET, events: ['review.opened'] },
    ])
    await expect(readWebhooksFile(path, {})).rejects.toThrow(/set OPS_SECRET/)
  })

  it('names the key that is wrong', async () => {
    const path = file(
      'webhooks:\n  - { name: ops, url: "https://hooks.example", secretEnv: OPS_SECRET, events: [review.sent] }\n',
    )
    await expect(readWebhooksFile(path, { OPS_SECRET: SECRET })).rejects.toThrow(/webhooks\.0\.events\.0/)
  })
})
