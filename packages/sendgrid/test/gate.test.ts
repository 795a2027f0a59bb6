import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { type GatedMail, gate } from '../src/index.ts'
import {
  customers,
  emails,
  mailService,
  type RemitHarness,
  recorder,
  startPrism,
  startRemit,
} from './harness.ts'

// The real @sendgrid/mail, through the gate, to Stoplight Prism serving SendGrid's published spec
// (tsg_mail_v3.json) in validating mode: Prism answers 202 only to requests the spec accepts.
let prism: Awaited<ReturnType<typeof startPrism>>
let remit: RemitHarness
let sendgrid: Awaited<ReturnType<typeof recorder>>
const gates: GatedMail[] = []

beforeAll(async () => {
  prism = await startPrism()
  sendgrid = await recorder(prism.url)
}, 60_000)
afterAll(async () => {
  prism.process.kill()
  await sendgrid.close()
})
afterEach(async () => {
  for (const g of gates.splice(0)) await g.close()
  await remit?.server.close()
  sendgrid.requests.length = 0
})

const from = 'marketing@remit.example'
const content = { subject: 'The platform for the next five years', text: 'Hello from the premium tier.' }

async function setup(
  o: { holdPath?: string; failMode?: 'closed' | 'open'; url?: string; sendgridUrl?: string } = {},
) {
  remit = await startRemit()
  const mail = gate(mailService(o.sendgridUrl ?? sendgrid.url), {
    remit: {
      url: o.url ?? remit.url,
      key: remit.key,
      ...(o.failMode ? { failMode: o.failMode, retries: 0, timeoutMs: 300 } : {}),
    },
    action: () => ({ kind: 'email.positioning' }),
    customer: customers,
    holdPath: o.holdPath ?? join(mkdtempSync(join(tmpdir(), 'remit-hold-')), 'held.db'),
    releaseEveryMs: 0,
  })
  gates.push(mail)
  return mail
}

describe('every way of addressing a message is gated per recipient, and accepted by the spec', () => {
  it('to: one address', async () => {
    const mail = await setup()
    const [response] = await mail.send({ to: 'go1@a.example', from, ...content })
    expect((response as { statusCode: number }).statusCode).toBe(202)
    expect(sendgrid.requests.map((r) => r.status)).toEqual([202])
    expect(emails(sendgrid.requests[0] as never)).toEqual([{ to: ['go1@a.example'] }])
  })

  it('to: [...] in one personalization, with a stopped recipient taken out', async () => {
    const mail = await setup()
    const result = await mail.send({
      to: ['go1@a.example', 'Go Two <go2@a.example>', 'ticket@a.example'],
      from,
      ...content,
    })
    expect(emails(sendgrid.requests[0] as never)).toEqual([{ to: ['go1@a.example', 'go2@a.example'] }])
    expect(result.remit.sent.map((r) => r.email)).toEqual(['go1@a.example', 'go2@a.example'])
    expect(result.remit.stopped).toMatchObject([
      { email: 'ticket@a.example', retryAfter: expect.any(String) },
    ])
    expect(result.remit.stopped[0]?.reasons[0]?.rule).toBe('ticket-pause')
  })

  it('isMultiple and sendMultiple: one personalization per recipient', async () => {
    const mail = await setup()
    await mail.send({ to: ['go1@a.example', 'go2@a.example'], from, ...content }, true)
    await mail.sendMultiple({ to: ['go3@a.example', 'renewal@a.example', 'go4@a.example'], from, ...content })
    expect(sendgrid.requests.map((r) => r.status)).toEqual([202, 202])
    expect(emails(sendgrid.requests[0] as never)).toEqual([
      { to: ['go1@a.example'] },
      { to: ['go2@a.example'] },
    ])
    expect(emails(sendgrid.requests[1] as never)).toEqual([
      { to: ['go3@a.example'] },
      { to: ['go4@a.example'] },
    ])
  })

  it('explicit personalizations with cc and bcc', async () => {
    const mail = await setup()
    const result = await mail.send({
      from,
      ...content,
      personalizations: [
        {
          to: [{ email: 'go1@a.example', name: 'One' }],
          cc: ['go2@a.example', 'prospect@a.example'],
          bcc: ['ticket@a.example'],
          subject: 'For One',
        },
        { to: ['go3@a.example'], bcc: [{ email: 'go4@a.example' }] },
      ],
    })
    expect(sendgrid.requests[0]?.status).toBe(202)
    expect(emails(sendgrid.requests[0] as never)).toEqual([
      { to: ['go1@a.example'], cc: ['go2@a.example'] },
      { to: ['go3@a.example'], bcc: ['go4@a.example'] },
    ])
    expect(result.remit.held.map((r) => r.email)).toEqual(['prospect@a.example'])
    expect(result.remit.stopped.map((r) => r.email)).toEqual(['ticket@a.example'])
  })

  it('an array of messages: each sent on its own', async () => {
    const mail = await setup()
    const results = await mail.send([
      { to: 'go1@a.example', from, ...content },
      { to: 'go2@a.example', from, ...content },
    ])
    expect(results).toHaveLength(2)
    expect(sendgrid.requests.map((r) => r.status)).toEqual([202, 202])
  })
})

describe('mixed verdicts in one send', () => {
  it('go is sent, stop is reported with why, flag is held with its review id', async () => {
    const mail = await setup()
    const result = await mail.send({
      to: ['go1@a.example', 'ticket@a.example', 'renewal@a.example'],
      from,
      ...content,
    })
    expect(emails(sendgrid.requests[0] as never)).toEqual([{ to: ['go1@a.example'] }])
    expect(result.remit.sent).toMatchObject([{ email: 'go1@a.example', decisionId: expect.any(String) }])
    expect(result.remit.stopped).toMatchObject([{ email: 'ticket@a.example' }])
    expect(result.remit.held).toMatchObject([
      { email: 'renewal@a.example', reviewId: expect.stringMatching(/^rev_/) },
    ])
    const timeline = await remit.server.remit.timeline('go1.a.example')
    expect(timeline.touches.map((t) => t.status)).toEqual(['sent'])
  })

  it('a personalization left with no `to` is dropped, and its other recipients are not sent', async () => {
    const mail = await setup()
    const result = await mail.send({
      from,
      ...content,
      personalizations: [{ to: ['renewal@a.example'], cc: ['go1@a.example'] }, { to: ['go2@a.example'] }],
    })
    expect(emails(sendgrid.requests[0] as never)).toEqual([{ to: ['go2@a.example'] }])
    expect(result.remit.dropped.map((r) => r.email)).toEqual(['go1@a.example'])
    // Its reservation was cancelled, so it does not count against the customer's limit.
    expect((await remit.server.remit.timeline('go1.a.example')).touches.map((t) => t.status)).toEqual([
      'cancelled',
    ])
  })

  it('when nothing is left, SendGrid is not called at all', async () => {
    const mail = await setup()
    const result = await mail.send({ to: ['ticket@a.example', 'renewal@a.example'], from, ...content })
    expect(result[0]).toBeNull()
    expect(sendgrid.requests).toEqual([])
  })

  it('sending the same message again decides nothing twice', async () => {
    const mail = await setup()
    const msg = { to: ['go1@a.example'], from, ...content }
    await mail.send(msg)
    await mail.send(msg)
    expect((await remit.server.remit.timeline('go1.a.example')).decisions).toHaveLength(1)
  })
})

describe('held mail', () => {
  it('is sent exactly once when approved, also after the process that held it restarted', async () => {
    const holdPath = join(mkdtempSync(join(tmpdir(), 'remit-hold-')), 'held.db')
    const first = await setup({ holdPath })
    const result = await first.send({
      to: ['renewal@a.example'],
      from,
      ...content,
      subject: 'Held for sales',
    })
    const reviewId = result.remit.held[0]?.reviewId as string
    await first.close()
    // The sales manager approves while the sender is down.
    const approve = await fetch(`${remit.url}/v1/reviews/${reviewId}/approve`, {
      method: 'POST',
      headers: { authorization: `Bearer ${remit.reviewerKey}` },
    })
    expect(approve.status).toBe(200)
    const second = gate(mailService(sendgrid.url), {
      remit: { url: remit.url, key: remit.key },
      action: () => ({ kind: 'email.positioning' }),
      customer: customers,
      holdPath,
      releaseEveryMs: 0,
    })
    gates.push(second)
    expect(await second.release()).toEqual({ sent: ['renewal@a.example'], dropped: [], waiting: 0 })
    expect(await second.release()).toEqual({ sent: [], dropped: [], waiting: 0 })
    expect(sendgrid.requests).toHaveLength(1)
    expect(sendgrid.requests[0]?.status).toBe(202)
    expect(emails(sendgrid.requests[0] as never)).toEqual([{ to: ['renewal@a.example'] }])
    const held = sendgrid.requests[0] as unknown as { body: { subject: string } }
    expect(held.body.subject).toBe('Held for sales')
    expect(second.held().map((h) => h.status)).toEqual(['sent'])
    expect((await remit.server.remit.timeline('renewal.a.example')).touches.map((t) => t.status)).toEqual([
      'sent',
    ])
  })

  it('waits while the review is pending, and is dropped when rejected', async () => {
    const mail = await setup()
    const result = await mail.send({ to: ['renewal@a.example'], from, ...content })
    expect(await mail.release()).toEqual({ sent: [], dropped: [], waiting: 1 })
    await fetch(`${remit.url}/v1/reviews/${result.remit.held[0]?.reviewId}/reject`, {
      method: 'POST',
      headers: { authorization: `Bearer ${remit.reviewerKey}` },
    })
    expect(await mail.release()).toEqual({ sent: [], dropped: ['renewal@a.example'], waiting: 0 })
    expect(sendgrid.requests).toEqual([])
  })

  it('is dropped when its review expires', async () => {
    const mail = await setup()
    await mail.send({ to: ['renewal@a.example'], from, ...content })
    await remit.server.remit.reviews.expire(new Date(Date.now() + 73 * 3600e3))
    expect(await mail.release()).toEqual({ sent: [], dropped: ['renewal@a.example'], waiting: 0 })
    expect(mail.held()[0]?.note).toMatch(/^expired/)
  })
})

describe('SendGrid errors', () => {
  for (const status of [400, 500]) {
    it(`a ${status} reaches the caller as @sendgrid/mail raises it, and the reservations stop counting`, async () => {
      const failing = await recorder(() => ({
        status,
        body: JSON.stringify({ errors: [{ message: 'nope', field: null }] }),
      }))
      const mail = await setup({ sendgridUrl: failing.url })
      const error = await mail.send({ to: ['go1@a.example'], from, ...content }).catch((e) => e)
      expect(error.code).toBe(status)
      expect(error.response.body.errors[0].message).toBe('nope')
      expect((await remit.server.remit.timeline('go1.a.example')).touches.map((t) => t.status)).toEqual([
        'failed',
      ])
      await failing.close()
    })
  }
})

describe('when Remit cannot be reached', () => {
  it('fails closed by default: nothing is sent, and the result says why', async () => {
    const mail = await setup({ url: 'http://127.0.0.1:9', failMode: 'closed' })
    const result = await mail.send({ to: ['go1@a.example'], from, ...content })
    expect(sendgrid.requests).toEqual([])
    expect(result.remit.stopped).toMatchObject([
      { email: 'go1@a.example', unreachable: true, reasons: [{ rule: 'remit-unreachable' }] },
    ])
  })

  it('fails open only when configured', async () => {
    const mail = await setup({ url: 'http://127.0.0.1:9', failMode: 'open' })
    const result = await mail.send({ to: ['go1@a.example'], from, ...content })
    expect(sendgrid.requests).toHaveLength(1)
    expect(result.remit.sent.map((r) => r.email)).toEqual(['go1@a.example'])
  })
})

describe("the rest of the surface is @sendgrid/mail's own", () => {
  it('setApiKey and friends pass through', async () => {
    const mail = await setup()
    expect(typeof mail.setApiKey).toBe('function')
    mail.setApiKey('SG.other')
    expect(typeof mail.setSubstitutionWrappers).toBe('function')
  })
})
