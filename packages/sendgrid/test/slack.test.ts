import { mkdtempSync } from 'node:fs'
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { DeliverOptions } from '@remit/core'
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
// - the Reject note's modal: views.open exchanges the click's trigger_id, single use, within 3 s
//   (expired_trigger_id, exchanged_trigger_id, invalid_trigger_id): https://docs.slack.dev/reference/methods/views.open
// - its submission, view_submission (view.callback_id, view.private_metadata,
//   view.state.values[block_id][action_id].value): https://docs.slack.dev/reference/interaction-payloads/view-interactions-payload
//   answered with an empty HTTP 200 (the modal closes) or {"response_action":"errors","errors":{block_id: message}}
//   (it stays open, the message under that input): https://docs.slack.dev/surfaces/modals
// - rate limits (HTTP 429, Retry-After in seconds): https://api.slack.com/apis/rate-limits

const seedPolicy = new URL('../../../examples/seed-week/remit.yaml', import.meta.url)
const SALES = 'C0SALES0001'
const DANA = 'U0DANA00001' // a member of sales
const MALLORY = 'U0MALLORY01' // in the channel, not a member of sales

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))
async function until<T>(
  probe: () => T | undefined | Promise<T | undefined>,
  what: string,
  withinMs = 3000,
): Promise<T> {
  for (let i = 0; i < withinMs / 10; i++) {
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

async function setup(o: { token?: string; delivery?: DeliverOptions } = {}) {
  const slack = await startFakeSlack({ channels: [SALES] })
  cleanup.push(() => slack.close())
  const app = slackApp({
    config: { teams: { sales: { channel: SALES, members: [DANA] } } },
    token: o.token ?? slack.token,
    signingSecret: slack.signingSecret,
    slackApiUrl: slack.apiUrl,
    delivery: o.delivery ?? { everyMs: 20, baseDelayMs: 20, maxDelayMs: 100 },
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
  const flag = async (withinMs = 3000) => {
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
      withinMs,
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
      [REJECT, `${reviewId}:${digest}`],
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

  it('Reject opens a modal for a note; submitted, the review is rejected with it, the mail dropped, the message shows it', async () => {
    const { slack, flag, interactivity, mail, engine } = await setup()
    const { message, reviewId } = await flag()
    const digest = (await engine.reviews.get(reviewId))?.digest
    const asShown = structuredClone(message)
    expect(
      await slack.click(interactivity, { message, actionId: REJECT, user: DANA, username: 'dana' }),
    ).toBe(200)
    // Nothing is rejected by the click itself: it opens the modal, for the one who clicked.
    expect(await engine.reviews.get(reviewId)).toMatchObject({ status: 'pending' })
    expect(slack.views).toHaveLength(1)
    const view = slack.views[0] as (typeof slack.views)[number]
    expect(view).toMatchObject({ user: DANA, callback_id: 'remit_reject' })
    expect(JSON.parse(view.private_metadata ?? '')).toEqual({ reviewId, digest })
    expect(view.blocks.find((b) => b.type === 'input')).toMatchObject({
      optional: true,
      label: { type: 'plain_text', text: 'Why (the agent and the log see this)' },
      element: { type: 'plain_text_input', multiline: true, max_length: 500 },
    })
    expect(await mail.release()).toEqual({ sent: [], dropped: [], waiting: 1 })
    const note = 'Wrong segment: <@U0ALL> is not renewing'
    expect(
      await slack.submit(interactivity, {
        view,
        user: DANA,
        username: 'dana',
        values: { remit_note: { note } },
      }),
    ).toEqual({ status: 200, body: undefined }) // an empty 200: the modal closes
    expect(await engine.reviews.get(reviewId)).toMatchObject({
      status: 'rejected',
      resolvedBy: 'slack:dana',
      note,
    })
    expect(await mail.release()).toEqual({ sent: [], dropped: ['renewal@a.example'], waiting: 0 })
    await until(() => !hasButtons(message), 'the message updated')
    // The note, escaped: no mention, no link.
    expect(textOf(message)).toContain(
      '*Rejected* by slack:dana — “Wrong segment: &lt;@U0ALL&gt; is not renewing”',
    )
    // Submitted again (a double submit): the modal says so, and nothing changes.
    expect(
      await slack.submit(interactivity, { view, user: DANA, values: { remit_note: { note: 'again' } } }),
    ).toEqual({
      status: 200,
      body: { response_action: 'errors', errors: { remit_note: expect.stringMatching(/already answered/) } },
    })
    expect(await engine.reviews.get(reviewId)).toMatchObject({ note })
    // Reject on a client still showing the buttons: told so, no modal.
    expect(await slack.click(interactivity, { message: asShown, actionId: REJECT, user: DANA })).toBe(200)
    expect(slack.views).toHaveLength(1)
    expect(slack.ephemerals).toMatchObject([{ user: DANA, text: expect.stringMatching(/already answered/) }])
  })

  it('Reject submitted with no note rejects with none; Approve stays one click', async () => {
    const { slack, flag, interactivity, engine } = await setup()
    const { message, reviewId } = await flag()
    expect(
      await slack.click(interactivity, { message, actionId: REJECT, user: DANA, username: 'dana' }),
    ).toBe(200)
    const view = slack.views[0] as (typeof slack.views)[number]
    expect(await slack.submit(interactivity, { view, user: DANA, username: 'dana' })).toEqual({
      status: 200,
      body: undefined,
    })
    const review = await engine.reviews.get(reviewId)
    expect(review).toMatchObject({ status: 'rejected', resolvedBy: 'slack:dana' })
    expect(review?.note).toBeUndefined()
    await until(() => !hasButtons(message), 'the message updated')
    expect(textOf(message)).toContain('*Rejected* by slack:dana: the action is stopped')
  })

  it("a non-member gets no modal from Reject, and a non-member's submission changes nothing", async () => {
    const { slack, flag, interactivity, mail, engine } = await setup()
    const { message, reviewId } = await flag()
    expect(await slack.click(interactivity, { message, actionId: REJECT, user: MALLORY })).toBe(200)
    expect(slack.views).toEqual([])
    expect(slack.ephemerals).toMatchObject([{ user: MALLORY, text: expect.stringMatching(/^Not yours/) }])
    // A modal Dana opened, submitted as Mallory (Slack would not; the app does not trust it either).
    expect(await slack.click(interactivity, { message, actionId: REJECT, user: DANA })).toBe(200)
    const view = slack.views[0] as (typeof slack.views)[number]
    expect(
      await slack.submit(interactivity, {
        view,
        user: MALLORY,
        values: { remit_note: { note: 'mine now' } },
      }),
    ).toEqual({
      status: 200,
      body: {
        response_action: 'errors',
        errors: {
          remit_note: expect.stringMatching(/^Not yours: this review is for the sales team's reviewers/),
        },
      },
    })
    expect(await engine.reviews.get(reviewId)).toMatchObject({ status: 'pending' })
    expect(await mail.release()).toEqual({ sent: [], dropped: [], waiting: 1 })
    expect(hasButtons(message)).toBe(true)
  })

  it('an expired trigger: the modal cannot open, the clicker is told to click again, nothing changes', async () => {
    const { slack, flag, interactivity, engine } = await setup()
    const { message, reviewId } = await flag()
    // The click reached Remit more than 3 s after Slack issued its trigger.
    expect(
      await slack.click(interactivity, { message, actionId: REJECT, user: DANA, triggerAgeMs: 3500 }),
    ).toBe(200)
    expect(slack.calls.filter((c) => c.method === 'views.open')).toMatchObject([{ ok: false }])
    expect(slack.views).toEqual([])
    expect(slack.ephemerals).toMatchObject([
      {
        channel: SALES,
        user: DANA,
        text: expect.stringMatching(/^Could not open the note; click Reject again/),
      },
    ])
    expect(await engine.reviews.get(reviewId)).toMatchObject({ status: 'pending' })
    // Clicked again, in time: it opens.
    expect(await slack.click(interactivity, { message, actionId: REJECT, user: DANA })).toBe(200)
    expect(slack.views).toHaveLength(1)
  })

  it('a submission with a bad signature or an old timestamp is a 401 and changes nothing', async () => {
    const { slack, flag, interactivity, engine } = await setup()
    const { message, reviewId } = await flag()
    expect(await slack.click(interactivity, { message, actionId: REJECT, user: DANA })).toBe(200)
    const view = slack.views[0] as (typeof slack.views)[number]
    const submit = (sign: { secret?: string; timestamp?: number; signature?: string }) =>
      slack.submit(interactivity, { view, user: DANA, values: { remit_note: { note: 'forged' } }, sign })
    expect((await submit({ secret: 'not-the-signing-secret' })).status).toBe(401)
    expect((await submit({ timestamp: Math.floor(Date.now() / 1000) - 6 * 60 })).status).toBe(401)
    expect((await submit({ signature: 'v0=00' })).status).toBe(401)
    expect(await engine.reviews.get(reviewId)).toMatchObject({ status: 'pending' })
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
  it('rate-limited (429 + Retry-After: 2): the post is not retried before 2 s, though the backoff is 50 ms, and arrives once', async () => {
    const { slack, flag, engine } = await setup({ delivery: { everyMs: 20, baseDelayMs: 50 } })
    slack.rateLimitNext(1, 2)
    const { message } = await flag(10_000)
    const posts = slack.calls.filter((c) => c.method === 'chat.postMessage')
    expect(posts.map((c) => c.status)).toEqual([429, 200]) // nothing in between
    const [limited, posted] = posts as [(typeof posts)[number], (typeof posts)[number]]
    expect(posted.at - limited.at).toBeGreaterThanOrEqual(2000)
    expect(slack.messages.size).toBe(1)
    expect(message.history).toHaveLength(1)
    const [m] = await until(async () => {
      const all = await engine.outbox.list({ channel: SLACK_CHANNEL })
      return all[0]?.status === 'delivered' ? all : undefined
    }, 'the post delivered')
    expect(m?.attempts).toBeGreaterThanOrEqual(2)
  }, 20_000)

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
