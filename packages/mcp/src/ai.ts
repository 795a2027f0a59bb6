import type { ToolApprovalConfiguration, ToolApprovalStatus, ToolExecutionOptions, ToolSet } from 'ai'
import { type Admission, Gate, type GateMeta } from './gate.ts'
import { CallHold } from './hold.ts'
import type { ToolMap } from './map/load.ts'
import { type RemitTarget, remitSeam } from './remit.ts'

// `@remit/mcp/ai`: the gateway's rules for the Vercel AI SDK's tools, in the agent's own process,
// with the same mcp.yaml. Remit's verdict becomes the SDK's own approval status: go → approved,
// stop (and unmapped tools) → denied, flag → an approval request for the app's human; the tools'
// `execute` is gated as well, so nothing runs without Remit's go, whatever the app answers.

export interface AiGateOptions {
  /** The loaded mcp.yaml: tool names are the ToolSet's keys. */
  map: ToolMap
  /** `{ remit, agent }` (embedded) or a Remit server's `{ url, key }` / RemitClient. */
  remit: RemitTarget
  /** The SQLite file of flagged calls and spent approvals (default `remit-mcp.db`). */
  holdPath?: string
  /** Told when Remit did not take an outcome after a tool ran. */
  onError?: (error: unknown) => void
}

/** A tool call Remit did not let run: the model reads `message`; `meta` is the gateway's. */
export class RemitRefusal extends Error {
  readonly code = 'REMIT_REFUSED'
  readonly meta: GateMeta
  constructor(admission: Extract<Admission, { allowed: false }>) {
    super(admission.message)
    this.name = 'RemitRefusal'
    this.meta = admission.meta
  }
}

export interface GatedAiTools<TOOLS extends ToolSet> {
  /** The same tools, each `execute` run only on Remit's go (once per approval of a flag). */
  tools: TOOLS
  /** Pass to generateText / streamText / ToolLoopAgent: Remit's verdict as the SDK's approval status. */
  toolApproval: ToolApprovalConfiguration<TOOLS, unknown>
  /** Closes the file of held calls. */
  close(): void
}

/**
 * Gates an AI SDK ToolSet through Remit: `generateText({ model, ...gateAiTools(tools, o), … })`. A
 * flag comes back as a `tool-approval-request` whose reason names the Remit review; once the app
 * answers it and Remit's reviewer has approved, the tool runs once. Approving in the app alone runs
 * nothing: the tool's result is then a tool error saying the review is pending.
 */
export function gateAiTools<TOOLS extends ToolSet>(tools: TOOLS, o: AiGateOptions): GatedAiTools<TOOLS> {
  const hold = new CallHold(o.holdPath ?? 'remit-mcp.db')
  const gate = new Gate({
    map: o.map,
    remit: remitSeam(o.remit),
    hold,
    ...(o.onError ? { onError: o.onError } : {}),
  })
  // What toolApproval found for a call, for its execute (keyed by the SDK's toolCallId).
  const admitted = new Map<string, Admission>()

  const admission = async (name: string, input: unknown, toolCallId: string): Promise<Admission> => {
    const prior = admitted.get(toolCallId)
    admitted.delete(toolCallId)
    // A flag the app's human approved is asked again: only Remit's own approval lets it run.
    if (prior && (prior.allowed || prior.meta.verdict !== 'flag')) return prior
    return gate.admit(name, argumentsOf(input))
  }

  const gated: Record<string, unknown> = {}
  for (const [name, tool] of Object.entries(tools)) {
    const execute = tool.execute
    gated[name] = execute
      ? {
          ...tool,
          execute: async (input: unknown, options: ToolExecutionOptions<never>) => {
            const allowed = await admission(name, input, options.toolCallId)
            if (!allowed.allowed) throw new RemitRefusal(allowed)
            // As approved: with a reviewer's changes, the input they were written into.
            return gate.forward(allowed, async () =>
              execute.call(tool, (allowed.arguments ?? input) as never, options),
            )
          },
        }
      : tool
  }

  const toolApproval = async ({
    toolCall,
  }: {
    toolCall: { toolName: string; toolCallId: string; input: unknown }
  }) => {
    const answer = await gate.admit(toolCall.toolName, argumentsOf(toolCall.input))
    admitted.set(toolCall.toolCallId, answer)
    return approvalStatus(answer)
  }

  return {
    tools: gated as TOOLS,
    toolApproval: toolApproval as ToolApprovalConfiguration<TOOLS, unknown>,
    close: () => hold.close(),
  }
}

function approvalStatus(admission: Admission): ToolApprovalStatus {
  if (admission.allowed)
    return admission.meta.verdict === 'passthrough'
      ? 'not-applicable'
      : { type: 'approved', reason: 'Remit: go' }
  if (admission.meta.verdict === 'flag') return { type: 'user-approval', reason: admission.message }
  return { type: 'denied', reason: admission.message }
}

function argumentsOf(input: unknown): Record<string, unknown> {
  return input && typeof input === 'object' && !Array.isArray(input) ? (input as Record<string, unknown>) : {}
}
