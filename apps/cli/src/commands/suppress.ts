import { userInfo } from 'node:os'
import type { Suppression } from '@remit/core'
import { newSuppression, suppressionToWire } from '@remit/core/internal'
import { type Io, paint, UsageError } from '../output.ts'
import { existingStore } from './outbox.ts'

// `remit suppress add | list | lift`: the operator's side of suppressions, on the store `remit serve`
// uses (never a new one: a mistyped path is bad input). What they write, a running server sees at
// its next decision.

export interface SuppressAddOptions {
  store: string
  account?: string
  contact?: string
  email?: string
  channel?: string
  reason?: string
}

export interface SuppressListOptions {
  store: string
  account?: string
  email?: string
  json?: boolean
}

/** Who runs the command, kept as the suppression's source (or its lifter): `cli:<login>`. */
function operator(): string {
  try {
    return `cli:${userInfo().username}`
  } catch {
    return 'cli'
  }
}

/** `remit suppress add`: from now on every outbound action it covers is stopped by `suppression`. */
export async function suppressAdd(io: Io, o: SuppressAddOptions): Promise<number> {
  if (!o.account && !o.contact && !o.email)
    throw new UsageError('name the customer: --email, --contact or --account')
  if (!o.reason)
    throw new UsageError('say why: --reason <reason>', 'e.g. unsubscribe, spamreport, bounce, manual')
  if (o.email !== undefined && !/^[^\s@]+@[^\s@]+$/.test(o.email.trim()))
    throw new UsageError(`--email wants an address, got "${o.email}"`)
  const suppression = newSuppression(
    {
      ...(o.account ? { accountId: o.account } : {}),
      ...(o.contact ? { contactId: o.contact } : {}),
      ...(o.email ? { email: o.email } : {}),
      ...(o.channel ? { channel: o.channel } : {}),
      reason: o.reason,
      source: operator(),
    },
    new Date(),
  )
  const store = await existingStore(o.store)
  try {
    const s = await store.recordSuppression(suppression)
    io.out(`${s.id}: ${who(s)} is suppressed on ${s.channel ?? 'every channel'} (${s.reason})`)
    return 0
  } finally {
    await store.close()
  }
}

/** `remit suppress list`: suppressions on record, in force and lifted, oldest first. */
export async function suppressList(io: Io, o: SuppressListOptions): Promise<number> {
  const store = await existingStore(o.store)
  try {
    const list = await store.listSuppressions({
      ...(o.account ? { accountId: o.account } : {}),
      ...(o.email ? { email: o.email } : {}),
      limit: 1000,
    })
    if (o.json) {
      io.out(JSON.stringify(list.map(suppressionToWire), null, 2))
      return 0
    }
    if (!list.length) io.out('no suppressions (for this filter)')
    for (const s of list) io.out(line(io, s))
    return 0
  } finally {
    await store.close()
  }
}

/** `remit suppress lift <id>`: it stops nothing from now on, and stays on record with who lifted it. */
export async function suppressLift(io: Io, id: string, o: { store: string; note?: string }): Promise<number> {
  const store = await existingStore(o.store)
  try {
    const at = new Date()
    const s = await store.liftSuppression(id, { at, by: operator(), ...(o.note ? { note: o.note } : {}) })
    if (s.liftedAt && s.liftedAt.getTime() !== at.getTime())
      io.out(`${s.id} was already lifted, at ${s.liftedAt.toISOString()} by ${s.liftedBy}: nothing changed`)
    else io.out(`${s.id} lifted: ${who(s)} is no longer suppressed on ${s.channel ?? 'any channel'}`)
    return 0
  } finally {
    await store.close()
  }
}

function who(s: Suppression): string {
  const person = s.email ?? (s.contactId ? `contact ${s.contactId}` : undefined)
  const account = /^(email|contact):/.test(s.accountId) ? undefined : `account ${s.accountId}`
  return [person, account].filter(Boolean).join(' of ') || s.accountId
}

function line(io: Io, s: Suppression): string {
  const state = s.liftedAt ? paint(io, 'dim', 'lifted  ') : paint(io, 'red', 'in force')
  const lifted = s.liftedAt
    ? ` — lifted ${s.liftedAt.toISOString()} by ${s.liftedBy}${s.liftNote ? ` (${s.liftNote})` : ''}`
    : ''
  return `${state} ${s.id} ${who(s)}, ${s.channel ?? 'every channel'}: ${s.reason}, by ${s.source} at ${s.at.toISOString()}${lifted}`
}
