import { afterEach, expect, it } from 'vitest'
import { acme, globex, type Harness, harness } from './helpers.ts'

let h: Harness
afterEach(async () => h?.server.close())

it('each decision over HTTP is one line of the decision log', async () => {
  const lines: string[] = []
  h = await harness({ decisionLog: { write: (line) => void lines.push(line) } })
  const go = await h.call('POST', '/v1/decisions', h.key.marketing, {
    action: { kind: 'email.positioning' },
    customer: globex,
  })
  const flag = await h.call('POST', '/v1/decisions', h.key.marketing, {
    action: { kind: 'email.positioning' },
    customer: acme,
  })
  expect([go.body.verdict, flag.body.verdict]).toEqual(['go', 'flag'])
  expect(lines.map((l) => JSON.parse(l))).toMatchObject([
    {
      agent: 'marketing-agent',
      tool: 'hubspot:workflow/1001',
      customer: { accountId: 'globex' },
      decision: { id: go.body.id, verdict: 'go' },
    },
    { customer: { accountId: 'acme' }, decision: { id: flag.body.id, reviewId: flag.body.reviewId } },
  ])
})

it('a decision log that fails is counted and logged, and every decision is answered all the same', async () => {
  h = await harness({
    decisionLog: {
      write() {
        throw new Error('disk full')
      },
    },
  })
  for (const customer of [globex, acme]) {
    const d = await h.call('POST', '/v1/decisions', h.key.marketing, {
      action: { kind: 'email.positioning' },
      customer,
    })
    expect(d.status).toBe(200)
  }
  const metrics = await h.call('GET', '/metrics')
  expect(metrics.body).toMatch(/^remit_decision_log_errors_total 2$/m)
  // The first failure is logged; the next within 10 s only counted.
  const logged = h.logs.filter((l) => l.includes('decision log: lines not written'))
  expect(logged).toHaveLength(1)
  expect(JSON.parse(logged[0] as string)).toMatchObject({
    level: 50,
    lines: 1,
    err: { message: 'disk full' },
  })
})
