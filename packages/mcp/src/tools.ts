import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js'
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js'
import { type DecisionRequest, explain, type Remit } from '@remit/core'
import { decisionToWire, personOf, resolveRequest, timelineToWire } from '@remit/core/internal'
import { z } from 'zod'
import { VERSION } from './version.ts'

// `remit mcp`: Remit's own tools, for agents that ask before acting rather than being gated.

export interface RemitToolsOptions {
  remit: Remit
  /** The agent every call is made as: the process's identity, never a tool argument. */
  agent: string
}

const request = {
  action: z
    .object({ kind: z.string().describe('the action kind, from the policy') })
    .catchall(z.unknown())
    .describe(
      'what the agent wants to do: kind and its attributes, e.g. {"kind":"offer.discount","discountPct":10}',
    ),
  customer: z
    .object({
      accountId: z.string().optional(),
      contactId: z.string().optional(),
      email: z.string().optional(),
      facts: z
        .record(z.string(), z.unknown())
        .optional()
        .describe('what is known of the customer, by fact name'),
    })
    .describe('who the action touches: accountId, contactId or email, and the facts'),
}

/** An MCP server with `remit_decide`, `remit_explain` and `remit_customer_timeline`, answering as `agent`. */
export function remitToolsServer(o: RemitToolsOptions): McpServer {
  const server = new McpServer({ name: 'remit', version: VERSION })
  server.registerTool(
    'remit_decide',
    {
      description:
        'Ask Remit before touching a customer: go (do it, then it is recorded), flag (a human approves; do not act now) or stop (never), with the reasons. A go reserves the touch in the ledger.',
      inputSchema: {
        ...request,
        dryRun: z.boolean().optional().describe('decide without recording anything'),
      },
    },
    async (args) =>
      answered(async () => {
        const decision = await o.remit.decide({ agent: o.agent }, withFacts(args))
        const wire = decisionToWire(decision)
        const reasons = wire.reasons.map((r) => `- ${r.message} (${r.rule})`).join('\n')
        return text(
          `${wire.verdict.toUpperCase()}${wire.reviewId ? ` (review ${wire.reviewId})` : ''}\n${reasons}`,
          wire,
        )
      }),
  )
  server.registerTool(
    'remit_explain',
    {
      description:
        'Explain what Remit would answer for an action, recording nothing: each rule in scope, whether it matched, what it read, and why the verdict.',
      inputSchema: request,
    },
    async (args) =>
      answered(async () => {
        const policy = o.remit.policy
        const req = resolveRequest(policy, { agent: o.agent }, withFacts(args), () => new Date())
        const ledger = await o.remit.store.ledger(
          req.customer.accountId,
          new Date(req.now.getTime() - policy.lookbackMs),
          req.now,
          personOf(req.customer),
        )
        const x = explain(policy, { ...req, ...ledger })
        const rules = x.applied.map(
          (r) => `- ${r.id} (${r.sort}): ${r.result}${r.error ? `: ${r.error}` : ''}`,
        )
        return text(`${x.evaluation.verdict.toUpperCase()}: ${x.because}\n${rules.join('\n')}`, {
          verdict: x.evaluation.verdict,
          because: x.because,
          reasons: x.evaluation.reasons,
          rules: x.applied,
        })
      }),
  )
  server.registerTool(
    'remit_customer_timeline',
    {
      description:
        'What one customer (account) got and was asked about, from every agent and tool: touches, decisions, reviews and commitments, oldest first.',
      inputSchema: {
        accountId: z.string().describe('the account'),
        limit: z
          .number()
          .int()
          .min(1)
          .max(1000)
          .optional()
          .describe('at most this many of each (default 100)'),
      },
    },
    async ({ accountId, limit }) =>
      answered(async () => {
        const wire = timelineToWire(await o.remit.timeline(accountId, limit ?? 100))
        const lines = wire.touches.map(
          (t) =>
            `${t.at} ${t.kind} by ${t.agent ?? t.team ?? 'someone'}${t.tool ? ` via ${t.tool}` : ''}: ${t.status}`,
        )
        return text(
          `${accountId}: ${wire.touches.length} touches, ${wire.decisions.length} decisions, ${wire.reviews.length} reviews\n${lines.join('\n')}`,
          wire,
        )
      }),
  )
  return server
}

/** The tool's arguments as a decision request: facts are optional to the agent, not to Remit. */
function withFacts(args: {
  action: { kind: string } & Record<string, unknown>
  customer: { accountId?: string; contactId?: string; email?: string; facts?: Record<string, unknown> }
  dryRun?: boolean
}): DecisionRequest {
  return { ...args, customer: { ...args.customer, facts: args.customer.facts ?? {} } }
}

function text(summary: string, structured: unknown): CallToolResult {
  return {
    content: [
      { type: 'text', text: summary },
      { type: 'text', text: JSON.stringify(structured) },
    ],
  }
}

/** A refused request (an unknown kind, a missing customer) is a tool error the agent can read and fix. */
async function answered(run: () => Promise<CallToolResult>): Promise<CallToolResult> {
  try {
    return await run()
  } catch (error) {
    const e = error as { message?: string; hint?: string; code?: string }
    return {
      content: [
        {
          type: 'text',
          text: `${e.code ? `${e.code}: ` : ''}${e.message}${e.hint ? `\nhint: ${e.hint}` : ''}`,
        },
      ],
      isError: true,
    }
  }
}
