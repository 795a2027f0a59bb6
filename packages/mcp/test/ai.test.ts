import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { loadPolicyFile, openRemit, openSqliteStore, type Remit } from '@remit/core'
import { generateText, type ModelMessage, tool } from 'ai'
import { MockLanguageModelV4 } from 'ai/test'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { z } from 'zod'
import { gateAiTools } from '../src/ai.ts'
import { loadToolMapFile } from '../src/index.ts'
import { fixture } from './harness.ts'

// The AI SDK's own generateText, with a mock model that calls one tool: Remit's verdict becomes the
// SDK's approval status, and the tool's execute runs only on Remit's go.

const usage = {
  inputTokens: { total: 1, noCache: 1, cacheRead: undefined, cacheWrite: undefined },
  outputTokens: { total: 1, text: 1, reasoning: undefined },
}
/** A model that calls `toolName` with `input` on its first turn, and then only talks. */
function modelCalling(toolName: string, input: unknown) {
  let turn = 0
  return new MockLanguageModelV4({
    doGenerate: async () =>
      turn++ === 0
        ? {
            content: [{ type: 'tool-call', toolCallId: 'call-1', toolName, input: JSON.stringify(input) }],
            finishReason: { unified: 'tool-calls', raw: undefined },
            usage,
            warnings: [],
          }
        : {
            content: [{ type: 'text', text: 'done' }],
            finishReason: { unified: 'stop', raw: undefined },
            usage,
            warnings: [],
          },
  })
}

/** A model that only talks. */
function talking() {
  return new MockLanguageModelV4({
    doGenerate: async () => ({
      content: [{ type: 'text', text: 'done' }],
      finishReason: { unified: 'stop', raw: undefined },
      usage,
      warnings: [],
    }),
  })
}

let dir: string
let remit: Remit
let ran: string[]
let gated: ReturnType<typeof gateAiTools<ReturnType<typeof crmTools>>>
const crmTools = () => ({
  send_email: tool({
    description: 'Send an e-mail',
    inputSchema: z.object({ account: z.string(), to: z.string() }),
    execute: async () => {
      ran.push('send_email')
      return 'sent'
    },
  }),
  create_offer: tool({
    description: 'Offer a discount',
    inputSchema: z.object({
      customer: z.object({ account: z.string() }),
      discount: z.object({ pct: z.number() }),
    }),
    execute: async () => {
      ran.push('create_offer')
      return 'offered'
    },
  }),
})

beforeEach(async () => {
  dir = mkdtempSync(join(tmpdir(), 'remit-mcp-ai-'))
  ran = []
  const policy = await loadPolicyFile(fixture('remit.yaml'))
  remit = await openRemit({ policy, store: openSqliteStore(join(dir, 'remit.db')) })
  gated = gateAiTools(crmTools(), {
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

describe('gateAiTools (Vercel AI SDK)', () => {
  it('runs a go once, approved by Remit, and records its touch as sent', async () => {
    const result = await generateText({
      model: modelCalling('send_email', { account: 'acme', to: 'jane@acme.example' }),
      ...gated,
      prompt: 'write to Jane',
    })
    expect(ran).toEqual(['send_email'])
    expect(result.toolResults.map((r) => r.output)).toEqual(['sent'])
    expect((await remit.timeline('acme')).touches.map((t) => t.status)).toEqual(['sent'])
  })

  it('denies a stop through the SDK, with the reasons, and never runs the tool', async () => {
    const result = await generateText({
      model: modelCalling('create_offer', { customer: { account: 'acme' }, discount: { pct: 40 } }),
      ...gated,
      prompt: 'offer 40%',
    })
    expect(ran).toEqual([])
    const response = result.content.find((p) => p.type === 'tool-approval-response')
    expect(response).toMatchObject({ approved: false })
    expect(JSON.stringify(response)).toContain('No discount deeper than 30% goes out')
  })

  it("turns a flag into the SDK's approval request; the tool runs once Remit's reviewer approved", async () => {
    const input = { customer: { account: 'acme' }, discount: { pct: 20 } }
    const messages: ModelMessage[] = [{ role: 'user', content: 'offer 20%' }]
    const first = await generateText({ model: modelCalling('create_offer', input), ...gated, messages })
    const request = first.content.find((p) => p.type === 'tool-approval-request')
    expect(request?.reason).toContain('Pending human approval')
    expect(ran).toEqual([])

    const reviewId = /review (rev_\S+?);/.exec(request?.reason ?? '')?.[1] as string
    await remit.reviews.approve(reviewId, { by: 'sam' })
    messages.push(...first.responseMessages, {
      role: 'tool',
      content: [
        { type: 'tool-approval-response', approvalId: request?.approvalId as string, approved: true },
      ],
    })
    await generateText({ model: talking(), ...gated, messages })
    expect(ran).toEqual(['create_offer'])
    const review = await remit.reviews.get(reviewId)
    const touch = (await remit.timeline('acme')).touches.find((t) => t.id === review?.touchId)
    expect(touch?.status).toBe('sent')

    // The approval is spent: the same call again is a new flag, and runs nothing.
    const again = await generateText({
      model: modelCalling('create_offer', input),
      ...gated,
      prompt: 'again',
    })
    expect(again.content.find((p) => p.type === 'tool-approval-request')?.reason).not.toContain(reviewId)
    expect(ran).toEqual(['create_offer'])
  })
})
