import type { Store } from '@remit/core'
import { outboxMessage } from '@remit/core/internal'
import { afterEach, describe, expect, it } from 'vitest'
import { openPostgresStore } from '../src/index.ts'
import { schemas, url } from './database.ts'
import { AT, flagWrite, request } from './writes.ts'

// A flag's owed work (a Slack post, a webhook) is written with the decision, in its transaction:
// on the group-commit path (many decisions in one statement per table) and on the one-by-one path.

const fresh = schemas()
const opened: Store[] = []
afterEach(async () => {
  for (const s of opened.splice(0)) await s.close()
})

const flagOwing = (accountId: string) => {
  const write = flagWrite(accountId)
  const cause = { reviewId: write.review.id, decisionId: write.decision.id }
  return {
    ...write,
    outbox: [
      outboxMessage(
        `obx_slack_${accountId}`,
        'slack',
        { kind: 'post', reviewId: write.review.id },
        AT,
        cause,
      ),
      outboxMessage(`obx_hook_${accountId}`, 'webhook:ops', { type: 'review.opened' }, AT, cause),
    ],
  }
}

describe("a flag's outbox messages", () => {
  it('are written with decisions decided together in one batch, and alone', async () => {
    const store = await openPostgresStore(url, { schema: fresh() })
    opened.push(store)
    const accounts = ['a1', 'a2', 'a3', 'a4']
    await Promise.all(accounts.map((a) => store.decide(request(a), () => flagOwing(a))))
    await store.decide(request('alone'), () => flagOwing('alone'))
    const slack = await store.listOutbox({ channel: 'slack' })
    expect(slack.map((m) => m.id).sort()).toEqual([...accounts, 'alone'].map((a) => `obx_slack_${a}`).sort())
    expect(slack[0]).toMatchObject({ status: 'pending', attempts: 0, payload: { kind: 'post' } })
    expect(await store.listOutbox({ channel: 'webhook:ops' })).toHaveLength(5)
    const claimed = await store.claimOutbox('slack', new Date(AT.getTime() + 1000), 60_000, 10)
    expect(claimed).toHaveLength(5)
    expect(claimed[0]?.createdAt).toEqual(AT)
  })
})
