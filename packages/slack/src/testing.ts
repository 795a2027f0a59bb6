/**
 * `@remit/slack/testing` — a fake Slack for tests, speaking Slack's documented contract so a test
 * fails where Slack would: the Web API (`POST /api/<method>`, form-encoded or JSON, the bot token as
 * `Authorization: Bearer xoxb-…`; `{ ok: true, … }` or `{ ok: false, error }` — `invalid_auth`,
 * `channel_not_found`, `message_not_found` — and HTTP 429 with `Retry-After` and `ratelimited` when
 * rate-limited), `views.open` with a click's `trigger_id` (single use, valid 3 s:
 * `expired_trigger_id`, `exchanged_trigger_id`, `invalid_trigger_id` otherwise;
 * https://docs.slack.dev/reference/methods/views.open), and the interactivity side: a click or a
 * modal's submission sent as Slack sends it, `payload=` form-encoded JSON of a `block_actions` or
 * `view_submission` event (https://docs.slack.dev/reference/interaction-payloads/view-interactions-payload),
 * signed with the app's signing secret (v0).
 */
import { randomBytes, randomUUID } from 'node:crypto'
import { createServer, type IncomingMessage, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { slackSignature } from './signature.ts'

export interface FakeSlackMessage {
  channel: string
  ts: string
  text?: string
  blocks: Record<string, unknown>[]
  /** Every version of the message, the first as posted. */
  history: { text?: string; blocks: Record<string, unknown>[] }[]
}

export interface FakeEphemeral {
  channel: string
  user: string
  text: string
}

/** A modal opened with `views.open`, as the app sent it (`view`), for the user whose click issued the trigger. */
export interface FakeView {
  /** Slack's id for it (`V…`). */
  id: string
  /** The user it was opened for: the one who clicked. */
  user: string
  triggerId: string
  callback_id?: string
  private_metadata?: string
  blocks: Record<string, unknown>[]
  /** The whole view object, as sent. */
  view: Record<string, unknown>
  /** When it was opened (ms). */
  at: number
}

/** How long a click's `trigger_id` may be exchanged for a modal (Slack: 3 seconds). */
export const TRIGGER_TTL_MS = 3000

export interface FakeSlackOptions {
  /** The bot token it accepts (default `xoxb-test-token`). */
  token?: string
  /** The channels that exist (where the bot is a member). */
  channels: string[]
  /** The signing secret clicks are signed with (default `test-signing-secret`). */
  signingSecret?: string
}

export interface FakeSlack {
  /** The Web API base, for `slackApiUrl` (ends in `/api/`). */
  apiUrl: string
  token: string
  signingSecret: string
  /** Messages posted, by `ts`. */
  messages: Map<string, FakeSlackMessage>
  ephemerals: FakeEphemeral[]
  /** Modals opened with `views.open`, in order. */
  views: FakeView[]
  /** Every Web API call: its method, whether Slack said ok, its HTTP status, and when it was answered (ms). */
  calls: { method: string; ok: boolean; status: number; at: number }[]
  /** Answers the next `n` calls with HTTP 429, `Retry-After: seconds`. */
  rateLimitNext(n: number, seconds?: number): void
  /** Answers every call with this error until cleared (undefined), e.g. an outage as `service_unavailable`. */
  failWith(error: string | undefined, status?: number): void
  /**
   * Clicks a button of a posted message as `user`, sending the signed `block_actions` payload to
   * `url` as Slack does; `sign` changes how (a wrong secret, an old timestamp). The payload's
   * `trigger_id` is good for one `views.open` within 3 s of the click; `triggerAgeMs` ages it (over
   * 3000: already expired when the app gets it). Returns the HTTP status.
   */
  click(
    url: string,
    o: {
      message: FakeSlackMessage
      actionId: string
      user: string
      username?: string
      triggerAgeMs?: number
      sign?: { secret?: string; timestamp?: number; signature?: string }
    },
  ): Promise<number>
  /**
   * Submits a modal the app opened, sending the signed `view_submission` payload to `url` as Slack
   * does: `view.state.values[block_id][action_id]` holds each input's `{ type, value }`, from
   * `values` (`{ [block_id]: { [action_id]: text } }`; an input not given is `null`). Slack's client
   * sends it only when the inputs are valid: a required input left empty or text over an input's
   * `max_length` throws here. Slack sends only the opener's submissions; `user` may be another, to
   * test that the app checks. Returns the HTTP status and the parsed JSON body (undefined when empty:
   * the modal closes).
   */
  submit(
    url: string,
    o: {
      view: FakeView
      user: string
      username?: string
      values?: Record<string, Record<string, string | null>>
      sign?: { secret?: string; timestamp?: number; signature?: string }
    },
  ): Promise<{ status: number; body: unknown }>
  close(): Promise<void>
}

async function readBody(req: IncomingMessage): Promise<Record<string, unknown>> {
  const chunks: Buffer[] = []
  for await (const c of req) chunks.push(c as Buffer)
  const raw = Buffer.concat(chunks).toString()
  if (String(req.headers['content-type']).startsWith('application/json')) return raw ? JSON.parse(raw) : {}
  const out: Record<string, unknown> = {}
  for (const [k, v] of new URLSearchParams(raw)) out[k] = v
  return out
}

/** Block Kit arrives as JSON text in form-encoded calls, as an array in JSON calls. */
const blocksOf = (v: unknown) =>
  (typeof v === 'string' ? JSON.parse(v) : (v ?? [])) as Record<string, unknown>[]

export async function startFakeSlack(o: FakeSlackOptions): Promise<FakeSlack> {
  const token = o.token ?? 'xoxb-test-token'
  const signingSecret = o.signingSecret ?? 'test-signing-secret'
  const messages = new Map<string, FakeSlackMessage>()
  const ephemerals: FakeEphemeral[] = []
  const views: FakeView[] = []
  const calls: FakeSlack['calls'] = []
  /** Triggers issued by clicks: when, for whom, and whether one was exchanged already. */
  const triggers = new Map<string, { issuedAt: number; user: string; used: boolean }>()
  const issueTrigger = (user: string, ageMs = 0) => {
    // Slack's shape: `132456.7890123.abcdef`.
    const id = `${Math.floor(Date.now() / 1000)}.${1000000 + triggers.size}.${randomBytes(16).toString('hex')}`
    triggers.set(id, { issuedAt: Date.now() - ageMs, user, used: false })
    return id
  }
  let limited = 0
  let retryAfter = 1
  let failure: { error: string; status: number } | undefined
  let clock = 1_700_000_000
  const nextTs = () => `${++clock}.000100`

  const server: Server = createServer(async (req, res) => {
    const method = (req.url ?? '').replace(/^\/api\//, '').split('?')[0] as string
    const send = (status: number, body: Record<string, unknown>, headers: Record<string, string> = {}) => {
      calls.push({ method, ok: body.ok === true, status, at: Date.now() })
      res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', ...headers })
      res.end(JSON.stringify(body))
    }
    const args = await readBody(req)
    if (limited > 0) {
      limited--
      return send(429, { ok: false, error: 'ratelimited' }, { 'retry-after': String(retryAfter) })
    }
    if (failure) return send(failure.status, { ok: false, error: failure.error })
    // The token in the Authorization header (or, as Slack also takes it, a `token` argument).
    const auth = String(req.headers.authorization ?? '')
    const given = auth.startsWith('Bearer ') ? auth.slice(7) : (args.token as string | undefined)
    if (!given) return send(200, { ok: false, error: 'not_authed' })
    if (given !== token) return send(200, { ok: false, error: 'invalid_auth' })
    const channel = args.channel as string | undefined
    if (['chat.postMessage', 'chat.update', 'chat.postEphemeral'].includes(method)) {
      if (!channel) return send(200, { ok: false, error: 'channel_not_found' })
      if (!o.channels.includes(channel)) return send(200, { ok: false, error: 'channel_not_found' })
      if (!args.text && !args.blocks) return send(200, { ok: false, error: 'no_text' })
    }
    const version = { text: args.text as string | undefined, blocks: blocksOf(args.blocks) }
    switch (method) {
      case 'chat.postMessage': {
        const ts = nextTs()
        messages.set(ts, { channel: channel as string, ts, ...version, history: [version] })
        return send(200, { ok: true, channel, ts, message: { ...version, ts } })
      }
      case 'chat.update': {
        const m = messages.get(args.ts as string)
        if (!m || m.channel !== channel) return send(200, { ok: false, error: 'message_not_found' })
        Object.assign(m, version)
        m.history.push(version)
        return send(200, { ok: true, channel, ts: m.ts, text: m.text })
      }
      case 'views.open': {
        const id = args.trigger_id as string | undefined
        if (!id) return send(200, { ok: false, error: 'invalid_arguments' })
        const trigger = triggers.get(id)
        if (!trigger) return send(200, { ok: false, error: 'invalid_trigger_id' })
        if (trigger.used) return send(200, { ok: false, error: 'exchanged_trigger_id' })
        if (Date.now() - trigger.issuedAt > TRIGGER_TTL_MS)
          return send(200, { ok: false, error: 'expired_trigger_id' })
        const view = viewOf(args.view)
        if (!view) return send(200, { ok: false, error: 'invalid_arguments' })
        trigger.used = true
        const opened: FakeView = {
          id: `V${randomBytes(5).toString('hex').toUpperCase()}`,
          user: trigger.user,
          triggerId: id,
          ...(typeof view.callback_id === 'string' ? { callback_id: view.callback_id } : {}),
          ...(typeof view.private_metadata === 'string' ? { private_metadata: view.private_metadata } : {}),
          blocks: view.blocks as Record<string, unknown>[],
          view,
          at: Date.now(),
        }
        views.push(opened)
        return send(200, {
          ok: true,
          view: {
            ...view,
            id: opened.id,
            team_id: 'T0TEST',
            state: { values: {} },
            hash: `${Date.now()}.abc`,
          },
        })
      }
      case 'chat.postEphemeral': {
        if (!args.user) return send(200, { ok: false, error: 'user_not_in_channel' })
        ephemerals.push({ channel: channel as string, user: args.user as string, text: args.text as string })
        return send(200, { ok: true, message_ts: nextTs() })
      }
      default:
        return send(200, { ok: false, error: 'unknown_method' })
    }
  })
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`

  /** POSTs `payload` to `url` as Slack does: form-encoded `payload=<JSON>`, signed (v0). */
  const sendSigned = (
    url: string,
    payload: Record<string, unknown>,
    sign: { secret?: string; timestamp?: number; signature?: string } = {},
  ) => {
    const body = new URLSearchParams({ payload: JSON.stringify(payload) }).toString()
    const timestamp = String(sign.timestamp ?? Math.floor(Date.now() / 1000))
    const signature = sign.signature ?? slackSignature(sign.secret ?? signingSecret, timestamp, body)
    return fetch(url, {
      method: 'POST',
      headers: {
        'content-type': 'application/x-www-form-urlencoded',
        'x-slack-request-timestamp': timestamp,
        'x-slack-signature': signature,
      },
      body,
    })
  }

  return {
    apiUrl: `${base}/api/`,
    token,
    signingSecret,
    messages,
    ephemerals,
    views,
    calls,
    rateLimitNext(n, seconds = 1) {
      limited = n
      retryAfter = seconds
    },
    failWith(error, status = 200) {
      failure = error === undefined ? undefined : { error, status }
    },
    async click(url, c) {
      const action = findButton(c.message, c.actionId)
      const payload = {
        type: 'block_actions',
        user: { id: c.user, username: c.username ?? c.user.toLowerCase(), team_id: 'T0TEST' },
        api_app_id: 'A0TEST',
        token: 'deprecated-verification-token',
        container: {
          type: 'message',
          message_ts: c.message.ts,
          channel_id: c.message.channel,
          is_ephemeral: false,
        },
        trigger_id: issueTrigger(c.user, c.triggerAgeMs),
        team: { id: 'T0TEST', domain: 'test' },
        channel: { id: c.message.channel, name: 'reviews' },
        message: { type: 'message', ts: c.message.ts, text: c.message.text, blocks: c.message.blocks },
        response_url: `${base}/actions/${randomUUID()}`,
        actions: [{ ...action, block_id: action.block_id, action_ts: `${Date.now() / 1000}` }],
      }
      const res = await sendSigned(url, payload, c.sign)
      await res.text()
      return res.status
    },
    async submit(url, c) {
      if (!views.includes(c.view)) throw new Error(`view ${c.view.id} was not opened with views.open`)
      const values = stateValues(c.view, c.values ?? {})
      const payload = {
        type: 'view_submission',
        team: { id: 'T0TEST', domain: 'test' },
        user: {
          id: c.user,
          username: c.username ?? c.user.toLowerCase(),
          name: c.username ?? c.user.toLowerCase(),
          team_id: 'T0TEST',
        },
        api_app_id: 'A0TEST',
        token: 'deprecated-verification-token',
        trigger_id: issueTrigger(c.user),
        view: {
          ...c.view.view,
          id: c.view.id,
          team_id: 'T0TEST',
          type: 'modal',
          callback_id: c.view.callback_id ?? '',
          private_metadata: c.view.private_metadata ?? '',
          state: { values },
          hash: `${Date.now()}.abc`,
          root_view_id: c.view.id,
          previous_view_id: null,
          app_id: 'A0TEST',
          bot_id: 'B0TEST',
        },
        response_urls: [],
        is_enterprise_install: false,
        enterprise: null,
      }
      const res = await sendSigned(url, payload, c.sign)
      const text = await res.text()
      let body: unknown
      if (text) {
        try {
          body = JSON.parse(text)
        } catch {
          body = text
        }
      }
      return { status: res.status, body }
    },
    close: () => new Promise((r) => server.close(() => r())),
  }
}

/** The button `actionId` in a message's actions blocks (as Slack puts it in the payload). */
function findButton(
  message: FakeSlackMessage,
  actionId: string,
): Record<string, unknown> & { block_id?: string } {
  for (const block of message.blocks) {
    if (block.type !== 'actions') continue
    for (const element of block.elements as Record<string, unknown>[])
      if (element.action_id === actionId)
        return {
          type: 'button',
          action_id: actionId,
          block_id: block.block_id as string,
          value: element.value,
          text: element.text,
        }
  }
  throw new Error(`no ${actionId} button in message ${message.ts}`)
}

/**
 * A `views.open` view as Slack checks it (a JSON-encoded string in form-encoded calls): a modal with
 * a title (at most 24 characters) and at most 100 blocks, `callback_id` ≤ 255 and `private_metadata`
 * ≤ 3000 characters. Undefined when Slack would answer `invalid_arguments`.
 */
function viewOf(v: unknown): Record<string, unknown> | undefined {
  let view: unknown = v
  if (typeof v === 'string') {
    try {
      view = JSON.parse(v)
    } catch {
      return undefined
    }
  }
  if (!view || typeof view !== 'object') return undefined
  const m = view as Record<string, unknown>
  const title = (m.title as { type?: string; text?: string } | undefined) ?? {}
  const text = (e: unknown) => (e as { text?: string } | undefined)?.text ?? ''
  if (m.type !== 'modal' || title.type !== 'plain_text' || !title.text || title.text.length > 24)
    return undefined
  if (!Array.isArray(m.blocks) || m.blocks.length > 100) return undefined
  if (m.submit !== undefined && text(m.submit).length > 24) return undefined
  if (m.close !== undefined && text(m.close).length > 24) return undefined
  if (m.callback_id !== undefined && (typeof m.callback_id !== 'string' || m.callback_id.length > 255))
    return undefined
  if (
    m.private_metadata !== undefined &&
    (typeof m.private_metadata !== 'string' || m.private_metadata.length > 3000)
  )
    return undefined
  // A view with an input block needs a submit button.
  if (m.blocks.some((b) => (b as { type?: string }).type === 'input') && m.submit === undefined)
    return undefined
  return m
}

/** `view.state.values` as Slack sends it: per input block, per element, `{ type, value }`. */
function stateValues(
  view: FakeView,
  given: Record<string, Record<string, string | null>>,
): Record<string, Record<string, { type: string; value: string | null }>> {
  const out: Record<string, Record<string, { type: string; value: string | null }>> = {}
  const known = new Set<string>()
  for (const block of view.blocks) {
    if (block.type !== 'input') continue
    const blockId = block.block_id as string
    const element = block.element as {
      type: string
      action_id: string
      max_length?: number
      min_length?: number
    }
    known.add(`${blockId}/${element.action_id}`)
    const value = given[blockId]?.[element.action_id] ?? null
    if (!value && block.optional !== true)
      throw new Error(`Slack would not submit: input ${blockId} is required`)
    if (value && element.max_length !== undefined && value.length > element.max_length)
      throw new Error(`Slack would not submit: input ${blockId} is over its max_length ${element.max_length}`)
    if (value && element.min_length !== undefined && value.length < element.min_length)
      throw new Error(
        `Slack would not submit: input ${blockId} is under its min_length ${element.min_length}`,
      )
    out[blockId] = { ...out[blockId], [element.action_id]: { type: element.type, value } }
  }
  for (const [blockId, actions] of Object.entries(given))
    for (const actionId of Object.keys(actions))
      if (!known.has(`${blockId}/${actionId}`))
        throw new Error(`the view has no input ${blockId}/${actionId}`)
  return out
}
