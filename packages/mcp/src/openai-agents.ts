import type { FunctionTool, RunContext, Tool } from '@openai/agents'
import { type Admission, Gate } from './gate.ts'
import { CallHold } from './hold.ts'
import type { ToolMap } from './map/load.ts'
import { type RemitTarget, remitSeam } from './remit.ts'

// `@remit/mcp/openai-agents`: the gateway's rules for the OpenAI Agents SDK's function tools, with
// the same mcp.yaml. A flag becomes the SDK's own approval interruption (needsApproval); go runs
// the tool once; stop, unmapped tools and an unreachable Remit give the model Remit's words as the
// tool's output, and the tool never runs.

export interface AgentGateOptions {
  /** The loaded mcp.yaml: tool names are the function tools' names. */
  map: ToolMap
  /** `{ remit, agent }` (embedded) or a Remit server's `{ url, key }` / RemitClient. */
  remit: RemitTarget
  /** The SQLite file of flagged calls and spent approvals (default `remit-mcp.db`). */
  holdPath?: string
  /** Told when Remit did not take an outcome after a tool ran. */
  onError?: (error: unknown) => void
}

export interface GatedAgentTools<T extends Tool[]> {
  /** The same tools; function tools gated (hosted tools, which run at OpenAI, are left as they are). */
  tools: T
  /** Closes the file of held calls. */
  close(): void
}

/**
 * Gates an Agent's function tools through Remit: `new Agent({ …, tools: gateAgentTools(tools, o).tools })`.
 * A flagged call interrupts the run (`result.interruptions`), the reason being Remit's review; once
 * the app approves it (`state.approve`) and Remit's reviewer has approved the review, the tool runs,
 * once. Approving in the app alone runs nothing: the model reads that the review is pending.
 */
export function gateAgentTools<T extends Tool[]>(tools: T, o: AgentGateOptions): GatedAgentTools<T> {
  const hold = new CallHold(o.holdPath ?? 'remit-mcp.db')
  const gate = new Gate({
    map: o.map,
    remit: remitSeam(o.remit),
    hold,
    ...(o.onError ? { onError: o.onError } : {}),
  })
  // What needsApproval found for a call, for its invoke (keyed by the model's call id).
  const admitted = new Map<string, Admission>()

  const gated = tools.map((tool): Tool => {
    if (tool.type !== 'function') return tool
    const fn: FunctionTool = tool
    return {
      ...fn,
      needsApproval: async (_context: RunContext, input: unknown, callId?: string) => {
        const answer = await gate.admit(fn.name, argumentsOf(input))
        if (callId) admitted.set(callId, answer)
        return !answer.allowed && answer.meta.verdict === 'flag'
      },
      invoke: async (context, input, details) => {
        const callId = details?.toolCall?.callId
        const prior = callId ? admitted.get(callId) : undefined
        if (callId) admitted.delete(callId)
        // A flag the app approved is asked again: only Remit's own approval lets it run.
        const answer =
          prior && (prior.allowed || prior.meta.verdict !== 'flag')
            ? prior
            : await gate.admit(fn.name, argumentsOf(parsed(input)))
        if (!answer.allowed) return answer.message
        // As approved: with a reviewer's changes, the input they were written into (JSON, as the model's).
        const approved = answer.arguments ? JSON.stringify(answer.arguments) : input
        return gate.forward(answer, () => fn.invoke(context, approved, details))
      },
    }
  })
  return { tools: gated as T, close: () => hold.close() }
}

function parsed(input: string): unknown {
  try {
    return JSON.parse(input)
  } catch {
    return {}
  }
}

function argumentsOf(input: unknown): Record<string, unknown> {
  return input && typeof input === 'object' && !Array.isArray(input) ? (input as Record<string, unknown>) : {}
}
