import { type ChildProcess, spawn } from 'node:child_process'
import { createServer as createHttpServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { fileURLToPath } from 'node:url'
import type { RemitServer } from '@remit/server'
import { startTestServer } from '@remit/server/testing'
import sendgrid from '@sendgrid/mail'
import type { MailService } from '../src/index.ts'

const spec = fileURLToPath(new URL('../spec/tsg_mail_v3.json', import.meta.url))
const prismBin = fileURLToPath(new URL('../node_modules/.bin/prism', import.meta.url))

export async function freePort(): Promise<number> {
  const s = createHttpServer()
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r))
  const port = (s.address() as AddressInfo).port
  await new Promise((r) => s.close(r))
  return port
}

/** Stoplight Prism serving SendGrid's published mail spec, validating every request against it. */
export async function startPrism(): Promise<{ url: string; process: ChildProcess }> {
  const port = await freePort()
  const child = spawn(prismBin, ['mock', '-h', '127.0.0.1', '-p', String(port), '--errors', spec], {
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  return new Promise((resolve, reject) => {
    let out = ''
    const onData = (c: Buffer) => {
      out += c
      if (out.includes('Prism is listening')) resolve({ url: `http://127.0.0.1:${port}`, process: child })
    }
    child.stdout?.on('data', onData)
    child.stderr?.on('data', onData)
    child.once('exit', (code) => reject(new Error(`prism exited ${code}: ${out}`)))
  })
}

export interface Recorded {
  body: {
    personalizations: { to?: { email: string }[]; cc?: { email: string }[]; bcc?: { email: string }[] }[]
  }
  status: number
}

/** A pass-through in front of SendGrid (Prism), keeping every request and SendGrid's answer. */
export async function recorder(upstream: string | ((body: string) => { status: number; body: string })) {
  const requests: Recorded[] = []
  const server: Server = createHttpServer(async (req, res) => {
    const chunks: Buffer[] = []
    for await (const c of req) chunks.push(c as Buffer)
    const body = Buffer.concat(chunks).toString()
    let status: number
    let text: string
    if (typeof upstream === 'string') {
      const r = await fetch(`${upstream}${req.url}`, {
        method: req.method ?? 'POST',
        headers: { 'content-type': 'application/json', authorization: String(req.headers.authorization) },
        body,
      })
      status = r.status
      text = await r.text()
    } else ({ status, body: text } = upstream(body))
    requests.push({ body: JSON.parse(body), status })
    res.writeHead(status, { 'content-type': 'application/json' })
    res.end(text)
  })
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    requests,
    close: () => new Promise((r) => server.close(r)),
  }
}

/** A real @sendgrid/mail MailService aimed at `baseUrl`. */
export function mailService(baseUrl: string): MailService {
  const svc = new (
    sendgrid as unknown as {
      MailService: new () => MailService & { client: { setDefaultRequest(k: string, v: string): void } }
    }
  ).MailService()
  svc.setApiKey('SG.test-key')
  svc.client.setDefaultRequest('baseUrl', baseUrl)
  return svc
}

export interface RemitHarness {
  server: RemitServer
  url: string
  key: string
  reviewerKey: string
  dir: string
}

export const seedPolicy = new URL('../../../examples/seed-week/remit.yaml', import.meta.url)

/** Remit on the seed policy with a key for the SendGrid positioning tool and a sales reviewer key. */
export async function startRemit(): Promise<RemitHarness> {
  const { server, url, keys, dir } = await startTestServer({
    policy: seedPolicy,
    keys: {
      sendgrid: { agent: 'marketing-agent', tool: 'sendgrid:category/positioning' },
      sales: { reviewer: 'sales' },
    },
  })
  return { server, url, key: keys.sendgrid as string, reviewerKey: keys.sales as string, dir }
}

/**
 * Who each test recipient is: `go@` a plain customer (go), `renewal@` in renewal (flag),
 * `prospect@` a prospect (no permission: flag), `ticket@` with a ticket open (pause: stop).
 */
export function customers(recipient: { email: string }) {
  const [who, domain] = recipient.email.split('@') as [string, string]
  const base = who.replace(/\d+$/, '')
  const facts: Record<string, unknown> = { tier: 'smb', lifecycle: 'customer' }
  if (base === 'renewal') facts.lifecycle = 'renewal'
  if (base === 'prospect') facts.lifecycle = 'prospect'
  if (base === 'ticket') facts.lastTicketOpenedAt = new Date(Date.now() - 3600e3).toISOString()
  return { accountId: `${who}.${domain}`, email: recipient.email, facts }
}

export const emails = (r: Recorded) =>
  r.body.personalizations.map((p) => ({
    to: p.to?.map((e) => e.email),
    ...(p.cc ? { cc: p.cc.map((e) => e.email) } : {}),
    ...(p.bcc ? { bcc: p.bcc.map((e) => e.email) } : {}),
  }))
