import { existsSync } from 'node:fs'
import type { OutboxMessage, OutboxStatus } from '@remit/core'
import { type Io, paint, UsageError } from '../output.ts'
import { openStore } from './serve.ts'

export interface OutboxListOptions {
  store: string
  status?: string
  channel?: string
  limit?: string
  json?: boolean
}

const STATUSES: OutboxStatus[] = ['pending', 'delivered', 'dead']

/** An existing store: reading (or adding to) it must not create an empty SQLite file at a mistyped path. */
export async function existingStore(spec: string) {
  if (!/^postgres(ql)?:\/\//.test(spec) && !existsSync(spec))
    throw new UsageError(
      `no store at ${spec}`,
      'pass --store with the SQLite file or postgres:// URL remit serve uses',
    )
  return openStore(spec, { create: false })
}

/** `remit outbox list`: the work Remit owes vendors, and what became of it. */
export async function outboxList(io: Io, o: OutboxListOptions): Promise<number> {
  if (o.status !== undefined && !STATUSES.includes(o.status as OutboxStatus))
    throw new UsageError(`--status must be one of ${STATUSES.join(', ')}, got "${o.status}"`)
  const limit = o.limit === undefined ? 100 : Number(o.limit)
  if (!Number.isInteger(limit) || limit < 1 || limit > 1000)
    throw new UsageError(`--limit must be 1–1000, got "${o.limit}"`)
  const store = await existingStore(o.store)
  try {
    const messages = await store.listOutbox({
      ...(o.status ? { status: o.status as OutboxStatus } : {}),
      ...(o.channel ? { channel: o.channel } : {}),
      limit,
    })
    if (o.json) {
      io.out(JSON.stringify(messages, null, 2))
      return 0
    }
    if (!messages.length) io.out('the outbox is empty (for this filter)')
    for (const m of messages) io.out(line(io, m))
    return 0
  } finally {
    await store.close()
  }
}

/** `remit outbox retry <id>`: puts a dead message back; a running server delivers it within seconds. */
export async function outboxRetry(io: Io, id: string, o: { store: string }): Promise<number> {
  const store = await existingStore(o.store)
  try {
    const m = await store.retryOutbox(id, new Date())
    io.out(`${m.id} is pending again; a running Remit server delivers it on its next pass`)
    return 0
  } finally {
    await store.close()
  }
}

function line(io: Io, m: OutboxMessage): string {
  const colour = m.status === 'dead' ? 'red' : m.status === 'pending' ? 'yellow' : 'green'
  const when =
    m.status === 'delivered'
      ? `delivered ${m.deliveredAt?.toISOString()}`
      : m.status === 'pending'
        ? `next try ${m.nextAt.toISOString()}`
        : `gave up ${m.nextAt.toISOString()}`
  const error = m.lastError ? ` — last error: ${m.lastError}` : ''
  const cause = m.reviewId ? ` review ${m.reviewId}` : ''
  return `${paint(io, colour, m.status.padEnd(9))} ${m.id} ${m.channel}${cause}, ${m.attempts} attempt(s), ${when}${error}`
}
