import { spawn } from 'node:child_process'
import { copyFileSync, existsSync, mkdtempSync, readFileSync, renameSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { generateKey, keyLine } from '@remit/server'
import { expect, it } from 'vitest'
import { startServe } from './serve-process.ts'

// `remit serve --decision-log`: every decision answered over HTTP is one JSON line, in a file an
// operator rotates, or on stdout with nothing else there.

function setup() {
  const dir = mkdtempSync(join(tmpdir(), 'remit-serve-decision-log-'))
  copyFileSync(new URL('../../../examples/seed-week/remit.yaml', import.meta.url), join(dir, 'remit.yaml'))
  const key = generateKey()
  writeFileSync(join(dir, 'keys.yaml'), `${keyLine({ name: 'marketing', agent: 'marketing-agent' }, key)}\n`)
  const args = [
    '--policy',
    join(dir, 'remit.yaml'),
    '--store',
    join(dir, 'remit.db'),
    '--keys',
    join(dir, 'keys.yaml'),
  ]
  return { dir, key, args }
}

async function decide(url: string, key: string, accountId: string, lifecycle = 'customer') {
  const res = await fetch(`${url}/v1/decisions`, {
    method: 'POST',
    headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
    body: JSON.stringify({
      action: { kind: 'email.positioning' },
      customer: { accountId, facts: { lifecycle, tier: 'smb' } },
    }),
  })
  expect(res.status).toBe(200)
  return (await res.json()) as { id: string; verdict: string }
}

const lines = (file: string) =>
  readFileSync(file, 'utf8')
    .split('\n')
    .filter(Boolean)
    .map(
      (l) => JSON.parse(l) as { customer: { accountId: string }; decision: { id: string; verdict: string } },
    )

it('remit serve --decision-log <file> writes one JSON line per decision, and a new file after SIGHUP', async () => {
  const { dir, key, args } = setup()
  const file = join(dir, 'decisions.ndjson')
  const { url, process: child } = await startServe([...args, '--decision-log', file])
  try {
    const made = [await decide(url, key, 'a1'), await decide(url, key, 'a2', 'renewal')]
    expect(made.map((d) => d.verdict)).toEqual(['go', 'flag'])
    for (let i = 0; i < 100 && lines(file).length < 2; i++) await new Promise((r) => setTimeout(r, 10))
    expect(lines(file).map((l) => [l.customer.accountId, l.decision.id, l.decision.verdict])).toEqual([
      ['a1', made[0]?.id, 'go'],
      ['a2', made[1]?.id, 'flag'],
    ])
    // Rotation by rename, then SIGHUP: the server opens the file by its name again.
    renameSync(file, `${file}.1`)
    child.kill('SIGHUP')
    for (let i = 0; i < 200 && !existsSync(file); i++) await new Promise((r) => setTimeout(r, 10))
    const later = await decide(url, key, 'a3')
    const exited = new Promise((r) => child.once('exit', r))
    child.kill('SIGTERM')
    await exited
    expect(lines(`${file}.1`)).toHaveLength(2)
    expect(lines(file).map((l) => l.decision.id)).toEqual([later.id])
  } finally {
    child.kill('SIGKILL')
  }
})

it('remit serve --decision-log - puts the decision log alone on stdout; the logs go to stderr', async () => {
  const { key, args } = setup()
  const bin = fileURLToPath(new URL('../src/bin.ts', import.meta.url))
  const child = spawn(
    process.execPath,
    [bin, 'serve', '--port', '0', '--no-watch', '--log-level', 'info', ...args, '--decision-log', '-'],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  )
  let out = ''
  let err = ''
  child.stdout.on('data', (chunk) => {
    out += chunk
  })
  try {
    const url = await new Promise<string>((resolve, reject) => {
      child.stderr.on('data', (chunk) => {
        err += chunk
        const found = /serving (http:\/\/\S+)/.exec(err)?.[1]
        if (found) resolve(found)
      })
      child.once('exit', (code) => reject(new Error(`remit serve exited ${code}: ${err}`)))
    })
    const made = [await decide(url, key, 'b1'), await decide(url, key, 'b2')]
    const exited = new Promise((r) => child.once('exit', r))
    child.kill('SIGTERM')
    await exited
    const stdout = out.split('\n').filter(Boolean)
    expect(stdout.map((l) => (JSON.parse(l) as { decision: { id: string } }).decision.id)).toEqual(
      made.map((d) => d.id),
    )
    // The server's request lines went to stderr.
    expect(err).toContain('"msg":"request"')
  } finally {
    child.kill('SIGKILL')
  }
})
