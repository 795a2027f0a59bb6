import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import {
  Agent,
  type AgentOutputItem,
  type Model,
  type ModelResponse,
  Runner,
  setTracingDisabled,
  tool,
  Usage,
} from '@openai/agents'
import { loadPolicyFile, openRemit, openSqliteStore, type Remit } from '@remit/core'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { z } from 'zod'
import { loadToolMapFile } from '../src/index.ts'
import { gateAgentTools } from '../src/openai-agents.ts'
import { fixture } from './harness.ts'

// The OpenAI Agents SDK's own Runner, with a scripted model that calls one tool: a flag is the
// SDK's approval interruption, and the tool runs only on Remit's go.

setTracingDisabled(true)

const said = (text: string): AgentOutputItem => ({
  type: 'message',
  role: 'assistant',
  status: 'completed',
  content: [{ type: 'output_text', text }],
})

/** Calls `name` with `input` on its first turn, then only talks. */
function modelCalling(name: string, input: unknown): Model {
  let turn = 0
  return {
    getResponse: async (): Promise<ModelResponse> => ({
      usage: new Usage(),
      output:
        turn++ === 0
          ? [
              {
                type: 'function_call',
                callId: 'call-1',
                name,
                arguments: JSON.stringify(input),
                status: 'completed',
              },
            ]
          : [said('done')],
    }),
    getStreamedResponse: () => {
      throw new Error('the scripted model does not stream')
    },
  }
}

let dir: string
let remit: Remit
let ran: string[]
let gated: ReturnType<typeof gateAgentTools>
const runner = new Runner()

beforeEach(async () => {
  dir = mkdtempSync(join(tmpdir(), 'remit-mcp-agents-'))
  ran = []
  const policy = await loadPolicyFile(fixture('remit.yaml'))
  remit = await openRemit({ policy, store: openSqliteStore(join(dir, 'remit.db')) })
  const tools = [
    tool({
      name: 'send_email',
      description: 'Send an e-mail',
      parameters: z.object({ account: z.string(), to: z.string() }),
      execute: async () => {
        ran.push('send_email')
        return 'sent'
      },
    }),
    tool({
      name: 'create_offer',
      description: 'Offer a discount',
      parameters: z.object({
        customer: z.object({ account: z.string() }),
        discount: z.object({ pct: z.number() }),
      }),
      execute: async () => {
        ran.push('create_offer')
        return 'offered'
      },
    }),
  ]
  gated = gateAgentTools(tools, {
    map: await loadToolMapFile(fixture('mcp.yaml'), policy),
    remit: { remit, agent: 'crm-agent' },
    holdPath: join(dir, 'remit-mcp.db'),
  })
})
afterEach(async () => {
  gated.close()
  await remit.close()
  rmSync(dir, { recursive: true, force: true })
})

const agentWith = (model: Model) =>
  new Agent({ name: 'crm', instructions: 'Act on the CRM.', model, tools: gated.tools })

describe('gateAgentTools (OpenAI Agents SDK)', () => {
  it('runs a go once and records its touch as sent', async () => {
    const result = await runner.run(
      agentWith(modelCalling('send_email', { account: 'acme', to: 'jane@acme.example' })),
      'write',
    )
    expect(result.interruptions).toEqual([])
    expect(ran).toEqual(['send_email'])
    expect((await remit.timeline('acme')).touches.map((t) => t.status)).toEqual(['sent'])
  })

  it('gives the model the reasons of a stop and never runs the tool', async () => {
    const result = await runner.run(
      agentWith(modelCalling('create_offer', { customer: { account: 'acme' }, discount: { pct: 40 } })),
      'offer 40%',
    )
    expect(ran).toEqual([])
    const output = result.newItems.find((item) => item.type === 'tool_call_output_item')
    expect(JSON.stringify(output?.rawItem)).toContain('No discount deeper than 30% goes out')
  })

  it("interrupts the run on a flag; approved in the SDK and by Remit's reviewer, the tool runs once", async () => {
    const input = { customer: { account: 'acme' }, discount: { pct: 20 } }
    const agent = agentWith(modelCalling('create_offer', input))
    const first = await runner.run(agent, 'offer 20%')
    expect(first.interruptions).toHaveLength(1)
    expect(ran).toEqual([])

    // The app's human approves the interruption; Remit's reviewer approves the review.
    const [pendingReview] = await remit.reviews.list({ status: 'pending' })
    first.state.approve(first.interruptions[0] as (typeof first.interruptions)[number])
    await remit.reviews.approve(pendingReview?.id as string, { by: 'sam' })
    await runner.run(agent, first.state)
    expect(ran).toEqual(['create_offer'])
    const review = await remit.reviews.get(pendingReview?.id as string)
    const touch = (await remit.timeline('acme')).touches.find((t) => t.id === review?.touchId)
    expect(touch?.status).toBe('sent')
  })
})
