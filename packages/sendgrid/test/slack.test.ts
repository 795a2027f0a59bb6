import { mkdtempSync } from 'node:fs'
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { startTestServer, type TestServer } from '@remit/server/testing'
import { APPROVE, REJECT, SLACK_CHANNEL, slackApp } from '@remit/slack'
import { type FakeSlackMessage, startFakeSlack } from '@remit/slack/testing'
import sendgrid from '@sendgrid/mail'
import { afterEach, describe, expect, it } from 'vitest'
import { gate, type MailService } from '../src/index.ts'

// Remit with Slack attached, the real @slack/web-api WebClient aimed at a fake Slack that keeps
// Slack's documented contract (../src/testing.ts), and a flagged send through the real
// @sendgrid/mail behind @remit/sendgrid's gate. Slack's contract, as these tests hold it:
// - chat.postMessage / chat.update / chat.postEphemeral: https://docs.slack.dev/reference/methods/chat.postMessage
// - signed requests (v0, 5-minute window): https://api.slack.com/docs/verifying-requests-from-slack
// - the click: https://docs.slack.dev/reference/interaction-payloads/block_actions-payload
// - rate limits (HTTP 429, Retry-After): https://api.slack.com/apis/rate-limits

const seedPolicy = new URL('../../../examples/seed-week/remit.yaml', import.meta.url)
const SALES = 'C0SALES0001'
const DANA = 'U0DANA00001' // a member of sales
const MALLORY = 'U0MALLORY01' // in the channel, not a member of sales

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))
async function until<T>(probe: () => T | undefined | Promise<T | undefined>, what: string): Promise<T> {
  for (let i = 0; i < 300; i++) {
    const value = await probe()
    if (value) return value
    await sleep(10)
  }
  throw new Error(`timed out waiting for ${what}`)
}

/** SendGrid's mail send, answering 202 and keeping each request's recipients. */
async function fakeSendGrid() {
  const sent: string[][] = []
  const server: Server = createServer(async (req, res) => {
    const chunks: Buffer[] = []
    for await (const c of req) chunks.push(c as Buffer)
    const body = JSON.parse(Buffer.concat(chunks).toString()) as {
      personalizations: { to: { email: string }[] }[]
    }
    sent.push(body.personalizations.flatMap((p) => p.to.map((t) => t.email)))
    res.writeHead(202).end()
  })
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
  const mail = new (
    sendgrid as unknown as {
      MailService: new () => MailService & { client: { setDefaultRequest(k: string, v: string): void } }
    }
  ).MailService()
  mail.setApiKey('SG.test-key')
  mail.client.setDefaultRequest('baseUrl', url)
  return { sent, mail, close: () => new Promise((r) => server.close(r)) }
}

const cleanup: (() => Promise<unknown> | unknown)[] = []
afterEach(async () => {
  for (const f of cleanup.splice(0).reverse()) await f()
})

async function setup(o: { token?: string } = {}) {
  const slack = await startFakeSlack({ channels: [SALES] })
  cleanup.push(() => slack.close())
  const app = slackApp({
    config: { teams: { sales: { channel: SALES, members: [DANA] } } },
    token: o.token ?? slack.token,
    signingSecret: slack.signingSecret,
    slackApiUrl: slack.apiUrl,
    delivery: { everyMs: 20, baseDelayMs: 20, maxDelayMs: 100 },
  })
  const remit: TestServer = await startTestServer({
    policy: seedPolicy,
    keys: { sendgrid: { agent: 'marketing-agent', tool: 'sendgrid:category/positioning' } },
    rawRoutes: app.routes,
  })
  cleanup.push(() => remit.close())
  cleanup.push(app.attach(remit.server.remit))
  const sg = await fakeSendGrid()
  cleanup.push(() => sg.close())
  const mail = gate(sg.mail, {
    remit: { url: remit.url, key: remit.keys.sendgrid as string },
    action: () => ({ kind: 'email.positioning' }),
    customer: (r: { email: string }) => ({
      accountId: r.email.replace('@', '.'),
      email: r.email,
      facts: { tier: 'smb', lifecycle: r.email.startsWith('renewal') ? 'renewal' : 'customer' },
    }),
    holdPath: join(mkdtempSync(join(tmpdir(), 'remit-slack-hold-')), 'held.db'),
    releaseEveryMs: 0,
  })
  cleanup.push(() => mail.close())
  const interactivity = `${remit.url}/slack/interactivity`
  /** A flagged send to renewal@a.example, held; its review and its Slack message once posted. */
  const flag = async () => {
    const result = await mail.send({
      to: 'renewal@a.example',
      from: 'marketing@remit.example',
      subject: 'Your renewal <b>offer</b>',
      html: '<p>Hello <script>alert(1)</script><b>Jane</b> &amp; team</p>',
    })
    const reviewId = result.remit.held[0]?.reviewId as string
    expect(reviewId).toBeTruthy()
    const message = await until(
      () => [...slack.messages.values()].find((m) => JSON.stringify(m.blocks).includes(reviewId)),
      'the flag posted',
    )
    return { reviewId, message }
  }
  return { slack, remit, mail, sg, interactivity, flag, engine: remit.server.remit }
}

const textOf = (m: FakeSlackMessage) => JSON.stringify(m.blocks)
const hasButtons = (m: FakeSlackMessage) => m.blocks.some((b) => b.type === 'actions')

describe('a flag in Slack', () => {
  it("is posted to the owning team's channel: customer, action, why, the content as text, expiry, Approve / Reject", async () => {
    const { flag, engine } = await setup()
    const { message, reviewId } = await flag()
    const digest = (await engine.reviews.get(reviewId))?.digest
    expect(digest).toMatch(/^[0-9a-f]{64}$/)
    expect(message.channel).toBe(SALES)
    const text = textOf(message)
    expect(text).toContain('renewal.a.example')
    expect(text).toContain('email.positioning')
    expect(text).toContain('Why it was flagged')
    expect(text).toContain('Subject: Your renewal <b>offer</b>') // plain_text: shown as typed, never rendered
    expect(text).toContain('Hello Jane & team') // the HTML body reduced to its text
    expect(text).not.toContain('<script>')
    expect(text).not.toContain('<p>')
    expect(text).toMatch(/expires \d{4}-\d\d-\d\dT/)
    const actions = message.blocks.find((b) => b.type === 'actions') as {
      elements: { action_id: string; value: string }[]
    }
    expect(actions.elements.map((e) => [e.action_id, e.value])).toEqual([
      [APPROVE, `${reviewId}:${digest}`], // Approve is bound to the request this message shows
      [REJECT, reviewId],
    ])
  })

  it('an Approve bound to another request than the review is refused: nothing is approved or sent', async () => {
    const { slack, flag, interactivity, mail, engine } = await setup()
    const { message, reviewId } = await flag()
    const actions = message.blocks.find((b) => b.type === 'actions') as { elements: { value: string }[] }
    const approve = actions.elements[0] as { value: string }
    approve.value = `${reviewId}:${'0'.repeat(64)}` // a message showing another request
    expect(await slack.click(interactivity, { message, actionId: APPROVE, user: DANA })).toBe(200)
    expect(slack.ephemerals).toMatchObject([{ user: DANA, text: expect.stringMatching(/another request/) }])
    expect(await engine.reviews.get(reviewId)).toMatchObject({ status: 'pending' })
    expect(await mail.release()).toEqual({ sent: [], dropped: [], waiting: 1 })
  })

  it('approved from its Slack button, the held e-mail is released exactly once, and the message says so', async () => {
    const { slack, flag, interactivity, mail, sg, engine } = await setup()
    const { message, reviewId } = await flag()
    expect(await mail.release()).toEqual({ sent: [], dropped: [], waiting: 1 })
    const asShown = structuredClone(message) // a second client still showing the buttons
    expect(
      await slack.click(interactivity, { message, actionId: APPROVE, user: DANA, username: 'dana' }),
    ).toBe(200)
    expect(await engine.reviews.get(reviewId)).toMatchObject({
      status: 'approved',
      outcome: 'go',
      resolvedBy: 'slack:dana',
    })
    expect(await mail.release()).toEqual({ sent: ['renewal@a.example'], dropped: [], waiting: 0 })
    expect(await mail.release()).toEqual({ sent: [], dropped: [], waiting: 0 })
    // A second click (Slack retries, or a double click) answers nothing twice.
    expect(await slack.click(interactivity, { message: asShown, actionId: APPROVE, user: DANA })).toBe(200)
    expect(slack.ephemerals).toMatchObject([{ user: DANA, text: expect.stringMatching(/already answered/) }])
    expect(await mail.release()).toEqual({ sent: [], dropped: [], waiting: 0 })
    expect(sg.sent).toEqual([['renewal@a.example']])
    const updated = await until(() => (hasButtons(message) ? undefined : message), 'the message updated')
    expect(textOf(updated)).toContain('*Approved* by slack:dana')
    expect(slack.messages.size).toBe(1)
  })

  it('a stop that became true after the flag wins over the approval from Slack, and the message says so', async () => {
    const { slack, flag, interactivity, mail, sg, engine } = await setup()
    const { message, reviewId } = await flag()
    // The customer unsubscribes while the flag waits.
    await engine.recordSuppression({
      accountId: 'renewal.a.example',
      email: 'renewal@a.example',
      reason: 'unsubscribe',
      source: 'sendgrid',
    })
    expect(await slack.click(interactivity, { message, actionId: APPROVE, user: DANA })).toBe(200)
    expect(await engine.reviews.get(reviewId)).toMatchObject({ status: 'approved', outcome: 'stop' })
    expect((await mail.release()).sent).toEqual([])
    expect(sg.sent).toEqual([])
    await until(() => !hasButtons(message), 'the message updated')
    expect(textOf(message)).toContain('but a stop won')
  })

  it('rejected from Slack: dropped, and the message says who rejected it', async () => {
    const { slack, flag, interactivity, mail, engine } = await setup()
    const { message, reviewId } = await flag()
    expect(
      await slack.click(interactivity, { message, actionId: REJECT, user: DANA, username: 'dana' }),
    ).toBe(200)
    expect(await engine.reviews.get(reviewId)).toMatchObject({ status: 'rejected' })
    expect((await mail.release()).dropped).toEqual(['renewal@a.example'])
    await until(() => !hasButtons(message), 'the message updated')
    expect(textOf(message)).toContain('*Rejected* by slack:dana')
  })

  it('answered in the console (the API), the Slack message is updated too', async () => {
    const { slack, flag, engine } = await setup()
    const { message, reviewId } = await flag()
    await engine.reviews.approve(reviewId, { by: 'dana@console', team: 'sales' })
    await until(() => !hasButtons(message), 'the message updated')
    expect(textOf(message)).toContain('*Approved* by dana@console')
    expect(slack.calls.filter((c) => c.method === 'chat.update' && c.ok)).toHaveLength(1)
  })

  it('expiry updates the Slack message', async () => {
    const { flag, engine, mail } = await setup()
    const { message, reviewId } = await flag()
    await engine.reviews.expire(new Date(Date.now() + 73 * 3600e3))
    expect(await engine.reviews.get(reviewId)).toMatchObject({ status: 'expired' })
    await until(() => !hasButtons(message), 'the message updated')
    expect(textOf(message)).toContain('*Expired*')
    expect((await mail.release()).dropped).toEqual(['renewal@a.example'])
  })

  it('a click from someone not mapped to the team gets an ephemeral "not yours" and changes nothing', async () => {
    const { slack, flag, interactivity, engine } = await setup()
    const { message, reviewId } = await flag()
    expect(await slack.click(interactivity, { message, actionId: APPROVE, user: MALLORY })).toBe(200)
    expect(await engine.reviews.get(reviewId)).toMatchObject({ status: 'pending' })
    expect(slack.ephemerals).toMatchObject([
      { channel: SALES, user: MALLORY, text: expect.stringMatching(/^Not yours/) },
    ])
    expect(hasButtons(message)).toBe(true)
  })

  it('a bad signature or an old timestamp is a 401 and changes nothing', async () => {
    const { slack, flag, interactivity, engine } = await setup()
    const { message, reviewId } = await flag()
    const click = (sign: { secret?: string; timestamp?: number; signature?: string }) =>
      slack.click(interactivity, { message, actionId: APPROVE, user: DANA, sign })
    expect(await click({ secret: 'not-the-signing-secret' })).toBe(401)
    expect(await click({ timestamp: Math.floor(Date.now() / 1000) - 6 * 60 })).toBe(401)
    expect(await click({ signature: 'v0=00' })).toBe(401)
    expect(await click({ signature: '' })).toBe(401)
    expect(await engine.reviews.get(reviewId)).toMatchObject({ status: 'pending' })
    expect(slack.ephemerals).toEqual([])
  })
})

describe('Slack failing as Slack fails: the outbox keeps the work', () => {
  it('rate-limited (429 + Retry-After): the post is retried and arrives once', async () => {
    const { slack, flag } = await setup()
    slack.rateLimitNext(2)
    const { message } = await flag()
    expect(slack.calls.filter((c) => c.status === 429)).toHaveLength(2)
    expect(slack.messages.size).toBe(1)
    expect(message.history).toHaveLength(1)
  })

  it('an outage loses nothing: a review answered while Slack is down shows its answer when Slack is back', async () => {
    const { slack, mail, engine } = await setup()
    slack.failWith('service_unavailable', 503)
    const result = await mail.send({
      to: 'renewal@a.example',
      from: 'marketing@remit.example',
      subject: 'Hi',
      text: 'Hello',
    })
    const reviewId = result.remit.held[0]?.reviewId as string
    await engine.reviews.approve(reviewId, { by: 'dana@console', team: 'sales' })
    await sleep(100)
    expect(slack.messages.size).toBe(0)
    slack.failWith(undefined)
    const message = await until(() => [...slack.messages.values()][0], 'the post')
    await until(() => !hasButtons(message), 'the answer shown')
    expect(textOf(message)).toContain('*Approved* by dana@console')
    await until(
      async () =>
        (await engine.outbox.list({ channel: SLACK_CHANNEL, status: 'pending' })).length === 0 || undefined,
      'the outbox drained',
    )
    expect(slack.messages.size).toBe(1)
  })

  it('a wrong bot token (invalid_auth) keeps the post pending, to go once the token is fixed', async () => {
    const { engine, mail } = await setup({ token: 'xoxb-wrong' })
    await mail.send({
      to: 'renewal@a.example',
      from: 'marketing@remit.example',
      subject: 'Hi',
      text: 'Hello',
    })
    const [m] = await until(async () => {
      const pending = await engine.outbox.list({ channel: SLACK_CHANNEL })
      return pending[0]?.lastError ? pending : undefined
    }, 'a failed attempt')
    expect(m).toMatchObject({ status: 'pending', lastError: 'Slack refused: invalid_auth' })
  })

  it("an unknown channel (channel_not_found) is dead at once, for an operator's retry", async () => {
    const slack = await startFakeSlack({ channels: [] })
    cleanup.push(() => slack.close())
    const app = slackApp({
      config: { teams: { sales: { channel: SALES, members: [DANA] } } },
      token: slack.token,
      signingSecret: slack.signingSecret,
      slackApiUrl: slack.apiUrl,
      delivery: { everyMs: 20 },
    })
    const remit = await startTestServer({ policy: seedPolicy, listen: false })
    cleanup.push(() => remit.close())
    cleanup.push(app.attach(remit.server.remit))
    await remit.server.remit.decide('marketing-agent', {
      action: { kind: 'email.positioning' },
      customer: { accountId: 'acme', facts: { lifecycle: 'renewal', tier: 'smb' } },
    })
    const dead = await until(
      async () => (await remit.server.remit.outbox.list({ status: 'dead' }))[0],
      'a dead message',
    )
    expect(dead).toMatchObject({
      channel: SLACK_CHANNEL,
      lastError: 'Slack refused: channel_not_found',
      attempts: 1,
    })
  })
})
