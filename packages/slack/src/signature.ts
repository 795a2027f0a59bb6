import { createHmac, timingSafeEqual } from 'node:crypto'

// Slack's request signing (v0): X-Slack-Signature is `v0=` and the hex HMAC-SHA256, keyed with the
// app's signing secret, of `v0:{X-Slack-Request-Timestamp}:{raw body}`. A timestamp more than five
// minutes from now is refused, so a captured request cannot be replayed later.

/** How far a request's timestamp may be from now, in seconds (Slack's own advice: 5 minutes). */
export const SLACK_TIMESTAMP_TOLERANCE_S = 300

/** The `X-Slack-Signature` value Slack sends for `body` at `timestamp` (Unix seconds, as sent). */
export function slackSignature(signingSecret: string, timestamp: string, body: string): string {
  return `v0=${createHmac('sha256', signingSecret).update(`v0:${timestamp}:${body}`).digest('hex')}`
}

export type SlackVerification = { ok: true } | { ok: false; reason: string }

const header = (headers: Record<string, string | string[] | undefined>, name: string) => {
  const value = headers[name] ?? headers[name.toLowerCase()]
  return Array.isArray(value) ? value[0] : value
}

/** Whether a request is Slack's: signed with `signingSecret`, its timestamp within five minutes of `nowMs`. */
export function verifySlackRequest(
  signingSecret: string,
  headers: Record<string, string | string[] | undefined>,
  body: string,
  nowMs: number = Date.now(),
): SlackVerification {
  const timestamp = header(headers, 'x-slack-request-timestamp')
  const signature = header(headers, 'x-slack-signature')
  if (!timestamp || !signature)
    return { ok: false, reason: 'no X-Slack-Signature or X-Slack-Request-Timestamp' }
  if (!/^\d{1,12}$/.test(timestamp))
    return { ok: false, reason: 'X-Slack-Request-Timestamp is not Unix seconds' }
  if (Math.abs(nowMs / 1000 - Number(timestamp)) > SLACK_TIMESTAMP_TOLERANCE_S)
    return { ok: false, reason: 'X-Slack-Request-Timestamp is more than 5 minutes from now' }
  const expected = Buffer.from(slackSignature(signingSecret, timestamp, body))
  const given = Buffer.from(signature)
  if (given.length !== expected.length || !timingSafeEqual(given, expected))
    return { ok: false, reason: 'X-Slack-Signature does not match' }
  return { ok: true }
}
