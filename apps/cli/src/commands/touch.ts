import { loadPolicyFile, openRemit } from '@remit/core'
import { touchRequestSchema } from '@remit/core/api'
import { inputErrorFromZod } from '@remit/core/internal'
import { type Io, UsageError } from '../output.ts'
import { atFlag } from './decide.ts'
import { existingStore } from './outbox.ts'

export interface TouchOptions {
  store: string
  policy: string
  account?: string
  contact?: string
  email?: string
  kind?: string
  channel?: string
  team?: string
  at?: string
  outbound?: boolean
  inbound?: boolean
  note?: string
}

/**
 * `remit touch`: records a touch that happened elsewhere (a call, a meeting, a CRM e-mail), as an
 * admin's `POST /v1/touches` does: the same checks (the team must be the policy's; the kind's
 * channel and direction come from the policy when it declares the kind), on the store `remit serve`
 * uses. Limits count it from then on.
 */
export async function touchCommand(io: Io, o: TouchOptions): Promise<number> {
  if (!o.account) throw new UsageError('name the account: --account <id>')
  if (!o.kind) throw new UsageError('say what happened: --kind <kind>', 'e.g. call, meeting, email.manual')
  if (o.outbound && o.inbound) throw new UsageError('a touch is --outbound or --inbound, not both')
  const parsed = touchRequestSchema.safeParse({
    accountId: o.account,
    ...(o.contact !== undefined ? { contactId: o.contact } : {}),
    ...(o.email !== undefined ? { email: o.email } : {}),
    kind: o.kind,
    ...(o.channel !== undefined ? { channel: o.channel } : {}),
    ...(o.team !== undefined ? { team: o.team } : {}),
    ...(o.at !== undefined ? { at: atFlag(o.at) } : {}),
    ...(o.outbound ? { outbound: true } : o.inbound ? { outbound: false } : {}),
    ...(o.note !== undefined ? { note: o.note } : {}),
  })
  if (!parsed.success) throw inputErrorFromZod(parsed.error)
  const policy = await loadPolicyFile(o.policy)
  const remit = await openRemit({ policy, store: await existingStore(o.store) })
  try {
    const t = await remit.recordTouch(parsed.data)
    const who = [t.contactId && `contact ${t.contactId}`, t.email].filter(Boolean).join(', ')
    io.out(
      `${t.id}: ${t.outbound ? 'outbound' : 'inbound'} ${t.kind}${t.channel ? ` (${t.channel})` : ''} for account ${t.accountId}${who ? ` (${who})` : ''}${t.team ? `, team ${t.team}` : ''}, at ${t.at.toISOString()}`,
    )
    return 0
  } finally {
    await remit.close()
  }
}
