import { mkdtempSync } from 'node:fs'
import { createServer as createHttpServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { DatabaseSync } from 'node:sqlite'
import { PREVIEW_LIMITS } from '@remit/core/api'
import clientModule from '@sendgrid/client'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { type Alert, type GateOptions, gate, HoldStore, type MailData } from '../src/index.ts'
import { bounded, PREVIEW_LIMITS as GATE_LIMITS, previewOf } from '../src/recipients.ts'
import {
  customers,
  emails,
  mailService,
  type Recorded,
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
const gates: { close(): Promise<void> }[] = []

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
  remit = undefined as unknown as RemitHarness
  sendgrid.requests.length = 0
})

const from = 'marketing@remit.example'
const content = { subject: 'The platform for the next five years', text: 'Hello from the premium tier.' }

async function setup(
  o: {
    holdPath?: string
    failMode?: 'closed' | 'open'
    url?: string
    sendgridUrl?: string
    gate?: Partial<GateOptions<MailData>>
  } = {},
) {
  remit ??= await startRemit()
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
    ...o.gate,
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

describe('reviewers see what they approve: each decision carries the message’s preview', () => {
  it("a flagged send's decision carries the subject, the sender's address, the text and the HTML", async () => {
    const mail = await setup()
    const html = '<p>Hello from the <b>premium</b> tier.</p>'
    const result = await mail.send({
      to: ['renewal@a.example'],
      from: { email: 'Marketing@Remit.example', name: 'Remit marketing' },
      ...content,
      html,
    })
    const decisionId = result.remit.held[0]?.decisionId as string
    const decision = await remit.server.remit.decisions.get(decisionId)
    expect(decision?.preview).toEqual({
      subject: content.subject,
      from: 'marketing@remit.example',
      text: content.text,
      html,
    })
    // …and so the review queue's item, which is the decision record on the wire.
    const record = await fetch(`${remit.url}/v1/decisions/${decisionId}`, {
      headers: { authorization: `Bearer ${remit.reviewerKey}` },
    })
    expect(((await record.json()) as { preview: unknown }).preview).toEqual(decision?.preview)
  })

  it("a long e-mail is previewed to Remit's bounds with an ellipsis, not refused", async () => {
    const mail = await setup()
    const result = await mail.send({
      to: ['renewal@a.example'],
      from,
      subject: 'S'.repeat(400),
      text: 'T'.repeat(25_000),
      // A surrogate pair across the cut is not split into a lone half Remit would refuse.
      html: `<p>${'h'.repeat(100_000 - 5)}😀${'h'.repeat(50_000)}</p>`,
    })
    expect(result.remit.held).toHaveLength(1)
    const preview = (await remit.server.remit.decisions.get(result.remit.held[0]?.decisionId as string))
      ?.preview
    expect(preview?.subject).toBe(`${'S'.repeat(299)}…`)
    expect(preview?.text).toBe(`${'T'.repeat(19_999)}…`)
    expect(preview?.html?.length).toBeLessThanOrEqual(100_000)
    expect(preview?.html?.endsWith('…')).toBe(true)
    expect(preview?.html?.isWellFormed()).toBe(true)
  })

  it("each recipient's own personalization subject is theirs; a retried send is the same request", async () => {
    const mail = await setup()
    const msg = {
      from,
      ...content,
      personalizations: [
        { to: ['renewal@a.example'], subject: 'Jane, your renewal' },
        { to: ['prospect@a.example'] },
      ],
    }
    const first = await mail.send(msg)
    const subjects = await Promise.all(
      first.remit.held.map(async (h) => [
        h.email,
        (await remit.server.remit.decisions.get(h.decisionId as string))?.preview?.subject,
      ]),
    )
    expect(Object.fromEntries(subjects)).toEqual({
      'renewal@a.example': 'Jane, your renewal',
      'prospect@a.example': content.subject,
    })
    const again = await mail.send(msg)
    expect(again.remit.held.map((h) => h.reviewId).sort()).toEqual(
      first.remit.held.map((h) => h.reviewId).sort(),
    )
  })

  it('preview: false sends none', async () => {
    const mail = await setup({ gate: { preview: false } })
    const result = await mail.send({ to: ['renewal@a.example'], from, ...content })
    const decision = await remit.server.remit.decisions.get(result.remit.held[0]?.decisionId as string)
    expect(decision?.preview).toBeUndefined()
  })

  it("reads v3's content parts, and keeps to Remit's own bounds", () => {
    expect(
      previewOf({
        personalizations: [{ to: [{ email: 'jane@a.example' }] }],
        from: 'Remit <News@Remit.example>',
        subject: 'Hi -name-',
        content: [
          { type: 'text/plain', value: 'Hi -name-' },
          { type: 'text/html', value: '<p>Hi -name-</p>' },
        ],
      }),
    ).toEqual({
      subject: 'Hi -name-',
      from: 'news@remit.example',
      text: 'Hi -name-',
      html: '<p>Hi -name-</p>',
    })
    expect(previewOf({ to: 'jane@a.example', templateId: 'd-123' })).toBeUndefined()
    expect(bounded('a\u0000b\ud800', 10)).toBe('ab\ufffd')
    const { link: _link, ...remitLimits } = PREVIEW_LIMITS
    expect(GATE_LIMITS).toEqual(remitLimits)
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

/**
 * A SendGrid that answers what the test says, in SendGrid's error shape (`{ errors: [{ message, field,
 * help }] }`), and keeps every request with the key it came with.
 */
async function fakeSendGrid() {
  type Answer = { status: number; body?: unknown; headers?: Record<string, string> }
  const requests: {
    auth: string
    method: string
    url: string
    subuser?: string | undefined
    body: Recorded['body'] & Record<string, unknown>
  }[] = []
  const fake = {
    answer: (_auth: string): Answer => ({ status: 202 }),
    requests,
    url: '',
    close: () => new Promise((r) => server.close(r)),
  }
  const server = createHttpServer(async (req, res) => {
    const chunks: Buffer[] = []
    for await (const c of req) chunks.push(c as Buffer)
    const auth = String(req.headers.authorization)
    const raw = Buffer.concat(chunks).toString()
    requests.push({
      auth,
      method: String(req.method),
      url: String(req.url),
      subuser: req.headers['on-behalf-of'] as string | undefined,
      body: raw ? JSON.parse(raw) : undefined,
    })
    const a = fake.answer(auth)
    res.writeHead(a.status, { 'content-type': 'application/json', ...a.headers })
    res.end(a.body === undefined ? '' : JSON.stringify(a.body))
  })
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
  fake.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
  return fake
}
const sendgridError = (message: string, field: string | null = null, help: string | null = null) => ({
  errors: [{ message, field, help }],
})
const fakes: { close(): Promise<unknown> }[] = []
afterEach(async () => {
  for (const f of fakes.splice(0)) await f.close()
})

async function approve(reviewId: string) {
  const res = await fetch(`${remit.url}/v1/reviews/${reviewId}/approve`, {
    method: 'POST',
    headers: { authorization: `Bearer ${remit.reviewerKey}` },
  })
  expect(res.status).toBe(200)
}

/** A gate in front of the fake SendGrid, on a clock the test moves, with its log and alerts kept. */
async function outbox(o: { key?: string } = {}) {
  const fake = await fakeSendGrid()
  fakes.push(fake)
  const clock = { now: Date.parse('2030-03-01T09:00:00Z') }
  const lines: { level: string; o: object; m: string }[] = []
  const raised: Alert[] = []
  const log = Object.fromEntries(
    (['info', 'warn', 'error'] as const).map((level) => [
      level,
      (o: object, m: string) => lines.push({ level, o, m }),
    ]),
  ) as unknown as NonNullable<GateOptions['log']>
  const svc = mailService(fake.url)
  if (o.key) svc.setApiKey(o.key)
  const client = (svc as unknown as { client: { setDefaultRequest(k: string, v: string): void } }).client
  client.setDefaultRequest('baseUrl', fake.url)
  remit ??= await startRemit()
  const holdPath = join(mkdtempSync(join(tmpdir(), 'remit-hold-')), 'held.db')
  const mail = gate(svc, {
    remit: { url: remit.url, key: remit.key },
    action: () => ({ kind: 'email.positioning' }),
    customer: customers,
    holdPath,
    releaseEveryMs: 0,
    now: () => clock.now,
    backoff: { baseMs: 10_000, maxMs: 600_000 },
    log,
    onAlert: (a) => raised.push(a),
  })
  gates.push(mail)
  // An approved, held e-mail to Acme's renewal contact, ready to be released.
  const result = await mail.send({ to: ['renewal@a.example'], from, ...content, subject: 'Held for sales' })
  const reviewId = result.remit.held[0]?.reviewId as string
  await approve(reviewId)
  // Setting the key resets @sendgrid/client's base URL to SendGrid's: the fake is put back each time.
  const setKey = (key: string) => {
    mail.setApiKey(key)
    client.setDefaultRequest('baseUrl', fake.url)
  }
  return { mail, fake, clock, lines, raised, reviewId, setKey, holdPath }
}

describe('a retried send is one e-mail', () => {
  it('the same send again (same content, same day) sends nothing, and says the recipient was already sent', async () => {
    const mail = await setup()
    const msg = { to: ['go1@a.example', 'go2@a.example'], from, ...content }
    const first = await mail.send(msg)
    const again = await mail.send(msg)
    expect(sendgrid.requests).toHaveLength(1)
    expect(again[0]).toBeNull()
    expect(again.remit.sent).toEqual([])
    expect(again.remit.alreadySent).toMatchObject([
      { email: 'go1@a.example', decisionId: first.remit.sent[0]?.decisionId, sentAt: expect.any(String) },
      { email: 'go2@a.example', decisionId: first.remit.sent[1]?.decisionId, sentAt: expect.any(String) },
    ])
    const timeline = await remit.server.remit.timeline('go1.a.example')
    expect(timeline.touches.map((t) => t.status)).toEqual(['sent'])
  })

  it('also after the sender restarted, and while the first send is still in flight', async () => {
    const holdPath = join(mkdtempSync(join(tmpdir(), 'remit-hold-')), 'held.db')
    const first = await setup({ holdPath })
    const msg = { to: ['go1@a.example'], from, ...content }
    const [a, b] = await Promise.all([first.send(msg), first.send(msg)])
    expect(sendgrid.requests).toHaveLength(1)
    expect([...(a?.remit.sent ?? []), ...(b?.remit.sent ?? [])].map((r) => r.email)).toEqual([
      'go1@a.example',
    ])
    expect([...(a?.remit.alreadySent ?? []), ...(b?.remit.alreadySent ?? [])]).toMatchObject([
      { email: 'go1@a.example', inFlight: true },
    ])
    await first.close()
    const second = await setup({ holdPath })
    const retried = await second.send(msg)
    expect(sendgrid.requests).toHaveLength(1)
    expect(retried.remit.alreadySent.map((r) => r.email)).toEqual(['go1@a.example'])
  })

  it('a send SendGrid refused is sent by its retry, as a new decision (the refused one stopped counting)', async () => {
    const fake = await fakeSendGrid()
    fakes.push(fake)
    fake.answer = () => ({ status: 503, body: sendgridError('Service unavailable') })
    const mail = await setup({ sendgridUrl: fake.url })
    const msg = { to: ['go1@a.example'], from, ...content }
    expect((await mail.send(msg).catch((e) => e)).code).toBe(503)
    fake.answer = () => ({ status: 202 })
    const retried = await mail.send(msg)
    expect(retried.remit.sent.map((r) => r.email)).toEqual(['go1@a.example'])
    expect(fake.requests).toHaveLength(2)
    const timeline = await remit.server.remit.timeline('go1.a.example')
    expect(timeline.touches.map((t) => t.status).sort()).toEqual(['failed', 'sent'])
    await mail.send(msg)
    expect(fake.requests).toHaveLength(2)
  })

  it('held mail that went out on approval is not held or sent again by a retried send', async () => {
    const mail = await setup()
    const msg = { to: ['renewal@a.example'], from, ...content }
    const first = await mail.send(msg)
    await approve(first.remit.held[0]?.reviewId as string)
    expect((await mail.release()).sent).toEqual(['renewal@a.example'])
    const again = await mail.send(msg)
    expect(again.remit.held).toEqual([])
    expect(again.remit.alreadySent.map((r) => r.email)).toEqual(['renewal@a.example'])
    expect(sendgrid.requests).toHaveLength(1)
  })
})

describe('held mail goes through a durable outbox: refused sends are kept, never silently dropped', () => {
  it('a 401 keeps it held and raises an alert (log, onAlert, alerts()) until the key is fixed; then it is sent once', async () => {
    const o = await outbox({ key: 'SG.revoked' })
    o.fake.answer = (auth) =>
      auth === 'Bearer SG.good'
        ? { status: 202 }
        : {
            status: 401,
            body: sendgridError('The provided authorization grant is invalid, expired, or revoked'),
          }

    expect(await o.mail.release()).toEqual({ sent: [], dropped: [], waiting: 1 })
    expect(o.mail.held()).toMatchObject([
      { reviewId: o.reviewId, status: 'held', attempts: 1, lastStatus: 401, nextAt: expect.any(Date) },
    ])
    expect(o.mail.held()[0]?.lastError).toBe(
      '401 Unauthorized: The provided authorization grant is invalid, expired, or revoked',
    )
    const alert = {
      kind: 'sendgrid-key',
      status: 401,
      reviewIds: [o.reviewId],
      error: expect.stringContaining('authorization grant is invalid'),
      message: expect.stringMatching(/^SendGrid refused the API key \(401\): 1 approved e-mail held/),
    }
    expect(o.mail.alerts()).toMatchObject([alert])
    expect(o.raised).toMatchObject([alert])
    expect(o.lines).toContainEqual({ level: 'error', o: expect.anything(), m: alert.message })

    // Still refused on the next attempts (after the backoff): still held, still alerting, never dropped.
    o.clock.now += 3_600_000
    expect(await o.mail.release()).toEqual({ sent: [], dropped: [], waiting: 1 })
    expect(o.mail.held()[0]).toMatchObject({ status: 'held', attempts: 2 })
    expect(o.raised).toHaveLength(2)

    // The fix: a new key. The mail is due at once, goes once, and the alert is gone.
    o.setKey('SG.good')
    expect(await o.mail.release()).toEqual({ sent: ['renewal@a.example'], dropped: [], waiting: 0 })
    expect(await o.mail.release()).toEqual({ sent: [], dropped: [], waiting: 0 })
    expect(o.fake.requests.filter((r) => r.auth === 'Bearer SG.good')).toHaveLength(1)
    expect(o.mail.held()).toMatchObject([{ status: 'sent', attempts: 3, sentAt: expect.any(Date) }])
    expect(o.mail.alerts()).toEqual([])
    expect((await remit.server.remit.timeline('renewal.a.example')).touches.map((t) => t.status)).toEqual([
      'sent',
    ])
  })

  it('a 403 (a key that may not send mail) keeps it held; fixed at SendGrid, it goes at the next retry', async () => {
    const o = await outbox()
    let fixed = false
    o.fake.answer = () =>
      fixed ? { status: 202 } : { status: 403, body: sendgridError('access forbidden', null, null) }
    await o.mail.release()
    expect(o.mail.alerts()).toMatchObject([{ kind: 'sendgrid-key', status: 403 }])
    fixed = true
    // Not before its backoff (10 s ×0.5–1.5): a refused key is not hammered.
    o.clock.now += 4_000
    expect(await o.mail.release()).toEqual({ sent: [], dropped: [], waiting: 1 })
    o.clock.now += 11_000
    expect(await o.mail.release()).toEqual({ sent: ['renewal@a.example'], dropped: [], waiting: 0 })
    expect(o.fake.requests).toHaveLength(2)
    expect(o.mail.alerts()).toEqual([])
  })

  it('429 then 202: sent once, after an exponential backoff with jitter on the injected clock', async () => {
    const o = await outbox()
    const answers = [429, 503, 202]
    o.fake.answer = () => {
      const status = answers.shift() ?? 500
      return status === 202 ? { status } : { status, body: sendgridError('Too many requests') }
    }
    const t0 = o.clock.now
    expect(await o.mail.release()).toEqual({ sent: [], dropped: [], waiting: 1 })
    const first = o.mail.held()[0]
    expect(first).toMatchObject({ status: 'held', lastStatus: 429, attempts: 1 })
    const wait1 = (first?.nextAt?.getTime() ?? 0) - t0
    expect(wait1).toBeGreaterThanOrEqual(5_000)
    expect(wait1).toBeLessThan(15_000)
    expect(o.lines).toContainEqual(
      expect.objectContaining({ level: 'warn', m: expect.stringMatching(/^held mail not sent \(429/) }),
    )
    expect(o.raised).toEqual([]) // a rate limit is not a person's problem

    // Not due yet: nothing is sent.
    expect(await o.mail.release()).toEqual({ sent: [], dropped: [], waiting: 1 })
    expect(o.fake.requests).toHaveLength(1)

    o.clock.now = t0 + wait1
    expect(await o.mail.release()).toEqual({ sent: [], dropped: [], waiting: 1 })
    const second = o.mail.held()[0]
    expect(second).toMatchObject({ lastStatus: 503, attempts: 2 })
    const wait2 = (second?.nextAt?.getTime() ?? 0) - o.clock.now
    expect(wait2).toBeGreaterThanOrEqual(10_000) // doubled
    expect(wait2).toBeLessThan(30_000)

    o.clock.now += wait2
    expect(await o.mail.release()).toEqual({ sent: ['renewal@a.example'], dropped: [], waiting: 0 })
    expect(await o.mail.release()).toEqual({ sent: [], dropped: [], waiting: 0 })
    expect(o.fake.requests).toHaveLength(3)
    expect(o.mail.held()).toMatchObject([{ status: 'sent', attempts: 3 }])
  })

  it("a 429's Retry-After is honoured when it is later than the backoff", async () => {
    const o = await outbox()
    o.fake.answer = () => ({
      status: 429,
      body: sendgridError('Too many requests'),
      headers: { 'retry-after': '120' },
    })
    await o.mail.release()
    expect(o.mail.held()[0]?.nextAt?.getTime()).toBe(o.clock.now + 120_000)
  })

  it("a 400 is a dead letter with SendGrid's message, not sent; retry() sends it once the cause is fixed", async () => {
    const o = await outbox()
    let fixed = false
    o.fake.answer = () =>
      fixed
        ? { status: 202 }
        : {
            status: 400,
            body: sendgridError(
              'The template_id must be a valid GUID.',
              'template_id',
              'http://sendgrid.com/docs/API_Reference/Web_API_v3/Mail/errors.html#message.template_id',
            ),
          }
    expect(await o.mail.release()).toEqual({ sent: [], dropped: [], waiting: 0, dead: ['renewal@a.example'] })
    const dead = o.mail.held()[0]
    expect(dead).toMatchObject({ status: 'dead', lastStatus: 400 })
    expect(dead?.lastError).toBe(
      '400 Bad Request: The template_id must be a valid GUID. (field template_id) — http://sendgrid.com/docs/API_Reference/Web_API_v3/Mail/errors.html#message.template_id',
    )
    expect(o.raised).toMatchObject([{ kind: 'dead-letter', reviewIds: [o.reviewId], status: 400 }])
    expect(o.mail.alerts()).toMatchObject([
      { kind: 'dead-letter', message: expect.stringContaining(`mail.retry('${o.reviewId}')`) },
    ])

    // A dead letter waits for a person: later releases leave it alone.
    o.clock.now += 86_400_000
    expect(await o.mail.release()).toEqual({ sent: [], dropped: [], waiting: 0 })
    expect(o.fake.requests).toHaveLength(1)
    // The touch still stands (reserved): the mail is approved and owed, not failed.
    expect((await remit.server.remit.timeline('renewal.a.example')).touches.map((t) => t.status)).toEqual([
      'reserved',
    ])

    fixed = true
    expect(await o.mail.retry(o.reviewId)).toMatchObject({ status: 'sent', attempts: 2 })
    expect(await o.mail.retry(o.reviewId)).toMatchObject({ status: 'sent', attempts: 2 })
    expect(o.fake.requests).toHaveLength(2)
    expect(o.mail.alerts()).toEqual([])
    expect((await remit.server.remit.timeline('renewal.a.example')).touches.map((t) => t.status)).toEqual([
      'sent',
    ])
  })

  it('retry() refuses mail whose review was rejected, and says so', async () => {
    const mail = await setup()
    const result = await mail.send({ to: ['renewal@a.example'], from, ...content })
    const reviewId = result.remit.held[0]?.reviewId as string
    await fetch(`${remit.url}/v1/reviews/${reviewId}/reject`, {
      method: 'POST',
      headers: { authorization: `Bearer ${remit.reviewerKey}` },
    })
    await mail.release()
    await expect(mail.retry(reviewId)).rejects.toThrow(/is rejected/)
    await expect(mail.retry('rev_missing')).rejects.toThrow(/no held mail for review rev_missing/)
  })

  it('a send is claimed with a lease: two releasers send it once; one that died mid-send is retried after its lease', async () => {
    const o = await outbox()
    const holdPath = o.holdPath
    // Another process's releaser on the same file claimed it, then died before SendGrid answered.
    const other = new HoldStore(holdPath, { now: () => o.clock.now })
    other.approve(o.reviewId)
    expect(other.claim(o.reviewId, 600_000)).toBe(true)
    other.close()
    expect(await o.mail.release()).toEqual({ sent: [], dropped: [], waiting: 1 })
    expect(o.fake.requests).toHaveLength(0)
    o.clock.now += 600_000
    // Two releasers at once, on the same file: one sends.
    const twin = gate(mailService(o.fake.url), {
      remit: { url: remit.url, key: remit.key },
      action: () => ({ kind: 'email.positioning' }),
      holdPath,
      releaseEveryMs: 0,
      now: () => o.clock.now,
    })
    gates.push(twin)
    const [a, b] = await Promise.all([o.mail.release(), twin.release()])
    expect([...a.sent, ...b.sent]).toEqual(['renewal@a.example'])
    expect(o.fake.requests).toHaveLength(1)
    expect(o.mail.held()).toMatchObject([{ status: 'sent' }])
  })
})

describe('a hold file of the first format is migrated in place', () => {
  it('gains the outbox columns; mail SendGrid refused becomes a dead letter, not lost; held mail still goes', async () => {
    const holdPath = join(mkdtempSync(join(tmpdir(), 'remit-hold-')), 'held.db')
    remit = await startRemit()
    // A held row as the first format wrote it, for a real review, then approved.
    const first = await setup({ holdPath })
    const result = await first.send({ to: ['renewal@a.example'], from, ...content })
    const reviewId = result.remit.held[0]?.reviewId as string
    await first.close()
    const db = new DatabaseSync(holdPath)
    db.exec(`DROP TABLE held; CREATE TABLE held (
      review_id TEXT PRIMARY KEY, decision_id TEXT NOT NULL, email TEXT NOT NULL, message TEXT NOT NULL,
      status TEXT NOT NULL, held_at INTEGER NOT NULL, note TEXT)`)
    const insert = db.prepare('INSERT INTO held VALUES (?, ?, ?, ?, ?, ?, ?)')
    const message = JSON.stringify({ from, ...content, personalizations: [{ to: ['renewal@a.example'] }] })
    insert.run(
      reviewId,
      result.remit.held[0]?.decisionId as string,
      'renewal@a.example',
      message,
      'held',
      1,
      null,
    )
    insert.run(
      'rev_refused',
      'dec_1',
      'x@a.example',
      message,
      'dropped',
      2,
      'SendGrid refused it: Unauthorized',
    )
    insert.run('rev_expired', 'dec_2', 'y@a.example', message, 'dropped', 3, 'expired: no answer')
    insert.run('rev_rejected', 'dec_3', 'z@a.example', message, 'dropped', 4, 'rejected: ')
    insert.run('rev_crashed', 'dec_4', 'w@a.example', message, 'sending', 5, null)
    db.close()
    await approve(reviewId)

    const mail = await setup({ holdPath })
    expect(mail.held().map((h) => [h.reviewId, h.status, h.lastError ?? h.note])).toEqual([
      [reviewId, 'held', undefined],
      ['rev_refused', 'dead', 'SendGrid refused it: Unauthorized'],
      ['rev_expired', 'expired', 'expired: no answer'],
      ['rev_rejected', 'rejected', 'rejected: '],
      ['rev_crashed', 'dead', expect.stringMatching(/^Interrupted while being sent by an earlier version/)],
    ])
    expect(mail.alerts().map((a) => [a.kind, a.reviewIds])).toEqual([
      ['dead-letter', ['rev_refused']],
      ['dead-letter', ['rev_crashed']],
    ])
    expect(await mail.release()).toEqual({ sent: ['renewal@a.example'], dropped: [], waiting: 0 })
    expect(sendgrid.requests).toHaveLength(1)
  })
})

describe('a @sendgrid/client Client is gated too', () => {
  const newClient = (baseUrl: string) => {
    const c = new (clientModule as unknown as { Client: new () => typeof clientModule }).Client()
    c.setApiKey('SG.test-key')
    c.setDefaultRequest('baseUrl', baseUrl)
    return c
  }
  const v3 = (to: string[]) => ({
    personalizations: [{ to: to.map((email) => ({ email })) }],
    from: { email: from },
    subject: content.subject,
    content: [{ type: 'text/plain', value: content.text }],
    categories: ['positioning'],
  })

  it('a POST /v3/mail/send is decided per recipient and accepted by the spec; held mail goes through the client', async () => {
    remit = await startRemit()
    const sent: string[] = []
    const client = gate(newClient(sendgrid.url), {
      remit: { url: remit.url, key: remit.key },
      action: (msg) => {
        sent.push(...(msg.categories ?? []))
        return { kind: 'email.positioning' }
      },
      customer: customers,
      holdPath: join(mkdtempSync(join(tmpdir(), 'remit-hold-')), 'held.db'),
      releaseEveryMs: 0,
    })
    gates.push(client)
    const [response, ,] = await client.request({
      method: 'POST',
      url: '/v3/mail/send',
      body: v3(['go1@a.example', 'ticket@a.example', 'renewal@a.example']),
    })
    const result = await client.request({ method: 'POST', url: '/v3/mail/send', body: v3(['go2@a.example']) })
    expect(response?.statusCode).toBe(202)
    expect(result.remit?.sent.map((r) => r.email)).toEqual(['go2@a.example'])
    expect(sent).toEqual(['positioning', 'positioning'])
    expect(sendgrid.requests.map((r) => r.status)).toEqual([202, 202])
    expect(emails(sendgrid.requests[0] as never)).toEqual([{ to: ['go1@a.example'] }])

    const held = client.held()
    expect(held.map((h) => h.email)).toEqual(['renewal@a.example'])
    await approve(held[0]?.reviewId as string)
    expect(await client.release()).toEqual({ sent: ['renewal@a.example'], dropped: [], waiting: 0 })
    expect(sendgrid.requests[2]?.status).toBe(202)
    expect(emails(sendgrid.requests[2] as never)).toEqual([{ to: ['renewal@a.example'] }])
  })

  it("held client mail keeps its request's headers but never a key: the release uses the client's own", async () => {
    remit = await startRemit()
    const fake = await fakeSendGrid()
    fakes.push(fake)
    const holdPath = join(mkdtempSync(join(tmpdir(), 'remit-hold-')), 'held.db')
    const client = gate(newClient(fake.url), {
      remit: { url: remit.url, key: remit.key },
      action: () => ({ kind: 'email.positioning' }),
      customer: customers,
      holdPath,
      releaseEveryMs: 0,
    })
    gates.push(client)
    const result = await client.request({
      method: 'POST',
      url: '/v3/mail/send',
      headers: { Authorization: 'Bearer SG.per-request', 'on-behalf-of': 'emea' },
      body: v3(['renewal@a.example']),
    })
    const reviewId = result.remit?.held[0]?.reviewId as string
    const store = new HoldStore(holdPath)
    expect(store.transport(reviewId)).toMatchObject({
      via: 'client',
      request: { method: 'POST', url: '/v3/mail/send', headers: { 'on-behalf-of': 'emea' } },
    })
    expect(JSON.stringify(store.transport(reviewId))).not.toMatch(/per-request/)
    store.close()
    await approve(reviewId)
    expect((await client.release()).sent).toEqual(['renewal@a.example'])
    expect(fake.requests).toMatchObject([{ auth: 'Bearer SG.test-key', subuser: 'emea' }])
  })

  it("other requests are the client's own, not decided", async () => {
    remit = await startRemit()
    const fake = await fakeSendGrid()
    fakes.push(fake)
    fake.answer = () => ({ status: 200, body: { scopes: ['mail.send'] } })
    const client = gate(newClient(fake.url), {
      remit: { url: remit.url, key: remit.key },
      action: () => ({ kind: 'email.positioning' }),
      holdPath: join(mkdtempSync(join(tmpdir(), 'remit-hold-')), 'held.db'),
      releaseEveryMs: 0,
    })
    gates.push(client)
    const [response, body] = await client.request({ method: 'GET', url: '/v3/scopes' })
    expect(response?.statusCode).toBe(200)
    expect(body).toEqual({ scopes: ['mail.send'] })
    expect(fake.requests.map((r) => `${r.method} ${r.url}`)).toEqual(['GET /v3/scopes'])
    await expect(
      client.request({ method: 'POST', url: '/v3/mail/send', body: { to: 'go1@a.example' } }),
    ).rejects.toThrow(/needs a body with `personalizations`/)
    expect(fake.requests).toHaveLength(1)
  })
})
