/**
 * `@remit/slack/testing` — a fake Slack for tests, speaking Slack's documented contract so a test
 * fails where Slack would: the Web API (`POST /api/<method>`, form-encoded or JSON, the bot token as
 * `Authorization: Bearer xoxb-…`; `{ ok: true, … }` or `{ ok: false, error }` — `invalid_auth`,
 * `channel_not_found`, `message_not_found` — and HTTP 429 with `Retry-After` and `ratelimited` when
 * rate-limited), and the interactivity side: a click sent as Slack sends it, `payload=` form-encoded
 * JSON of a `block_actions` event, signed with the app's signing secret (v0).
 */
import { randomUUID } from 'node:crypto'
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
  /** Every Web API call: its method and whether Slack said ok. */
  calls: { method: string; ok: boolean; status: number }[]
  /** Answers the next `n` calls with HTTP 429, `Retry-After: seconds`. */
  rateLimitNext(n: number, seconds?: number): void
  /** Answers every call with this error until cleared (undefined), e.g. an outage as `service_unavailable`. */
  failWith(error: string | undefined, status?: number): void
  /**
   * Clicks a button of a posted message as `user`, sending the signed `block_actions` payload to
   * `url` as Slack does; `sign` changes how (a wrong secret, an old timestamp). Returns the HTTP status.
   */
  click(
    url: string,
    o: {
      message: FakeSlackMessage
      actionId: string
      user: string
      username?: string
      sign?: { secret?: string; timestamp?: number; signature?: string }
    },
  ): Promise<number>
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
  const calls: FakeSlack['calls'] = []
  let limited = 0
  let retryAfter = 1
  let failure: { error: string; status: number } | undefined
  let clock = 1_700_000_000
  const nextTs = () => `${++clock}.000100`

  const server: Server = createServer(async (req, res) => {
    const method = (req.url ?? '').replace(/^\/api\//, '').split('?')[0] as string
    const send = (status: number, body: Record<string, unknown>, headers: Record<string, string> = {}) => {
      calls.push({ method, ok: body.ok === true, status })
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

  return {
    apiUrl: `${base}/api/`,
    token,
    signingSecret,
    messages,
    ephemerals,
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
        trigger_id: randomUUID(),
        team: { id: 'T0TEST', domain: 'test' },
        channel: { id: c.message.channel, name: 'reviews' },
        message: { type: 'message', ts: c.message.ts, text: c.message.text, blocks: c.message.blocks },
        response_url: `${base}/actions/${randomUUID()}`,
        actions: [{ ...action, block_id: action.block_id, action_ts: `${Date.now() / 1000}` }],
      }
      const body = new URLSearchParams({ payload: JSON.stringify(payload) }).toString()
      const timestamp = String(c.sign?.timestamp ?? Math.floor(Date.now() / 1000))
      const signature = c.sign?.signature ?? slackSignature(c.sign?.secret ?? signingSecret, timestamp, body)
      const res = await fetch(url, {
        method: 'POST',
        headers: {
          'content-type': 'application/x-www-form-urlencoded',
          'x-slack-request-timestamp': timestamp,
          'x-slack-signature': signature,
        },
        body,
      })
      await res.text()
      return res.status
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
