import { type ChildProcess, spawn } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { Client } from '@modelcontextprotocol/sdk/client/index.js'
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js'
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js'
import { generateKey, keyLine } from '@remit/server'
import { afterEach, describe, expect, it } from 'vitest'

// `remit mcp-gateway --listen`: remote agents over Streamable HTTP, each with its own agent key from
// keys.yaml (the file `remit serve` reads), in front of @remit/mcp's fake CRM.

const bin = fileURLToPath(new URL('../src/bin.ts', import.meta.url))
const fixture = (name: string) =>
  fileURLToPath(new URL(`../../../packages/mcp/test/fixtures/${name}`, import.meta.url))
const email = { account: 'acme', to: 'jane@acme.example', subject: 'Hi' }
const verdict = (r: CallToolResult) => (r._meta as { remit: { verdict: string } }).remit.verdict

let dir: string
let gateway: ChildProcess | undefined
const clients: Client[] = []
afterEach(async () => {
  for (const client of clients.splice(0)) await client.close()
  if (gateway?.exitCode === null) {
    const exited = new Promise((resolve) => gateway?.once('exit', resolve))
    gateway.kill('SIGTERM')
    await exited
  }
  rmSync(dir, { recursive: true, force: true })
})

/** Starts the gateway on a free port; resolves to its URL, from what it says on stderr. */
function startGateway(calls: string, keys: string): Promise<string> {
  gateway = spawn(
    process.execPath,
    [
      bin,
      'mcp-gateway',
      '--listen',
      '0',
      '--keys',
      keys,
      '--policy',
      fixture('remit.yaml'),
      '--map',
      fixture('mcp.yaml'),
      '--store',
      join(dir, 'remit.db'),
      '--hold',
      join(dir, 'remit-mcp.db'),
      '--',
      process.execPath,
      fixture('upstream.ts'),
    ],
    { env: { ...process.env, CALLS_FILE: calls }, stdio: ['ignore', 'ignore', 'pipe'] },
  )
  return new Promise((resolve, reject) => {
    let said = ''
    gateway?.stderr?.on('data', (chunk: Buffer) => {
      said += chunk.toString()
      const url = /serving MCP on (http:\/\/\S+)/.exec(said)?.[1]
      if (url) resolve(url)
    })
    gateway?.once('exit', (code) => reject(new Error(`the gateway exited ${code}: ${said}`)))
  })
}

async function agent(url: string, key?: string) {
  const client = new Client({ name: 'remote-agent', version: '1.0.0' })
  await client.connect(
    new StreamableHTTPClientTransport(new URL(url), {
      requestInit: key ? { headers: { authorization: `Bearer ${key}` } } : {},
    }),
  )
  clients.push(client)
  return async (name: string, args: Record<string, unknown>) =>
    (await client.callTool({ name, arguments: args })) as CallToolResult
}

describe('remit mcp-gateway --listen', () => {
  it("serves remote agents, each decided as its keys.yaml key's agent; no key or a wrong one is a 401", async () => {
    dir = mkdtempSync(join(tmpdir(), 'remit-cli-mcp-listen-'))
    const calls = join(dir, 'calls.ndjson')
    const crmKey = generateKey()
    const supportKey = generateKey()
    const reviewerKey = generateKey()
    const keys = join(dir, 'keys.yaml')
    writeFileSync(
      keys,
      [
        keyLine({ name: 'crm', agent: 'crm-agent' }, crmKey),
        keyLine({ name: 'support', agent: 'support-agent' }, supportKey),
        keyLine({ name: 'sales-reviewer', reviewer: 'sales' }, reviewerKey),
        '',
      ].join('\n'),
    )
    const url = await startGateway(calls, keys)
    expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/mcp$/)

    const crm = await agent(url, crmKey)
    const support = await agent(url, supportKey)
    expect(verdict(await crm('send_email', email))).toBe('go')
    expect(verdict(await support('send_email', email))).toBe('flag')

    await expect(agent(url)).rejects.toMatchObject({ code: 401 })
    await expect(agent(url, generateKey())).rejects.toMatchObject({ code: 401 })
    await expect(agent(url, reviewerKey)).rejects.toMatchObject({ code: 401 })
    const received = readFileSync(calls, 'utf8').split('\n').filter(Boolean)
    expect(received.map((line) => JSON.parse(line).tool)).toEqual(['send_email'])
  })
})
