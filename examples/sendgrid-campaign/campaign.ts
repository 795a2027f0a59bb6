// A small campaign through the gated @sendgrid/mail. SendGrid is Stoplight Prism serving SendGrid's
// published spec (so nothing leaves this machine), Remit runs in-process on the embedded store with
// the seed week's policy. Run: node examples/sendgrid-campaign/campaign.ts
import { type ChildProcess, spawn } from 'node:child_process'
import { copyFileSync, mkdtempSync, writeFileSync } from 'node:fs'
import { createServer as createHttpServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { openSqliteStore } from '@remit/core'
import { gate, type SendReport } from '@remit/sendgrid'
import { createServer, generateKey, keyLine } from '@remit/server'
import sgClient from '@sendgrid/client'
import sgMail from '@sendgrid/mail'

const here = fileURLToPath(new URL('.', import.meta.url))

/** Who each address is, as the CRM would say. */
const crm: Record<string, { accountId: string; facts: Record<string, unknown> }> = {
  'omar@globex.example': { accountId: 'globex', facts: { lifecycle: 'customer', tier: 'smb' } },
  'li@umbrella.example': { accountId: 'umbrella', facts: { lifecycle: 'customer', tier: 'enterprise' } },
  'jane@acme.example': { accountId: 'acme', facts: { lifecycle: 'renewal', tier: 'enterprise' } },
  'sam@hooli.example': {
    accountId: 'hooli',
    facts: {
      lifecycle: 'customer',
      tier: 'smb',
      lastTicketOpenedAt: new Date(Date.now() - 6 * 3600e3).toISOString(),
    },
  },
  'peter@initech.example': { accountId: 'initech', facts: { lifecycle: 'prospect', tier: 'smb' } },
}

export interface CampaignResult {
  report: SendReport
  released: { sent: string[]; dropped: string[]; waiting: number }
}

export async function runCampaign(log: (line: string) => void = console.log): Promise<CampaignResult> {
  const dir = mkdtempSync(join(tmpdir(), 'remit-campaign-'))
  const prism = await startPrism()
  // Remit: the seed week's policy; one key for this SendGrid tool, one for sales's reviewers.
  copyFileSync(join(here, '../seed-week/remit.yaml'), join(dir, 'remit.yaml'))
  const toolKey = generateKey()
  const salesKey = generateKey()
  writeFileSync(
    join(dir, 'keys.yaml'),
    `${keyLine({ name: 'sendgrid-positioning', agent: 'marketing-agent', tool: 'sendgrid:category/positioning' }, toolKey)}\n${keyLine({ name: 'sales', reviewer: 'sales' }, salesKey)}\n`,
  )
  const remit = await createServer({
    policy: join(dir, 'remit.yaml'),
    store: openSqliteStore(join(dir, 'remit.db')),
    keys: join(dir, 'keys.yaml'),
    logger: false,
    watch: false,
  })
  const url = await remit.listen({ port: 0 })

  try {
    // SendGrid here is Prism: sgMail is given a client aimed at it (setApiKey resets the base URL, so
    // the key comes first). In production this is just `sgMail.setApiKey(process.env.SENDGRID_API_KEY)`.
    sgClient.setApiKey('SG.example-key')
    sgClient.setDefaultRequest('baseUrl', prism.url)
    sgMail.setClient(sgClient)

    // The one-line change: where the mail service was `sgMail`, it is now the gate around it.
    const mail = gate(sgMail, {
      remit: { url, key: toolKey },
      action: () => ({ kind: 'email.positioning' }),
      customer: ({ email }) => ({ email, ...(crm[email] ?? { facts: {} }) }),
      holdPath: join(dir, 'held.db'),
      releaseEveryMs: 0,
    })

    const result = await mail.sendMultiple({
      to: Object.keys(crm),
      from: 'marketing@remit.example',
      subject: 'The platform for the next five years',
      text: 'Our premium tier, and what it means for your team.',
      categories: ['positioning'],
    })
    const report = result.remit
    log(`sent to      ${report.sent.map((r) => r.email).join(', ') || '—'}`)
    for (const h of report.held)
      log(`held         ${h.email}  (review ${h.reviewId}: ${h.reasons.map((r) => r.rule).join(', ')})`)
    for (const s of report.stopped) {
      log(
        `stopped      ${s.email}  (${s.reasons.map((r) => r.rule).join(', ')}${s.retryAfter ? `; retry after ${s.retryAfter}` : ''})`,
      )
    }

    // Sales approves Acme's (it is their renewal) and rejects the prospect's; then the held mail is released.
    for (const h of report.held) {
      const verb = h.email === 'jane@acme.example' ? 'approve' : 'reject'
      await fetch(`${url}/v1/reviews/${h.reviewId}/${verb}`, {
        method: 'POST',
        headers: { authorization: `Bearer ${salesKey}`, 'content-type': 'application/json' },
        body: JSON.stringify({ note: verb === 'approve' ? 'fits the renewal story' : 'not to prospects' }),
      })
      log(`sales ${verb === 'approve' ? 'approves' : 'rejects '} ${h.email}`)
    }
    const released = await mail.release()
    log(`released     ${released.sent.join(', ') || '—'}; dropped ${released.dropped.join(', ') || '—'}`)
    await mail.close()
    return { report, released }
  } finally {
    await remit.close()
    prism.kill()
  }
}

async function startPrism(): Promise<{ url: string; kill: () => void }> {
  const probe = createHttpServer()
  await new Promise<void>((r) => probe.listen(0, '127.0.0.1', r))
  const port = (probe.address() as AddressInfo).port
  await new Promise((r) => probe.close(r))
  const spec = join(here, '../../packages/sendgrid/spec/tsg_mail_v3.json')
  const child: ChildProcess = spawn(
    join(here, 'node_modules/.bin/prism'),
    ['mock', '-h', '127.0.0.1', '-p', String(port), '--errors', spec],
    {
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  )
  await new Promise<void>((resolve, reject) => {
    let out = ''
    const on = (c: Buffer) => {
      out += c
      if (out.includes('Prism is listening')) resolve()
    }
    child.stdout?.on('data', on)
    child.stderr?.on('data', on)
    child.once('exit', (code) => reject(new Error(`prism exited ${code}: ${out}`)))
  })
  return { url: `http://127.0.0.1:${port}`, kill: () => child.kill() }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) await runCampaign()
