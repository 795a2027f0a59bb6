import { createPublicKey } from 'node:crypto'
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import type { RawRoute } from '@remit/server'
import { startTestServer } from '@remit/server/testing'
import { EventWebhook } from '@sendgrid/eventwebhook'
import { afterEach, describe, expect, it } from 'vitest'
import { eventWebhook, verifySignature } from '../src/index.ts'
import { EVENT_WEBHOOK_BODY_LIMIT } from '../src/webhook.ts'
import { type RemitHarness, seedPolicy, startRemit } from './harness.ts'
import { eventSigner } from './signer.ts'

const { publicKeyBase64, signed } = eventSigner()
const events = (...e: object[]) => JSON.stringify(e)

let remit: RemitHarness
afterEach(async () => remit?.server.close())

describe('the event webhook', () => {
  it("verifies signatures the way SendGrid's own helper does", () => {
    const body = events({ email: 'a@b.example', event: 'delivered' })
    const h = signed(body)
    const signature = h['x-twilio-email-event-webhook-signature']
    const timestamp = h['x-twilio-email-event-webhook-timestamp']
    expect(verifySignature(publicKeyBase64, body, signature, timestamp)).toBe(true)
    const official = new EventWebhook()
    const pem = createPublicKey({ key: Buffer.from(publicKeyBase64, 'base64'), format: 'der', type: 'spki' })
      .export({ format: 'pem', type: 'spki' })
      .toString()
    expect(official.verifySignature(official.convertPublicKeyToECDSA(pem), body, signature, timestamp)).toBe(
      true,
    )
    expect(verifySignature(publicKeyBase64, `${body} `, signature, timestamp)).toBe(false)
  })

  it('records delivered, bounce, unsubscribe and spam-report events in the ledger, and ignores the rest', async () => {
    remit = await startRemit()
    const hook = eventWebhook({ publicKey: publicKeyBase64, remit: { url: remit.url, key: remit.key } })
    const body = events(
      { email: 'Jane@Acme.example', event: 'delivered', timestamp: 1_790_000_000, sg_event_id: 'e1' },
      { email: 'jane@acme.example', event: 'open', sg_event_id: 'e2' },
      { email: 'jane@acme.example', event: 'unsubscribe', sg_event_id: 'e3' },
      { email: 'omar@globex.example', event: 'spamreport', sg_event_id: 'e4' },
      { email: 'x@y.example', event: 'bounce', sg_event_id: 'e5' },
    )
    expect(await hook.handle(body, signed(body))).toEqual({ status: 200, body: { recorded: 4, ignored: 1 } })
    const jane = await remit.server.remit.timeline('email:jane@acme.example')
    expect(jane.touches.map((t) => [t.kind, t.outbound, t.agent])).toEqual([
      ['email.delivered', false, 'marketing-agent'],
      ['email.unsubscribe', false, 'marketing-agent'],
    ])
  })

  it('an unsubscribe is something rules can read: the next e-mail to that customer stops', async () => {
    remit = await startRemit()
    const hook = eventWebhook({ publicKey: publicKeyBase64, remit: { url: remit.url, key: remit.key } })
    const body = events({ email: 'jane@acme.example', event: 'unsubscribe', sg_event_id: 'u1' })
    await hook.handle(body, signed(body))
    const text = remit.server.remit.policy.source.replace(
      'stops:\n',
      'stops:\n  - { id: honour-unsubscribe, channel: email, when: "touches.exists(t, t.kind == \'email.unsubscribe\')" }\n',
    )
    const { loadPolicy } = await import('@remit/core')
    remit.server.remit.setPolicy(loadPolicy(text))
    const d = await remit.server.remit.decide('marketing-agent', {
      action: { kind: 'email.positioning' },
      customer: { email: 'jane@acme.example', facts: { lifecycle: 'customer', tier: 'smb' } },
    })
    expect(d.verdict).toBe('stop')
    // The suppression the unsubscribe recorded comes first; the rule reading the touch holds too.
    expect(d.reasons.map((r) => r.rule).slice(0, 2)).toEqual(['suppression', 'honour-unsubscribe'])
  })

  it('an unsubscribe, a spam report and a hard bounce suppress the address for every agent, with no rule to write; a block does not', async () => {
    remit = await startRemit()
    const hook = eventWebhook({ publicKey: publicKeyBase64, remit: { url: remit.url, key: remit.key } })
    const body = events(
      { email: 'a@x.example', event: 'unsubscribe', sg_event_id: 's1' },
      { email: 'b@x.example', event: 'spamreport', sg_event_id: 's2' },
      { email: 'c@x.example', event: 'bounce', type: 'bounce', sg_event_id: 's3' },
      { email: 'd@x.example', event: 'bounce', type: 'blocked', sg_event_id: 's4' },
      { email: 'e@x.example', event: 'group_unsubscribe', asm_group_id: 7, sg_event_id: 's5' },
    )
    expect((await hook.handle(body, signed(body))).status).toBe(200)
    // Delivered again (SendGrid retries): still one suppression each.
    expect((await hook.handle(body, signed(body))).status).toBe(200)
    const verdict = async (email: string, agent = 'sales-agent') =>
      (
        await remit.server.remit.decide(agent, {
          action: { kind: 'offer.discount', discountPct: 5 },
          customer: { email, facts: { lifecycle: 'customer', tier: 'smb' } },
        })
      ).verdict
    expect(await verdict('a@x.example')).toBe('stop')
    expect(await verdict('b@x.example')).toBe('stop')
    expect(await verdict('c@x.example')).toBe('stop')
    expect(await verdict('d@x.example')).not.toBe('stop')
    expect(await verdict('e@x.example')).not.toBe('stop')
    const ledger = await remit.server.remit.store.ledger('email:a@x.example', new Date(0), new Date())
    expect(ledger.suppressions?.map((s) => [s.reason, s.channel, s.source])).toEqual([
      ['unsubscribe', 'email', 'marketing-agent'],
    ])
  })

  it('refuses a bad signature, a missing one, and a stale timestamp', async () => {
    remit = await startRemit()
    const hook = eventWebhook({ publicKey: publicKeyBase64, remit: { url: remit.url, key: remit.key } })
    const body = events({ email: 'a@b.example', event: 'delivered' })
    const forged = {
      ...signed(body),
      'x-twilio-email-event-webhook-signature': signed('other')['x-twilio-email-event-webhook-signature'],
    }
    expect((await hook.handle(body, forged)).body.error?.code).toBe('BAD_SIGNATURE')
    expect((await hook.handle(body, {})).status).toBe(401)
    // SendGrid retries for up to 24 hours and may keep the first attempt's timestamp: older is stale.
    const old = String(Math.floor(Date.now() / 1000) - 25 * 3600)
    expect((await hook.handle(body, signed(body, old))).body.error?.code).toBe('STALE')
    const ahead = String(Math.floor(Date.now() / 1000) + 600)
    expect((await hook.handle(body, signed(body, ahead))).body.error?.code).toBe('STALE')
    expect((await remit.server.remit.timeline('email:a@b.example')).touches).toEqual([])
  })

  it('takes a replayed delivery once: Remit keeps each event under its sg_event_id', async () => {
    remit = await startRemit()
    const hook = eventWebhook({ publicKey: publicKeyBase64, remit: { url: remit.url, key: remit.key } })
    const body = events({ email: 'a@b.example', event: 'bounce', type: 'bounce', sg_event_id: 'same' })
    const headers = signed(body)
    expect((await hook.handle(body, headers)).body).toEqual({ recorded: 1, ignored: 0 })
    // Answered 200 again (SendGrid must stop retrying), and recorded nothing new.
    expect(await hook.handle(body, headers)).toEqual({ status: 200, body: { recorded: 1, ignored: 0 } })
    const touches = (await remit.server.remit.timeline('email:a@b.example')).touches
    expect(touches.map((t) => t.externalId)).toEqual(['agent:marketing-agent/sendgrid:same'])
  })

  it("records a block apart from a hard bounce, and keeps SendGrid's time of the event in the note", async () => {
    remit = await startRemit()
    const hook = eventWebhook({ publicKey: publicKeyBase64, remit: { url: remit.url, key: remit.key } })
    const body = events(
      {
        email: 'hard@b.example',
        event: 'bounce',
        type: 'bounce',
        timestamp: 1_790_000_000,
        sg_event_id: 'b1',
      },
      {
        email: 'soft@b.example',
        event: 'bounce',
        type: 'blocked',
        timestamp: 1_790_000_060,
        sg_event_id: 'b2',
      },
      { email: 'old@b.example', event: 'bounce', sg_event_id: 'b3' },
      { email: 'grp@b.example', event: 'group_unsubscribe', asm_group_id: 10, sg_event_id: 'g1' },
      { email: 'drop@b.example', event: 'dropped', reason: 'Bounced Address', sg_event_id: 'd1' },
      { email: 'x@b.example', event: 'processed', sg_event_id: 'p1' },
      { email: 'x@b.example', event: 'deferred', sg_event_id: 'p2' },
      { email: 'x@b.example', event: 'click', sg_event_id: 'p3' },
    )
    expect((await hook.handle(body, signed(body))).body).toEqual({ recorded: 5, ignored: 3 })
    const only = async (who: string) => (await remit.server.remit.timeline(`email:${who}`)).touches[0]
    expect((await only('hard@b.example'))?.kind).toBe('email.bounce')
    expect((await only('hard@b.example'))?.note).toBe(
      `sendgrid b1 ${new Date(1_790_000_000_000).toISOString()}`,
    )
    expect((await only('soft@b.example'))?.kind).toBe('email.blocked')
    expect((await only('old@b.example'))?.kind).toBe('email.bounce')
    expect((await only('grp@b.example'))?.kind).toBe('email.group_unsubscribe')
    expect((await only('drop@b.example'))?.kind).toBe('email.dropped')
    expect((await remit.server.remit.timeline('email:x@b.example')).touches).toEqual([])
  })

  it('mounts in the Remit server, which hands it the raw body', async () => {
    // The handler records through the server's own API, so it is made once the server has a URL.
    let mounted: ReturnType<typeof eventWebhook> | undefined
    const started = await startTestServer({
      policy: seedPolicy,
      keys: { 'sendgrid-events': { agent: 'marketing-agent' } },
      rawRoutes: [
        {
          method: 'POST',
          url: '/webhooks/sendgrid',
          bodyLimit: EVENT_WEBHOOK_BODY_LIMIT,
          handle: (raw, headers) => (mounted as NonNullable<typeof mounted>).handle(raw, headers),
        },
      ],
    })
    const { server, url } = started
    const key = started.keys['sendgrid-events'] as string
    mounted = eventWebhook({ publicKey: publicKeyBase64, remit: { url, key } })
    const body = events({ email: 'e@f.example', event: 'delivered', sg_event_id: 'm1' })
    const res = await fetch(`${url}/webhooks/sendgrid`, {
      method: 'POST',
      headers: { ...signed(body), 'content-type': 'application/json' },
      body,
    })
    expect(res.status).toBe(200)
    expect((await server.remit.timeline('email:e@f.example')).touches).toHaveLength(1)
    const forged = await fetch(`${url}/webhooks/sendgrid`, {
      method: 'POST',
      headers: { ...signed('x'), 'content-type': 'application/json' },
      body,
    })
    expect(forged.status).toBe(401)
    await started.close()
  })

  it('hook.route() mounts in any Remit server as a raw route taking bodies up to 1 MiB', async () => {
    remit = await startRemit()
    const hook = eventWebhook({ publicKey: publicKeyBase64, remit: { url: remit.url, key: remit.key } })
    const route: RawRoute = hook.route('/hooks/sg')
    expect(route).toMatchObject({ method: 'POST', url: '/hooks/sg', bodyLimit: 1024 * 1024 })
    const front = await startTestServer({ policy: seedPolicy, rawRoutes: [route] })
    const body = events({
      email: 'g@h.example',
      event: 'delivered',
      sg_event_id: 'r1',
      pad: 'x'.repeat(100_000),
    })
    const res = await fetch(`${front.url}/hooks/sg`, {
      method: 'POST',
      headers: { ...signed(body), 'content-type': 'application/json' },
      body,
    })
    expect(res.status).toBe(200)
    expect((await remit.server.remit.timeline('email:g@h.example')).touches).toHaveLength(1)
    await front.close()
  })

  it('works standalone on node:http, and says 503 when Remit is down so SendGrid retries', async () => {
    remit = await startRemit()
    const up = eventWebhook({ publicKey: publicKeyBase64, remit: { url: remit.url, key: remit.key } })
    const down = eventWebhook({
      publicKey: publicKeyBase64,
      remit: { url: 'http://127.0.0.1:9', key: remit.key, retries: 0 },
    })
    for (const [hook, status] of [
      [up, 200],
      [down, 503],
    ] as const) {
      const server = createServer(hook.listener)
      await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
      const body = events({ email: 'c@d.example', event: 'delivered', sg_event_id: `s${status}` })
      const res = await fetch(`http://127.0.0.1:${(server.address() as AddressInfo).port}/`, {
        method: 'POST',
        headers: signed(body),
        body,
      })
      expect(res.status).toBe(status)
      server.close()
    }
  })
})
