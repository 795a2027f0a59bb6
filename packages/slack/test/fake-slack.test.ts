import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { WebClient } from '@slack/web-api'
import { afterEach, describe, expect, it } from 'vitest'
import { verifySlackRequest } from '../src/index.ts'
import { type FakeSlack, type FakeSlackMessage, startFakeSlack } from '../src/testing.ts'

// The fake keeps Slack's contract for the Reject note's modal, so the app's tests fail where Slack
// would fail it:
// - views.open exchanges a click's trigger_id, once, within 3 s (expired_trigger_id,
//   exchanged_trigger_id, invalid_trigger_id): https://docs.slack.dev/reference/methods/views.open
// - the submission is a signed view_submission with view.callback_id, view.private_metadata and
//   view.state.values[block_id][action_id] = { type, value }:
//   https://docs.slack.dev/reference/interaction-payloads/view-interactions-payload

const CHANNEL = 'C0REVIEWS01'
const cleanup: (() => Promise<unknown>)[] = []
afterEach(async () => {
  for (const f of cleanup.splice(0).reverse()) await f()
})

/** An app's interactivity endpoint that answers 200 and keeps each payload (and whether it was signed). */
async function endpoint(slack: FakeSlack) {
  const got: { payload: Record<string, unknown>; signed: boolean }[] = []
  const server: Server = createServer(async (req, res) => {
    const chunks: Buffer[] = []
    for await (const c of req) chunks.push(c as Buffer)
    const raw = Buffer.concat(chunks).toString()
    got.push({
      payload: JSON.parse(new URLSearchParams(raw).get('payload') ?? '{}'),
      signed: verifySlackRequest(slack.signingSecret, req.headers, raw).ok,
    })
    res.writeHead(200).end()
  })
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
  cleanup.push(() => new Promise((r) => server.close(r)))
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/slack/interactivity`, got }
}

const modal = (title = 'Reject') => ({
  type: 'modal' as const,
  callback_id: 'remit_reject',
  private_metadata: '{"reviewId":"rev_1"}',
  title: { type: 'plain_text' as const, text: title },
  submit: { type: 'plain_text' as const, text: 'Reject' },
  blocks: [
    {
      type: 'input' as const,
      block_id: 'remit_note',
      optional: true,
      label: { type: 'plain_text' as const, text: 'Why' },
      element: { type: 'plain_text_input' as const, action_id: 'note', multiline: true, max_length: 10 },
    },
  ],
})

async function setup() {
  const slack = await startFakeSlack({ channels: [CHANNEL] })
  cleanup.push(() => slack.close())
  const client = new WebClient(slack.token, {
    slackApiUrl: slack.apiUrl,
    retryConfig: { retries: 0 },
    rejectRateLimitedCalls: true,
  })
  const posted = await client.chat.postMessage({
    channel: CHANNEL,
    text: 'a flag',
    blocks: [
      {
        type: 'actions',
        block_id: 'remit_review_rev_1',
        elements: [
          {
            type: 'button',
            action_id: 'remit_reject',
            value: 'rev_1',
            text: { type: 'plain_text', text: 'Reject' },
          },
        ],
      },
    ],
  })
  const message = slack.messages.get(posted.ts as string) as FakeSlackMessage
  const app = await endpoint(slack)
  /** Clicks Reject as `user` and returns the trigger_id the app got. */
  const trigger = async (user = 'U0DANA00001', triggerAgeMs?: number) => {
    expect(
      await slack.click(app.url, {
        message,
        actionId: 'remit_reject',
        user,
        ...(triggerAgeMs === undefined ? {} : { triggerAgeMs }),
      }),
    ).toBe(200)
    return app.got.at(-1)?.payload.trigger_id as string
  }
  const error = (p: Promise<unknown>) =>
    p.then(
      () => 'ok',
      (e: { data?: { error?: string } }) => e.data?.error,
    )
  return { slack, client, app, trigger, error }
}

describe("the fake Slack's views.open", () => {
  it('opens a modal with a trigger from a click, for the one who clicked, and records it', async () => {
    const { slack, client, trigger } = await setup()
    const triggerId = await trigger('U0DANA00001')
    expect(triggerId).toMatch(/^\d+\.\d+\.[0-9a-f]+$/)
    const answer = await client.views.open({ trigger_id: triggerId, view: modal() })
    expect(answer).toMatchObject({
      ok: true,
      view: { id: expect.stringMatching(/^V/), callback_id: 'remit_reject' },
    })
    expect(slack.views).toMatchObject([
      {
        user: 'U0DANA00001',
        triggerId,
        callback_id: 'remit_reject',
        private_metadata: '{"reviewId":"rev_1"}',
      },
    ])
  })

  it('a trigger is single use, expires after 3 s, and must be one Slack issued; the bot token is required', async () => {
    const { slack, client, trigger, error } = await setup()
    const triggerId = await trigger()
    await client.views.open({ trigger_id: triggerId, view: modal() })
    expect(await error(client.views.open({ trigger_id: triggerId, view: modal() }))).toBe(
      'exchanged_trigger_id',
    )
    expect(
      await error(client.views.open({ trigger_id: await trigger(undefined, 3100), view: modal() })),
    ).toBe('expired_trigger_id')
    expect(await error(client.views.open({ trigger_id: '1.2.abc', view: modal() }))).toBe(
      'invalid_trigger_id',
    )
    const anonymous = new WebClient(undefined, { slackApiUrl: slack.apiUrl, retryConfig: { retries: 0 } })
    expect(await error(anonymous.views.open({ trigger_id: await trigger(), view: modal() }))).toBe(
      'not_authed',
    )
    // A title over Slack's 24 characters is refused, and the trigger is not spent on it.
    const fresh = await trigger()
    expect(await error(client.views.open({ trigger_id: fresh, view: modal('x'.repeat(25)) }))).toBe(
      'invalid_arguments',
    )
    expect(await error(client.views.open({ trigger_id: fresh, view: modal() }))).toBe('ok')
    expect(slack.views).toHaveLength(2)
  })

  it('is rate-limited like any method: HTTP 429 with Retry-After, each call recorded with its time', async () => {
    const { slack, client, trigger, error } = await setup()
    const triggerId = await trigger()
    slack.rateLimitNext(1, 2)
    const before = Date.now()
    const rejected = await client.views
      .open({ trigger_id: triggerId, view: modal() })
      .catch((e: unknown) => e)
    expect(rejected).toMatchObject({ retryAfter: 2 })
    expect(slack.calls.at(-1)).toMatchObject({ method: 'views.open', status: 429, ok: false })
    expect(slack.calls.at(-1)?.at).toBeGreaterThanOrEqual(before)
    expect(await error(client.views.open({ trigger_id: triggerId, view: modal() }))).toBe('ok')
  })
})

describe("the fake Slack's submit", () => {
  it("sends a signed view_submission with the view's callback_id, private_metadata and state.values", async () => {
    const { slack, client, app, trigger } = await setup()
    await client.views.open({ trigger_id: await trigger(), view: modal() })
    const view = slack.views[0] as FakeSlack['views'][number]
    expect(
      await slack.submit(app.url, {
        view,
        user: 'U0DANA00001',
        username: 'dana',
        values: { remit_note: { note: 'why' } },
      }),
    ).toEqual({
      status: 200,
      body: undefined,
    })
    const { payload, signed } = app.got.at(-1) as { payload: Record<string, unknown>; signed: boolean }
    expect(signed).toBe(true)
    expect(payload).toMatchObject({
      type: 'view_submission',
      user: { id: 'U0DANA00001', username: 'dana' },
      view: {
        id: view.id,
        callback_id: 'remit_reject',
        private_metadata: '{"reviewId":"rev_1"}',
        state: { values: { remit_note: { note: { type: 'plain_text_input', value: 'why' } } } },
      },
    })
    // An input left empty is null, as Slack sends it.
    await slack.submit(app.url, { view, user: 'U0DANA00001' })
    expect(app.got.at(-1)?.payload.view).toMatchObject({
      state: {
        values: { remit_note: { note: { type: 'plain_text_input', value: null } } },
      },
    })
  })

  it("refuses what Slack's client would not send: text over max_length, an input the view lacks, a view never opened", async () => {
    const { slack, client, app, trigger } = await setup()
    await client.views.open({ trigger_id: await trigger(), view: modal() })
    const view = slack.views[0] as FakeSlack['views'][number]
    await expect(
      slack.submit(app.url, { view, user: 'U0DANA00001', values: { remit_note: { note: 'x'.repeat(11) } } }),
    ).rejects.toThrow(/max_length/)
    await expect(
      slack.submit(app.url, { view, user: 'U0DANA00001', values: { other: { note: 'x' } } }),
    ).rejects.toThrow(/no input other\/note/)
    await expect(slack.submit(app.url, { view: { ...view }, user: 'U0DANA00001' })).rejects.toThrow(
      /not opened/,
    )
  })
})
