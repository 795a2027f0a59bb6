import { loadPolicyFile, openRemit, openSqliteStore } from '@remit/core'
import { startTestServer } from '@remit/server/testing'
import { expect, it } from 'vitest'
import { runWeek, week } from '../../../examples/seed-week/scenario.ts'
import { hubspotAction } from '../src/index.ts'
import { signV3 } from '../src/testing.ts'

// The example week again, but every HubSpot agent's attempt arrives as a signed custom
// workflow action execution, facts as the enrolled contact's properties. Same verdicts as the core.
it("the seed's week through HubSpot-shaped requests gives the core's verdicts", async () => {
  const policyPath = new URL('../../../examples/seed-week/remit.yaml', import.meta.url)
  const core = await openRemit({
    policy: await loadPolicyFile(policyPath.pathname),
    store: openSqliteStore(':memory:'),
  })
  const expected = (await runWeek(core)).filter((s) => s.kind === 'decision').map((s) => s.decision.verdict)

  let now = 0
  const secret = 'app-secret'
  let action: ReturnType<typeof hubspotAction> | undefined
  const started = await startTestServer({
    policy: policyPath,
    clock: () => new Date(now),
    rawRoutes: [
      {
        method: 'POST',
        url: '/hubspot/action',
        handle: (raw, h, req) => (action as NonNullable<typeof action>).handle(raw, h, req),
      },
    ],
  })
  action = hubspotAction({
    remit: started.server.remit,
    clientSecret: secret,
    publicBaseUrl: 'https://remit.example.com',
    properties: {
      lifecycle: 'lifecyclestage',
      tier: 'tier',
      lastTicketOpenedAt: 'last_ticket',
      renewalValue: 'renewal_value',
    },
    // The account id both CRMs share, kept on the HubSpot contact as a property.
    account: (object) => object.properties?.account_id ?? undefined,
    now: () => now,
  })
  const { server, url } = started
  const remit = server.remit

  // Replay the week in time order, HubSpot tools through the action endpoint, the rest directly.
  const verdicts: string[] = []
  const answers: { at: string; run: () => Promise<void> }[] = []
  const events = [...week].sort((a, b) => a.at.localeCompare(b.at))
  let n = 0
  const queue = events.map((e) => ({
    at: e.at,
    run: async () => {
      now = Date.parse(e.at)
      if (e.kind === 'touch') {
        await remit.recordTouch({
          accountId: e.accountId,
          contactId: e.contactId,
          kind: 'call',
          channel: e.channel,
          team: e.team,
          outbound: false,
          at: e.at,
        })
        return
      }
      if (e.kind !== 'attempt') return
      let verdict: string
      let reviewId: string | undefined
      if (e.tool.startsWith('hubspot:')) {
        const f = e.customer.facts as Record<string, string | number>
        const body = JSON.stringify({
          callbackId: `cb-${n++}`,
          origin: { portalId: 102670506, actionDefinitionId: 10646377, actionDefinitionVersion: 1 },
          context: { source: 'WORKFLOWS', workflowId: Number(e.tool.split('/')[1]) },
          object: {
            objectId: e.customer.contactId,
            objectType: 'CONTACT',
            properties: {
              email: e.customer.email,
              account_id: e.customer.accountId,
              lifecyclestage: f.lifecycle,
              tier: f.tier,
              ...(f.lastTicketOpenedAt ? { last_ticket: f.lastTicketOpenedAt } : {}),
              ...(f.renewalValue ? { renewal_value: String(f.renewalValue) } : {}),
            },
          },
          inputFields: { remit_action: e.action.kind },
        })
        const headers = signV3(
          { method: 'POST', url: 'https://remit.example.com/hubspot/action', rawBody: body },
          secret,
          now,
        )
        const res = await fetch(`${url}/hubspot/action`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', ...headers },
          body,
        })
        verdict = ((await res.json()) as { outputFields: { remit_verdict: string } }).outputFields
          .remit_verdict
        reviewId =
          verdict === 'flag' ? (await remit.reviews.list({ status: 'pending' })).at(-1)?.id : undefined
      } else {
        const d = await remit.decide({ tool: e.tool }, { action: e.action, customer: e.customer })
        verdict = d.verdict
        reviewId = d.reviewId
        if (d.verdict === 'go') await remit.outcome(d.id, 'sent')
      }
      verdicts.push(verdict)
      if (reviewId && e.review) {
        const answer = e.review
        const id = reviewId
        answers.push({
          at: answer.at,
          run: async () => {
            now = Date.parse(answer.at)
            const review = answer.approve
              ? await remit.reviews.approve(id, { by: answer.by, at: answer.at })
              : await remit.reviews.reject(id, { by: answer.by, at: answer.at })
            if (review.outcome === 'go') await remit.outcome(review.decisionId, 'sent')
          },
        })
      }
    },
  }))
  while (queue.length || answers.length) {
    const all = [...queue, ...answers].sort((a, b) => a.at.localeCompare(b.at))
    const next = all[0] as (typeof all)[number]
    queue.splice(queue.indexOf(next as never) >>> 0, queue.includes(next as never) ? 1 : 0)
    answers.splice(answers.indexOf(next) >>> 0, answers.includes(next) ? 1 : 0)
    await next.run()
  }
  expect(verdicts).toEqual(expected)
  expect(expected).toEqual(['flag', 'go', 'flag', 'go', 'stop', 'flag', 'stop', 'stop'])
  await started.close()
})
