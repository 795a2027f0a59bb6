import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { startTestServer, type TestServer } from '@remit/server/testing'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { type GateOptions, gate, type MailData } from '../src/index.ts'
import { mailService, recorder, startPrism } from './harness.ts'

// Approve with changes through the gate: a reviewer lowers the discount a held offer carries, and
// the mail that goes is the changed one, once — to Stoplight Prism serving SendGrid's published
// spec (validating: it answers 202 only to what the spec accepts), behind a recorder.
const POLICY = `
version: 1
teams: { marketing: {}, sales: {} }
agents:
  marketing-agent: { team: marketing, tools: ["sendgrid:category/offers"] }
facts:
  lifecycle: { type: string }
actions:
  offer.discount:
    channel: email
    commitment: discount
    attributes: { discountPct: number }
    reviewerMayChange: [discountPct]
permissions:
  - { id: small-discounts, action: offer.discount, when: "action.discountPct <= 10.0" }
review: { defaultTeam: sales, expiresAfter: 72h, onExpiry: stop }
`

const templateData = (m: MailData) => (m.dynamicTemplateData ?? {}) as Record<string, unknown>

let prism: Awaited<ReturnType<typeof startPrism>>
let sendgrid: Awaited<ReturnType<typeof recorder>>
let remit: TestServer
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
  await remit?.close()
  sendgrid.requests.length = 0
})

async function offerHeld(options: Pick<GateOptions<MailData>, 'applyChanges'> = {}) {
  const dir = mkdtempSync(join(tmpdir(), 'remit-sg-changes-'))
  writeFileSync(join(dir, 'remit.yaml'), POLICY)
  remit = await startTestServer({
    policy: join(dir, 'remit.yaml'),
    keys: {
      sendgrid: { agent: 'marketing-agent', tool: 'sendgrid:category/offers' },
      sales: { reviewer: 'sales' },
    },
  })
  const mail = gate(mailService(sendgrid.url), {
    remit: { url: remit.url, key: remit.keys.sendgrid as string },
    // The offer's discount is the template's: what the action reads, and what a change writes.
    action: (m) => ({ kind: 'offer.discount', discountPct: templateData(m).discountPct }),
    customer: (r) => ({ accountId: 'acme', email: r.email, facts: { lifecycle: 'customer' } }),
    holdPath: join(dir, 'held.db'),
    releaseEveryMs: 0,
    ...options,
  })
  gates.push(mail)
  const result = await mail.send({
    to: 'jane@acme.example',
    from: 'offers@remit.example',
    templateId: 'd-0123456789abcdef0123456789abcdef',
    dynamicTemplateData: { discountPct: 20, name: 'Jane' },
  })
  const reviewId = result.remit.held[0]?.reviewId as string
  expect(reviewId).toBeTruthy()
  return { mail, reviewId }
}

const approve = (reviewId: string, body: unknown) =>
  fetch(`${remit.url}/v1/reviews/${reviewId}/approve`, {
    method: 'POST',
    headers: { authorization: `Bearer ${remit.keys.sales}`, 'content-type': 'application/json' },
    body: JSON.stringify(body),
  })

describe('a held offer approved with changes', () => {
  it('goes once, as changed: 20% lowered to 15% in the template data, and the ledger says 15', async () => {
    const { mail, reviewId } = await offerHeld({
      applyChanges: (m, changes) => ({
        ...m,
        dynamicTemplateData: { ...templateData(m), ...changes },
      }),
    })
    const res = await approve(reviewId, { changes: { attributes: { discountPct: 15 } } })
    expect(res.status).toBe(200)
    expect(await mail.release()).toEqual({ sent: ['jane@acme.example'], dropped: [], waiting: 0 })
    expect(await mail.release()).toEqual({ sent: [], dropped: [], waiting: 0 })
    expect(sendgrid.requests).toHaveLength(1)
    expect(sendgrid.requests[0]?.status).toBe(202)
    const body = sendgrid.requests[0]?.body as unknown as {
      personalizations: { dynamic_template_data?: Record<string, unknown> }[]
    }
    expect(body.personalizations[0]?.dynamic_template_data).toEqual({ discountPct: 15, name: 'Jane' })
    const timeline = await remit.server.remit.timeline('acme')
    expect(timeline.touches.map((t) => [t.status, t.attributes])).toEqual([['sent', { discountPct: 15 }]])
  })

  it('without applyChanges the gate cannot send it changed: a change is refused (409) and the mail stays held', async () => {
    const { mail, reviewId } = await offerHeld()
    const res = await approve(reviewId, { changes: { attributes: { discountPct: 15 } } })
    expect(res.status).toBe(409)
    expect(((await res.json()) as { error: { code: string } }).error.code).toBe('CHANGES_NOT_CARRIED')
    expect(await mail.release()).toEqual({ sent: [], dropped: [], waiting: 1 })
    // Approved as asked, it goes as asked.
    expect((await approve(reviewId, {})).status).toBe(200)
    expect(await mail.release()).toEqual({ sent: ['jane@acme.example'], dropped: [], waiting: 0 })
    expect(sendgrid.requests).toHaveLength(1)
  })

  it('an applyChanges that does not write the change where action() reads it: not sent, the touch cancelled', async () => {
    // Writes the template data SendGrid would not read the action from (a typo): the mail still says 20.
    const { mail, reviewId } = await offerHeld({
      applyChanges: (m, changes) => ({ ...m, dynamicTemplateDate: changes }),
    })
    expect((await approve(reviewId, { changes: { attributes: { discountPct: 15 } } })).status).toBe(200)
    expect(await mail.release()).toEqual({ sent: [], dropped: ['jane@acme.example'], waiting: 0 })
    expect(sendgrid.requests).toHaveLength(0)
    expect(mail.held()[0]?.note).toContain('reads as {"discountPct":20,"kind":"offer.discount"}')
    const timeline = await remit.server.remit.timeline('acme')
    expect(timeline.touches.map((t) => t.status)).toEqual(['cancelled'])
  })

  it('an applyChanges that returns what action() cannot read: not sent, the touch cancelled, the release goes on', async () => {
    const { mail, reviewId } = await offerHeld({ applyChanges: () => null as unknown as MailData })
    expect((await approve(reviewId, { changes: { attributes: { discountPct: 15 } } })).status).toBe(200)
    expect(await mail.release()).toEqual({ sent: [], dropped: ['jane@acme.example'], waiting: 0 })
    expect(sendgrid.requests).toHaveLength(0)
    expect(mail.held()[0]?.note).toContain('could not be read')
  })

  it('a change the policy does not allow is a 400 naming the field, and the mail stays held', async () => {
    const { mail, reviewId } = await offerHeld({ applyChanges: (m) => m })
    const res = await approve(reviewId, { changes: { attributes: { discountPct: 'fifteen' } } })
    expect(res.status).toBe(400)
    const body = (await res.json()) as { error: { code: string; path: string[] } }
    expect(body.error).toMatchObject({ code: 'BAD_TYPE', path: ['changes', 'attributes', 'discountPct'] })
    expect(await mail.release()).toEqual({ sent: [], dropped: [], waiting: 1 })
  })
})
