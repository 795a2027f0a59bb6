import { mkdtempSync, readFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { loadPolicy, openRemit, openSqliteStore } from '@remit/core'
import { startTestServer, type TestServer } from '@remit/server/testing'
import { afterEach, expect, it } from 'vitest'
import { publishReviews, salesforceOpenApi, salesforceRoutes, writePackage } from '../src/index.ts'
import { fakeSalesforce, readProject } from './fake-salesforce.ts'

// The Flow pattern as the shipped flows run it, over HTTP with each flow's agent key: the check on
// the asynchronous path, a flag, a restart, the answer two hours later, one Remit_Review__e for the
// resume flow; and a Task a sales rep logs (the activity flow's "Record a touch") stopping support's
// win-back the next day.

const policy = new URL('../../../examples/seed-week/remit.yaml', import.meta.url)
const running: TestServer[] = []
const stops: (() => void)[] = []
afterEach(async () => {
  for (const stop of stops.splice(0)) stop()
  for (const s of running.splice(0)) await s.close()
})

let now = Date.parse('2026-04-07T09:00:00Z')

async function serve(
  storePath: string,
  connection?: Awaited<ReturnType<Awaited<ReturnType<typeof fakeSalesforce>>['connection']>>,
) {
  const server = await startTestServer({
    policy,
    store: openSqliteStore(storePath),
    keys: {
      'sf-sales': { agent: 'sales-agent', tool: 'salesforce:flow/Renewal_Offer' },
      'sf-activity': { agent: 'sales-agent' },
      sales: { reviewer: 'sales' },
      support: { agent: 'support-agent' },
    },
    clock: () => new Date(now),
    routes: salesforceRoutes,
  })
  running.push(server)
  if (connection) stops.push(publishReviews(server.server.remit, connection, undefined, { everyMs: 50 }))
  return server
}

const post = async (s: TestServer, path: string, key: string, body: unknown) => {
  const res = await fetch(`${s.url}${path}`, {
    method: 'POST',
    headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
    body: JSON.stringify(body),
  })
  return { status: res.status, body: (await res.json()) as Record<string, unknown> }
}

it('a flag answered two hours later while the org is away, then a restart: one Remit_Review__e', async () => {
  now = Date.parse('2026-04-07T09:00:00Z')
  // The org holds the Remit_Review__e that `remit salesforce package` defines.
  const project = mkdtempSync(join(tmpdir(), 'remit-sf-org-'))
  const remitForSpec = await openRemit({
    policy: loadPolicy(readFileSync(policy, 'utf8')),
    store: openSqliteStore(':memory:'),
  })
  const spec = salesforceOpenApi(remitForSpec)
  await writePackage(project, { serverUrl: 'https://remit.example.com', agents: ['sales-agent'], spec })
  await remitForSpec.close()
  const away = await fakeSalesforce({ metadata: readProject(project) })
  const org = await fakeSalesforce({ metadata: readProject(project) })
  try {
    const storePath = join(mkdtempSync(join(tmpdir(), 'remit-sf-life-')), 'remit.db')
    let remit = await serve(storePath, await away.connection())
    const checked = await post(remit, '/v1/salesforce/decisions', remit.keys['sf-sales'] as string, {
      kind: 'offer.discount',
      accountId: '001000000000001AAA',
      attributes: [{ name: 'discountPct', value: '10' }],
      facts: [
        { name: 'lifecycle', value: 'renewal' },
        { name: 'tier', value: 'enterprise' },
      ],
      idempotencyKey: '006000000000001AAA',
    })
    expect(checked.body).toMatchObject({ verdict: 'flag' })

    // Two hours later sales approves, while the org cannot be reached: the event waits in the outbox.
    now += 2 * 3600e3
    await away.close()
    const approved = await fetch(`${remit.url}/v1/reviews/${checked.body.reviewId}/approve`, {
      method: 'POST',
      headers: { authorization: `Bearer ${remit.keys.sales}` },
    })
    expect(approved.status).toBe(200)
    const [waiting] = await remit.server.remit.outbox.list({ channel: 'salesforce' })
    expect(waiting).toMatchObject({ status: 'pending' })

    // Remit restarts on the same store, the org is back: the event is published, once.
    for (const stop of stops.splice(0)) stop()
    await remit.close()
    running.splice(0)
    now += 60_000
    remit = await serve(storePath, await org.connection())
    for (let i = 0; i < 100 && org.published.length === 0; i++) await new Promise((r) => setTimeout(r, 20))
    await new Promise((r) => setTimeout(r, 300))
    expect(org.published).toEqual([
      {
        object: 'Remit_Review__e',
        body: expect.objectContaining({
          ReviewId__c: checked.body.reviewId,
          Verdict__c: 'go',
          Status__c: 'approved',
        }),
      },
    ])
    expect((await remit.server.remit.outbox.list({ channel: 'salesforce' }))[0]).toMatchObject({
      status: 'delivered',
    })
  } finally {
    await org.close()
  }
})

it("a call a sales rep logs in Salesforce stops support's win-back the next day", async () => {
  now = Date.parse('2026-04-07T15:00:00Z')
  const storePath = join(mkdtempSync(join(tmpdir(), 'remit-sf-task-')), 'remit.db')
  const remit = await serve(storePath)
  // The Remit Record Task flow, on the Task's asynchronous path: "Record a touch" with its Id.
  const task = {
    kind: 'call',
    accountId: 'acme',
    contactId: '003000000000001AAA',
    channel: 'phone',
    recordId: '00T000000000001AAA',
  }
  const recorded = await post(remit, '/v1/salesforce/touches', remit.keys['sf-activity'] as string, task)
  expect(recorded.status).toBe(201)
  expect(recorded.body).toMatchObject({ accountId: 'acme', team: 'sales' })
  // Salesforce retrying the flow's callout records nothing new.
  const again = await post(remit, '/v1/salesforce/touches', remit.keys['sf-activity'] as string, task)
  expect(again.body.id).toBe(recorded.body.id)

  // The next morning, support's win-back for the same account.
  now = Date.parse('2026-04-08T09:00:00Z')
  const winback = (accountId: string) =>
    post(remit, '/v1/decisions', remit.keys.support as string, {
      action: { kind: 'sequence.winback' },
      customer: { accountId, facts: { lifecycle: 'customer', tier: 'smb' } },
    })
  const stopped = await winback('acme')
  expect(stopped.body.verdict).toBe('stop')
  expect(JSON.stringify(stopped.body.reasons)).toContain('no-winback-after-sales')
  // An account no rep spoke with: go.
  expect((await winback('globex')).body.verdict).toBe('go')
})
