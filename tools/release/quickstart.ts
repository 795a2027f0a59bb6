import { execFile, spawn } from 'node:child_process'
import { writeFileSync } from 'node:fs'
import { createServer } from 'node:net'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { repoRoot } from './tarballs.ts'

// A user's first hour, in a folder where npm installed Remit's packages (from tarballs or a
// registry, never workspace links): validate, decide, serve with the console, the SendGrid gate
// compiled against the real SDK's types, the adapters imported. Throws, naming the step, on the first
// thing that does not work.

const exec = promisify(execFile)
/** A command of the quickstart: a minute at most, so a hang names its step. */
const run = (cmd: string, args: string[], o: { cwd: string; env: NodeJS.ProcessEnv }) =>
  exec(cmd, args, { ...o, timeout: 60_000, killSignal: 'SIGKILL' })

const POLICY = `version: 1
teams: { marketing: {}, sales: { reviewCapacityPerDay: 40 } }
agents:
  marketing-agent: { team: marketing, tools: ["hubspot:workflow/1001"] }
  sales-agent: { team: sales }
facts:
  lifecycle: { type: string, enum: [prospect, customer, renewal] }
actions:
  email.positioning: { channel: email }
  offer.discount: { channel: email, commitment: discount, attributes: { discountPct: number } }
permissions:
  - { id: mkt-positioning, team: marketing, action: email.positioning }
  - { id: sales-discount, team: sales, action: offer.discount, when: "action.discountPct <= 15.0" }
review: { defaultTeam: sales }
`

const GATE = `import sgMail from '@sendgrid/mail'
import { gate } from '@remit/sendgrid'

const mail = gate(sgMail, {
  remit: { url: 'http://127.0.0.1:8787', key: process.env.REMIT_KEY ?? '' },
  action: (msg) => ({ kind: msg.categories?.includes('winback') ? 'sequence.winback' : 'email.positioning' }),
  customer: ({ email }) => ({ email }),
})
const result = await mail.send({ to: 'a@x.example', from: 'm@remit.example', subject: 'Hi', text: 'Hello' })
const held: { email: string; reviewId: string }[] = result.remit.held
export { held }
`

async function step<T>(name: string, work: () => Promise<T>): Promise<T> {
  try {
    return await work()
  } catch (error) {
    const e = error as { stdout?: string; stderr?: string; message: string }
    throw new Error(`quickstart: ${name} failed: ${e.message}\n${e.stdout ?? ''}\n${e.stderr ?? ''}`.trim())
  }
}

async function freePort(): Promise<number> {
  const server = createServer()
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as { port: number }
  await new Promise<void>((resolve) => server.close(() => resolve()))
  return port
}

export interface QuickstartOptions {
  /** Also check the gate's types and import the adapters (they must be installed). */
  adapters?: boolean
}

/** Runs the quickstart in `dir`; resolves to what each step printed, for the test's report. */
export async function quickstart(dir: string, o: QuickstartOptions = {}): Promise<Record<string, string>> {
  const remit = join(dir, 'node_modules/.bin/remit')
  const env = { ...process.env, NO_COLOR: '1' }
  const out: Record<string, string> = {}
  writeFileSync(join(dir, 'remit.yaml'), POLICY)

  out.validate = await step(
    'remit validate',
    async () => (await run(remit, ['validate', 'remit.yaml'], { cwd: dir, env })).stdout,
  )
  if (!/valid/.test(out.validate)) throw new Error(`quickstart: remit validate printed ${out.validate}`)

  out.decide = await step('remit decide', async () => {
    const args = [
      'decide',
      '--agent',
      'sales-agent',
      '--action',
      'offer.discount',
      '--attr',
      'discountPct=20',
    ]
    return (
      await run(remit, [...args, '--account', 'initech', '--fact', 'lifecycle=prospect'], { cwd: dir, env })
    ).stdout
  })
  if (!/^FLAG/m.test(out.decide))
    throw new Error(`quickstart: remit decide should flag a 20% discount:\n${out.decide}`)

  const key = await step('remit keys new', async () => {
    const { stdout } = await run(remit, ['keys', 'new', '--reviewer', 'sales'], { cwd: dir, env })
    return stdout.trim().split('\n').at(-1) as string
  })
  out.serve = await step('remit serve, the console answering', async () => {
    const port = await freePort()
    const server = spawn(remit, ['serve', '--port', String(port), '--store', 'remit.db'], { cwd: dir, env })
    let log = ''
    server.stdout.on('data', (c) => (log += c))
    server.stderr.on('data', (c) => (log += c))
    try {
      const base = `http://127.0.0.1:${port}`
      for (let i = 0; ; i++) {
        const up = await fetch(`${base}/healthz`).then(
          (r) => r.ok,
          () => false,
        )
        if (up) break
        if (i > 150 || server.exitCode !== null) throw new Error(`the server did not come up:\n${log}`)
        await new Promise((resolve) => setTimeout(resolve, 100))
      }
      const page = await fetch(`${base}/console/`)
      const html = await page.text()
      if (page.status !== 200 || !/<html/i.test(html))
        throw new Error(`/console/ answered ${page.status}:\n${html.slice(0, 200)}`)
      const reviews = await fetch(`${base}/v1/reviews`, { headers: { authorization: `Bearer ${key}` } })
      if (reviews.status !== 200)
        throw new Error(`/v1/reviews with the new reviewer key answered ${reviews.status}`)
      return `console ${page.status}, ${html.length} bytes; reviews ${reviews.status}`
    } finally {
      server.kill('SIGTERM')
      await new Promise((resolve) => server.once('exit', resolve))
    }
  })

  if (o.adapters) {
    out.gate = await step('the SendGrid gate against @sendgrid/mail types (tsc)', async () => {
      writeFileSync(join(dir, 'gate.ts'), GATE)
      writeFileSync(
        join(dir, 'tsconfig.json'),
        JSON.stringify({
          compilerOptions: {
            target: 'es2023',
            module: 'nodenext',
            strict: true,
            noEmit: true,
            skipLibCheck: true, // as most projects: @sendgrid/mail's own .d.ts does not pass nodenext's checks
            types: ['node'],
          },
          files: ['gate.ts'],
        }),
      )
      const tsc = join(repoRoot, 'node_modules/.bin/tsc')
      return (await run(tsc, ['-p', dir], { cwd: dir, env })).stdout || 'no complaints'
    })
    out.imports = await step('importing every package', async () => {
      const names = [
        '@remit/core',
        '@remit/client',
        '@remit/sendgrid',
        '@remit/hubspot',
        '@remit/salesforce',
        '@remit/store-postgres',
        '@remit/server',
        '@remit/mcp',
        '@remit/slack',
      ]
      const code = `for (const n of ${JSON.stringify(names)}) { const m = await import(n); console.log(n, Object.keys(m).length) }`
      return (await run(process.execPath, ['--input-type=module', '-e', code], { cwd: dir, env })).stdout
    })
  }
  return out
}
