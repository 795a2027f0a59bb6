import type { DeliverOptions, OutboxMessage, Remit, Review } from '@remit/core'
import { ConflictError, ReviewStateError } from '@remit/core'
import { PermanentDeliveryError, RetryLaterError } from '@remit/core/adapter'
import { ErrorCode, LogLevel, WebClient } from '@slack/web-api'
import { parseSlackConfig, type SlackConfig, SlackConfigError, type SlackTeam } from './config.ts'
import {
  APPROVE,
  buttonValue,
  NOTE_ACTION,
  NOTE_BLOCK,
  NOTE_MAX,
  REJECT,
  REJECT_VIEW,
  rejectMetadata,
  rejectModal,
  reviewMessage,
} from './message.ts'
import { verifySlackRequest } from './signature.ts'

/** The outbox channel Slack's posts and updates go through. */
export const SLACK_CHANNEL = 'slack'

/** Where a review's message is, once posted (kept in the store's adapter state, for every instance). */
const messageKey = (reviewId: string) => `slack:message:${reviewId}`

export interface SlackAppOptions {
  /** Per team, its channel and members (slack.yaml, read by `readSlackConfig`). */
  config: SlackConfig
  /** The bot token (`xoxb-…`); needs the `chat:write` scope. `remit serve` reads REMIT_SLACK_BOT_TOKEN. */
  token: string
  /** The app's signing secret, which Slack signs interactivity requests with (REMIT_SLACK_SIGNING_SECRET). */
  signingSecret: string
  /** Slack's Web API base URL (default `https://slack.com/api/`): a proxy, or a test double. */
  slackApiUrl?: string
  /** How the outbox delivers posts and updates (default: the outbox's own defaults). */
  delivery?: DeliverOptions
  /** The clock request timestamps are checked against, and Slack's `Retry-After` counted on (default: the system clock). */
  now?: () => number
}

type Headers = Record<string, string | string[] | undefined>
type Reply = { status: number; body: unknown; headers?: Record<string, string> }
/** A route `createServer({ rawRoutes })` mounts: it gets the exact bytes Slack signed. */
export interface SlackRoute {
  method: 'POST'
  url: string
  bodyLimit: number
  handle: (rawBody: string, headers: Headers) => Promise<Reply>
}

type Log = {
  warn: (obj: object, msg: string) => void
  error: (obj: object, msg: string) => void
}

export interface SlackApp {
  /** The interactivity endpoint, `POST /slack/interactivity` (mount with `createServer({ rawRoutes })`). */
  routes: SlackRoute[]
  /** Starts posting this Remit's flags and updating their messages; returns the function that stops it. */
  attach(remit: Remit, log?: Log): () => void
}

/** Errors Slack answers for the message itself (or where it goes): retrying cannot help. */
const PERMANENT = new Set([
  'channel_not_found',
  'is_archived',
  'msg_too_long',
  'invalid_blocks',
  'invalid_arguments',
  'message_not_found',
  'cant_update_message',
  'no_text',
])

/**
 * A Web API failure as the outbox takes it: permanent (dead at once), worth a retry, or, rate-limited,
 * worth a retry not before Slack's `Retry-After` (`RetryLaterError`).
 */
function deliveryError(error: unknown): Error {
  const e = error as { code?: string; data?: { error?: string }; retryAfter?: number; message?: string }
  if (e?.code === ErrorCode.PlatformError) {
    const code = e.data?.error ?? 'unknown_error'
    const message = `Slack refused: ${code}`
    return PERMANENT.has(code)
      ? new PermanentDeliveryError(message, { cause: error })
      : new Error(message, { cause: error })
  }
  if (e?.code === ErrorCode.RateLimitedError) {
    const message = `Slack rate-limited the call (retry after ${e.retryAfter} s)`
    // The SDK reads Retry-After, in seconds.
    return typeof e.retryAfter === 'number' && Number.isFinite(e.retryAfter)
      ? new RetryLaterError(message, { afterMs: e.retryAfter * 1000, cause: error })
      : new Error(message, { cause: error })
  }
  return error instanceof Error ? error : new Error(String(error))
}

const ok = (): Reply => ({ status: 200, body: '' })
/** A modal submission refused: Slack shows `message` under the note and keeps the modal open. */
const formError = (message: string): Reply => ({
  status: 200,
  body: { response_action: 'errors', errors: { [NOTE_BLOCK]: message } },
})
const notYours = (team: string | undefined) =>
  `Not yours: this review is for the ${team ?? 'other'} team's reviewers. Nothing was changed.`
const ANOTHER_REQUEST = 'This message shows another request than the review is for. Nothing was changed.'

/**
 * Remit's reviews in Slack: each flag is posted to its team's channel with Approve / Reject buttons;
 * a click from a member of the team answers it through Remit's own review API (stops re-checked, as
 * in the console); and the message is updated when the review is answered anywhere or expires. Posts
 * and updates go through Remit's outbox, so a Slack outage delays them and loses none.
 */
export function slackApp(o: SlackAppOptions): SlackApp {
  const config = parseSlackConfig(o.config)
  const client = new WebClient(o.token, {
    ...(o.slackApiUrl ? { slackApiUrl: o.slackApiUrl.replace(/\/?$/, '/') } : {}),
    // The outbox retries (with backoff, on Remit's clock, across restarts): the client tries once.
    retryConfig: { retries: 0 },
    rejectRateLimitedCalls: true,
    logLevel: LogLevel.ERROR,
  })
  let remit: Remit | undefined
  let log: Log | undefined
  const now = () => (o.now ?? Date.now)()
  /** Slack asked (429, Retry-After) not to be called before this: no post or update goes sooner. */
  let quietUntil = 0
  const teamOf = (review: Review): SlackTeam | undefined =>
    Object.hasOwn(config.teams, review.team) ? config.teams[review.team] : undefined

  /** Posts the review's message (as it stands now), or updates the one posted; retried by the outbox. */
  async function deliver(engine: Remit, m: OutboxMessage): Promise<void> {
    const reviewId = m.payload.reviewId as string
    const review = await engine.reviews.get(reviewId)
    const decision = review && (await engine.decisions.get(review.decisionId))
    const team = review && teamOf(review)
    if (!review || !decision || !team) return
    const message = reviewMessage(review, decision)
    const posted = await engine.store.readState(messageKey(reviewId))
    const wait = quietUntil - now()
    if (wait > 0)
      throw new RetryLaterError(`Slack asked to wait (${Math.ceil(wait / 1000)} s more)`, { afterMs: wait })
    try {
      if (posted) {
        const { channel, ts } = JSON.parse(posted) as { channel: string; ts: string }
        await client.chat.update({ channel, ts, ...message })
        return
      }
      if (m.payload.kind === 'update') {
        // The post has not gone yet (Slack was down): it will show the answer itself when it goes.
        const pending = await engine.outbox.list({ channel: SLACK_CHANNEL, status: 'pending', limit: 1000 })
        if (pending.some((p) => p.id !== m.id && p.reviewId === reviewId && p.payload.kind === 'post'))
          throw new Error(`review ${reviewId}: its message is not posted yet`)
      }
      const answer = await client.chat.postMessage({ channel: team.channel, ...message })
      await engine.store.writeState(
        messageKey(reviewId),
        JSON.stringify({ channel: answer.channel ?? team.channel, ts: answer.ts }),
      )
    } catch (error) {
      if (error instanceof Error && error.message.endsWith('is not posted yet')) throw error
      const failure = deliveryError(error)
      if (failure instanceof RetryLaterError) quietUntil = Math.max(quietUntil, now() + failure.afterMs)
      throw failure
    }
  }

  async function ephemeral(channel: string | undefined, user: string, text: string): Promise<void> {
    if (!channel) return
    await client.chat.postEphemeral({ channel, user, text }).catch((error: unknown) => {
      log?.warn({ err: error }, 'slack: ephemeral reply failed')
    })
  }

  async function interactivity(rawBody: string, headers: Headers): Promise<Reply> {
    const check = verifySlackRequest(o.signingSecret, headers, rawBody, now())
    if (!check.ok) {
      log?.warn({ reason: check.reason }, 'slack: refused an unsigned interactivity request')
      return { status: 401, body: { error: { code: 'BAD_SIGNATURE', message: check.reason } } }
    }
    if (!remit)
      return { status: 503, body: { error: { code: 'NOT_READY', message: 'Slack is not attached yet' } } }
    let payload: BlockActions | ViewSubmission
    try {
      payload = JSON.parse(new URLSearchParams(rawBody).get('payload') ?? '') as BlockActions | ViewSubmission
    } catch {
      return { status: 400, body: { error: { code: 'BAD_PAYLOAD', message: 'expected payload=<JSON>' } } }
    }
    if (payload?.type === 'view_submission') return submitted(remit, payload as ViewSubmission)
    if (payload?.type !== 'block_actions') return ok()
    return clicked(remit, payload as BlockActions)
  }

  /** A click on Approve (answered at once) or Reject (which opens the note's modal). */
  async function clicked(remit: Remit, payload: BlockActions): Promise<Reply> {
    const action = payload.actions?.find((a) => a.action_id === APPROVE || a.action_id === REJECT)
    const user = payload.user?.id
    if (!action?.value || !user) return ok()
    const channel = payload.channel?.id ?? payload.container?.channel_id
    const { reviewId, digest } = buttonValue(action.value)
    const review = await remit.reviews.get(reviewId)
    const team = review && teamOf(review)
    if (!review || !team?.members.includes(user)) {
      await ephemeral(channel, user, notYours(review?.team))
      return ok()
    }
    if (action.action_id === REJECT) {
      if (review.status !== 'pending') {
        await ephemeral(
          channel,
          user,
          `This review was already answered (review ${review.id} is already ${review.status}).`,
        )
        return ok()
      }
      if (digest && review.digest && digest !== review.digest) {
        await ephemeral(channel, user, ANOTHER_REQUEST)
        return ok()
      }
      // The note is asked in a modal; its submission rejects (`submitted`). The trigger is Slack's,
      // single use and valid for 3 s: opened now, before answering the click.
      const decision = await remit.decisions.get(review.decisionId)
      try {
        if (!payload.trigger_id || !decision)
          throw new Error('no trigger_id or decision to open the note with')
        await client.views.open({
          trigger_id: payload.trigger_id,
          view: rejectModal(
            review,
            decision,
            digest ? { reviewId: review.id, digest } : { reviewId: review.id },
          ),
        })
      } catch (error) {
        log?.warn({ err: error, reviewId: review.id }, 'slack: could not open the Reject note')
        await ephemeral(channel, user, 'Could not open the note; click Reject again. Nothing was changed.')
      }
      return ok()
    }
    try {
      await remit.reviews.approve(review.id, {
        by: `slack:${payload.user?.username ?? user}`,
        team: review.team,
        digest,
      })
    } catch (error) {
      if (error instanceof ConflictError && error.code === 'REVIEW_DIGEST_MISMATCH') {
        await ephemeral(channel, user, ANOTHER_REQUEST)
      } else if (error instanceof ReviewStateError) {
        await ephemeral(channel, user, `This review was already answered (${error.message}).`)
      } else throw error
    }
    // The message is updated by the outbox (the answer owes it an update), like any other answer.
    return ok()
  }

  /**
   * The Reject modal submitted: a member of the review's team rejects it with the note. Anything
   * refused is answered with `response_action: errors` (the modal stays open, saying why) and
   * changes nothing; an empty 200 closes the modal.
   */
  async function submitted(remit: Remit, payload: ViewSubmission): Promise<Reply> {
    if (payload.view?.callback_id !== REJECT_VIEW) return ok()
    const user = payload.user?.id
    const meta = rejectMetadata(payload.view.private_metadata)
    if (!user || !meta) return formError('This form is not one Remit opened. Nothing was changed.')
    const review = await remit.reviews.get(meta.reviewId)
    const team = review && teamOf(review)
    if (!review || !team?.members.includes(user)) return formError(notYours(review?.team))
    if (meta.digest && review.digest && meta.digest !== review.digest) return formError(ANOTHER_REQUEST)
    const value = payload.view.state?.values?.[NOTE_BLOCK]?.[NOTE_ACTION]?.value
    const note = typeof value === 'string' ? value.trim() : ''
    if (note.length > NOTE_MAX) return formError(`At most ${NOTE_MAX} characters, please.`)
    try {
      await remit.reviews.reject(review.id, {
        by: `slack:${payload.user?.username ?? user}`,
        team: review.team,
        ...(note ? { note } : {}),
      })
    } catch (error) {
      if (error instanceof ReviewStateError)
        return formError(`This review was already answered (${error.message}). Nothing was changed.`)
      throw error
    }
    // Closes the modal; the message is updated by the outbox, as for any answer.
    return ok()
  }

  return {
    routes: [
      // Slack's interactivity payloads carry the whole message: larger than an API body may be.
      { method: 'POST', url: '/slack/interactivity', bodyLimit: 1024 * 1024, handle: interactivity },
    ],
    attach(engine, logger) {
      for (const team of Object.keys(config.teams))
        if (!engine.policy.teams.has(team))
          throw new SlackConfigError(
            `slack.yaml: teams.${team}: not a team of the policy (its teams: ${[...engine.policy.teams.keys()].join(', ')})`,
          )
      remit = engine
      log = logger
      const owes = (kind: 'post' | 'update') => (review: Review) =>
        teamOf(review) ? { kind, reviewId: review.id } : undefined
      const stops = [
        engine.outbox.routeFlags(SLACK_CHANNEL, owes('post')),
        engine.outbox.route(SLACK_CHANNEL, owes('update')),
        engine.outbox.deliver(SLACK_CHANNEL, (m) => deliver(engine, m), {
          onError: (m, error) => logger?.error({ err: error, outboxId: m?.id }, 'slack: delivery failed'),
          ...o.delivery,
        }),
      ]
      return () => {
        for (const stop of stops) stop()
        remit = undefined
      }
    },
  }
}

/** What Remit reads of a `block_actions` payload. */
interface BlockActions {
  type: string
  trigger_id?: string
  user?: { id: string; username?: string }
  channel?: { id: string }
  container?: { channel_id?: string; message_ts?: string }
  actions?: { action_id: string; value?: string }[]
}

/** What Remit reads of a `view_submission` payload (the Reject modal submitted). */
interface ViewSubmission {
  type: 'view_submission'
  user?: { id: string; username?: string }
  view?: {
    id?: string
    callback_id?: string
    private_metadata?: string
    state?: { values?: Record<string, Record<string, { type?: string; value?: string | null }>> }
  }
}
