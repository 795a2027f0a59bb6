// The example week (examples/seed-week), played by scripted agents — no model — that act only
// through a fake CRM's MCP server, with `@remit/mcp`'s gateway in front of it: one gateway per agent,
// all asking one Remit. Each attempt is a tool call; a flag is answered by its reviewer at the time
// the week says, and the agent then calls the same tool again, which is sent once.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { Client } from '@modelcontextprotocol/sdk/client/index.js'
import { InMemoryTransport } from '@modelcontextprotocol/sdk/inMemory.js'
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js'
import { loadPolicyFile, openRemit, openSqliteStore } from '@remit/core'
import { type Attempt, week } from '@remit/example-seed-week/scenario'
import { type GateMeta, loadToolMapFile, openGateway, stdioUpstream } from '@remit/mcp'

const here = (name: string) => fileURLToPath(new URL(name, import.meta.url))
const toolOf: Record<string, string> = {
  'email.positioning': 'send_positioning_email',
  'email.cold_prospect': 'send_cold_email',
  'offer.discount': 'create_offer',
  'sequence.winback': 'enroll_in_sequence',
}

export interface Call {
  at: string
  agent: string
  tool: string
  /** The attempt's time in the week (a repeat after a review has its review's time in `at`). */
  attempt: string
  repeat: boolean
  verdict: GateMeta['verdict']
  text: string
}

/** Plays the week through the gateways; returns every tool call with the gateway's answer, and what the CRM received. */
export async function playWeek(): Promise<{
  calls: Call[]
  received: { tool: string; args: Record<string, unknown> }[]
}> {
  const dir = mkdtempSync(join(tmpdir(), 'remit-mcp-week-'))
  const crmLog = join(dir, 'crm.ndjson')
  process.env.CRM_LOG = crmLog
  let now = new Date(week[0]?.at as string)
  const policy = await loadPolicyFile(here('../seed-week/remit.yaml'))
  const remit = await openRemit({ policy, store: openSqliteStore(':memory:'), clock: () => now })
  const map = await loadToolMapFile(here('mcp.yaml'), policy)
  const agents = new Map<string, { client: Client; close: () => Promise<void> }>()
  const agentFor = async (agent: string) => {
    const open = agents.get(agent)
    if (open) return open.client
    const gateway = await openGateway({
      map,
      remit: { remit, agent },
      upstream: stdioUpstream(process.execPath, [here('crm-server.ts')]),
      holdPath: join(dir, `${agent}.db`),
    })
    const [agentSide, gatewaySide] = InMemoryTransport.createLinkedPair()
    await gateway.server.connect(gatewaySide)
    const client = new Client({ name: agent, version: '1.0.0' })
    await client.connect(agentSide)
    const close = async () => {
      await client.close()
      await gateway.close()
    }
    agents.set(agent, { client, close })
    return client
  }

  const calls: Call[] = []
  const call = async (event: Attempt, at: string, repeat: boolean) => {
    now = new Date(at)
    const agent = policy.tools.get(event.tool) as string
    const { kind, ...attributes } = event.action
    const { accountId, contactId, email, facts } = event.customer
    const tool = toolOf[kind] as string
    const result = (await (
      await agentFor(agent)
    ).callTool({
      name: tool,
      arguments: { customer: { accountId, contactId, email, ...facts }, ...attributes },
    })) as CallToolResult
    const text = result.content.map((c) => (c.type === 'text' ? c.text : '')).join('\n')
    const verdict = (result._meta as { remit: GateMeta }).remit.verdict
    calls.push({ at, agent, tool, attempt: event.at, repeat, verdict, text })
    return (result._meta as { remit: GateMeta }).remit
  }

  // The week in time order: attempts, other touches, and each flag's answer followed by the agent's repeat.
  const queue: { at: string; run: () => Promise<void> }[] = week.map((event) => ({
    at: event.at,
    run: async () => {
      if (event.kind === 'fact') return
      if (event.kind === 'touch') {
        now = new Date(event.at)
        await remit.recordTouch({
          accountId: event.accountId,
          contactId: event.contactId,
          kind: 'call',
          channel: event.channel,
          team: event.team,
          outbound: false,
          note: event.what,
        })
        return
      }
      const answer = await call(event, event.at, false)
      const review = event.review
      if (answer.verdict !== 'flag' || !review || !answer.reviewId) return
      const reviewId = answer.reviewId
      queue.push({
        at: review.at,
        run: async () => {
          now = new Date(review.at)
          const input = { by: review.by, note: review.note }
          if (review.approve) await remit.reviews.approve(reviewId, input)
          else await remit.reviews.reject(reviewId, input)
          await call(event, review.at, true)
        },
      })
    },
  }))
  try {
    while (queue.length) {
      queue.sort((a, b) => a.at.localeCompare(b.at))
      await (queue.shift() as (typeof queue)[number]).run()
    }
    const received = readFileSync(crmLog, 'utf8')
      .split('\n')
      .filter(Boolean)
      .map((line) => JSON.parse(line))
    return { calls, received }
  } finally {
    for (const { close } of agents.values()) await close()
    await remit.close()
    rmSync(dir, { recursive: true, force: true })
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const { calls, received } = await playWeek()
  for (const c of calls)
    console.log(
      `${c.at}  ${c.agent.padEnd(16)} ${c.tool.padEnd(24)} ${c.repeat ? '(again) ' : ''}${c.verdict.toUpperCase()}\n    ${c.text.split('\n').join('\n    ')}`,
    )
  console.log(`\nThe CRM received ${received.length} calls: ${received.map((r) => r.tool).join(', ')}`)
}
