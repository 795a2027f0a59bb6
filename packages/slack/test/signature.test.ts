import { describe, expect, it } from 'vitest'
import { slackSignature, verifySlackRequest } from '../src/index.ts'

// https://api.slack.com/docs/verifying-requests-from-slack: `v0=` + hex HMAC-SHA256 of
// `v0:{timestamp}:{body}` with the signing secret; timestamps more than five minutes off refused.
describe("Slack's request signature (v0)", () => {
  const secret = '8f742231b10e8888abcd99yyyzzz85a5'
  const body = 'payload=%7B%22type%22%3A%22block_actions%22%7D'
  const ts = '1531420618'
  const now = 1531420618 * 1000

  it('is the v0 HMAC-SHA256 of v0:timestamp:body', () => {
    expect(slackSignature(secret, ts, body)).toMatch(/^v0=[0-9a-f]{64}$/)
    const headers = { 'x-slack-request-timestamp': ts, 'x-slack-signature': slackSignature(secret, ts, body) }
    expect(verifySlackRequest(secret, headers, body, now)).toEqual({ ok: true })
  })

  it('refuses another body, another secret, a missing header, and a timestamp more than 5 minutes off', () => {
    const headers = { 'x-slack-request-timestamp': ts, 'x-slack-signature': slackSignature(secret, ts, body) }
    expect(verifySlackRequest(secret, headers, `${body}x`, now).ok).toBe(false)
    expect(verifySlackRequest('other', headers, body, now).ok).toBe(false)
    expect(verifySlackRequest(secret, { 'x-slack-request-timestamp': ts }, body, now).ok).toBe(false)
    expect(verifySlackRequest(secret, headers, body, now + 301_000)).toMatchObject({
      ok: false,
      reason: expect.stringMatching(/5 minutes/),
    })
    expect(verifySlackRequest(secret, headers, body, now + 299_000).ok).toBe(true)
  })
})
