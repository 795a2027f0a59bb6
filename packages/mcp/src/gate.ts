import { isDeepStrictEqual } from 'node:util'
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js'
import type { Reason } from '@remit/client'
import type { CallHold, HeldCall } from './hold.ts'
import type { GatedTool, ToolMap } from './map/load.ts'
import { valueAt } from './map/path.ts'
import { CallMappingError, type CallRequest, callDigest, callRequest } from './map/request.ts'
import { type Answer, type HeldReview, type RemitSeam, RemitUnavailable } from './remit.ts'

// What happens to one tools/call: the gate decides whether the upstream server sees it. Every path
// that is not a go (or a spent-once approval, or a passthrough tool) answers the agent with a tool
// result that says why and is never forwarded.

/** How often a call waits on an identical one that is asking Remit (ms). */
const DECIDING_POLL_MS = 20

/** Forwards the call to the upstream server and returns its result. */
/** Sends the call upstream with `args`: the call's own, or as a reviewer approved them with changes. */
export type Forward = (args: Record<string, unknown>) => Promise<CallToolResult>

/** What the gateway tells an agent about its call, besides the words: `_meta.remit` of the result. */
export interface GateMeta {
  verdict: 'go' | 'flag' | 'stop' | 'passthrough' | 'denied'
  decisionId?: string
  reviewId?: string
  retryAfter?: string
  /** Released approved with changes: the attributes a reviewer changed, as forwarded. */
  changes?: Record<string, unknown>
}

export interface GateOptions {
  map: ToolMap
  remit: RemitSeam
  hold: CallHold
  /** How long a flagged call is held open for a quick approval (ms; default 0: answer at once). */
  waitMs?: number
  /** How often a held-open call reads its review (ms; default 500). */
  pollMs?: number
  /** Told of what went wrong after the upstream answered (an outcome Remit did not take). */
  onError?: (error: unknown) => void
  now?: () => number
}

/** What the gate says of one call: it may go (once), or it is refused with words for the agent. */
export type Admission =
  | {
      allowed: true
      meta: GateMeta
      /** The decision whose touch the outcome settles (none for a passthrough tool). */
      decisionId?: string
      /** The held call whose approval this forward spends. */
      release?: { digest: string; reviewId: string }
      /**
       * Approved with changes: the call's arguments with a reviewer's changes written where mcp.yaml
       * reads each attribute. Forward these, not the call's own.
       */
      arguments?: Record<string, unknown>
    }
  | { allowed: false; meta: GateMeta; message: string }

export class Gate {
  private readonly o: GateOptions
  constructor(o: GateOptions) {
    this.o = o
  }

  /** The result the agent gets for calling `tool` with `args`; `forward` runs at most once. */
  async call(tool: string, args: Record<string, unknown>, forward: Forward): Promise<CallToolResult> {
    const admission = await this.admit(tool, args)
    if (!admission.allowed) return refusal(admission.meta, admission.message)
    let result: CallToolResult
    try {
      result = await this.forward(
        admission,
        () => forward(admission.arguments ?? args),
        (r) => r.isError === true,
      )
    } catch (error) {
      return refusal(
        admission.meta,
        `Remit allowed the call, but the upstream server failed: ${(error as Error).message}`,
      )
    }
    return { ...result, _meta: { ...result._meta, remit: admission.meta } }
  }

  /**
   * Asks Remit about one call (or reads the review a held call waits for) and says whether it may
   * go. An allowed admission of a held call has already spent its approval: forward it now. Never
   * throws for a call that cannot be decided: that is a refusal.
   */
  async admit(tool: string, args: Record<string, unknown>): Promise<Admission> {
    const route = this.o.map.tools.get(tool)
    if (!route)
      return refused(
        { verdict: 'denied' },
        `Remit denied the call to ${tool}: ${this.o.map.file} does not map this tool, and unmapped tools are denied. It was not sent.`,
        `To allow it, map it to an action kind in ${this.o.map.file}, or add "${tool}: { passthrough: true }".`,
      )
    if (route.passthrough) return { allowed: true, meta: { verdict: 'passthrough' } }
    try {
      return await this.gated(route, args)
    } catch (error) {
      if (error instanceof CallMappingError)
        return refused({ verdict: 'denied' }, `Remit denied the call: ${error.message}. It was not sent.`)
      if (error instanceof RemitUnavailable)
        return refused(
          { verdict: 'denied' },
          `Remit could not decide the call to ${tool}, so it was not sent (the gateway fails closed): ${error.message}`,
        )
      throw error
    }
  }

  /**
   * Runs an allowed call once and reports its outcome: `sent`, or `failed` when `execute` throws
   * (rethrown) or `failed(value)` says the tool reported an error. A held call's approval is spent
   * whatever happens.
   */
  async forward<T>(
    admission: Extract<Admission, { allowed: true }>,
    execute: () => Promise<T>,
    failed: (value: T) => boolean = () => false,
  ): Promise<T> {
    try {
      const value = await execute()
      if (admission.decisionId) await this.report(admission.decisionId, failed(value) ? 'failed' : 'sent')
      return value
    } catch (error) {
      if (admission.decisionId) await this.report(admission.decisionId, 'failed')
      throw error
    } finally {
      if (admission.release) this.o.hold.forwarded(admission.release.digest, admission.release.reviewId)
    }
  }

  private async gated(route: GatedTool, args: Record<string, unknown>): Promise<Admission> {
    const request = callRequest(route, args)
    const digest = callDigest(route.tool, args, request.customer, this.o.remit.caller)
    // Identical calls racing: one asks Remit, the others wait for it and then join its review.
    for (;;) {
      const begun = this.o.hold.begin(digest, this.now())
      if ('held' in begun) return this.release(begun.held, 0, { route, args })
      if ('deciding' in begun) return this.decide(route, args, request, digest, begun.deciding)
      await new Promise((resolve) => setTimeout(resolve, DECIDING_POLL_MS))
    }
  }

  /** Asks Remit about a call this caller claimed; a flag holds it for its review, in the claim's place. */
  private async decide(
    route: GatedTool,
    args: Record<string, unknown>,
    request: CallRequest,
    digest: string,
    owner: string,
  ): Promise<Admission> {
    let answer: Answer
    try {
      answer = await this.o.remit.decide({
        ...request,
        preview: {
          subject: `MCP tool call: ${route.tool}`,
          text: JSON.stringify(args, null, 2).slice(0, 20_000),
        },
        // A reviewer's change to an attribute is written back where mcp.yaml reads it (withChanges).
        ...(Object.keys(route.attributes).length ? { acceptsChanges: Object.keys(route.attributes) } : {}),
      })
    } catch (error) {
      this.o.hold.decided(digest, owner)
      throw error
    }
    if (answer.verdict !== 'flag') {
      this.o.hold.decided(digest, owner)
      if (answer.verdict === 'stop') return stopped(route.tool, answer)
      return {
        allowed: true,
        meta: { verdict: 'go', decisionId: answer.decisionId },
        decisionId: answer.decisionId,
      }
    }
    const now = this.now()
    const holding = this.o.hold.decided(digest, owner, {
      digest,
      tool: route.tool,
      reviewId: answer.reviewId as string,
      decisionId: answer.decisionId,
      heldAt: now,
    }) as HeldCall
    if (this.o.waitMs) return this.release(holding, now + this.o.waitMs, { route, args })
    return pending(route.tool, holding, await this.o.remit.review(holding.reviewId))
  }

  /** A call that waits for its review: still pending, spent once on approval, or stopped. */
  private async release(
    held: HeldCall,
    waitUntil: number,
    call: { route: GatedTool; args: Record<string, unknown> },
  ): Promise<Admission> {
    let review = await this.o.remit.review(held.reviewId)
    while (review.status === 'pending' && this.now() < waitUntil) {
      await new Promise((resolve) =>
        setTimeout(resolve, Math.min(this.o.pollMs ?? 500, waitUntil - this.now())),
      )
      review = await this.o.remit.review(held.reviewId)
    }
    if (review.status === 'pending') return pending(held.tool, held, review)
    const meta: GateMeta = { verdict: 'stop', decisionId: held.decisionId, reviewId: held.reviewId }
    if (review.outcome !== 'go')
      return refused(
        meta,
        `Remit stopped the call to ${held.tool}: its review ${held.reviewId} was ${review.status === 'approved' ? 'approved, but a stop held at approval' : review.status}. It was not sent.`,
        ...reasonLines(review.outcomeReasons ?? []),
        'Calling it again with the same arguments gets the same answer; changed arguments are a new request.',
      )
    // Approval may be hours old: the stops it checked are checked again now, before the approval is
    // taken. Remit unreachable here throws RemitUnavailable: denied, the approval left unspent.
    const check = await this.o.remit.recheck(held.reviewId)
    if (!this.o.hold.claim(held.digest, held.reviewId, this.now()))
      return refused(
        { ...meta, verdict: 'denied' },
        `Remit did not send this call to ${held.tool} again: its approval (review ${held.reviewId}) was taken by another call with the same arguments (one in flight, or one a stopped gateway was sending), and an approval sends once.`,
      )
    if (!check.ok) return this.stoppedAtRelease(held, review.decisionId, check.reasons)
    const changed = review.changes ? withChanges(call.route, call.args, review.changes.attributes) : undefined
    if (typeof changed === 'string') {
      await this.report(review.decisionId, 'cancelled')
      this.o.hold.forwarded(held.digest, held.reviewId)
      return refused(
        meta,
        `Remit did not send the call to ${held.tool}: its review ${held.reviewId} was approved with changes, and ${changed}. It was not sent, and its reserved touch was cancelled.`,
        'The approval is spent: calling it again is a new request.',
      )
    }
    return {
      allowed: true,
      meta: { ...meta, verdict: 'go', ...(review.changes ? { changes: review.changes.attributes } : {}) },
      decisionId: review.decisionId,
      release: { digest: held.digest, reviewId: held.reviewId },
      ...(changed ? { arguments: changed } : {}),
    }
  }

  /**
   * A claimed approval whose stops no longer pass: never sent, its reserved touch cancelled (so it
   * stops counting), and the approval spent — the same call again is a new decision, which meets the
   * stop as it then stands (or, once it is lifted, a new review).
   */
  private async stoppedAtRelease(held: HeldCall, decisionId: string, reasons: Reason[]): Promise<Admission> {
    await this.report(decisionId, 'cancelled')
    this.o.hold.forwarded(held.digest, held.reviewId)
    return refused(
      { verdict: 'stop', decisionId: held.decisionId, reviewId: held.reviewId },
      `Remit stopped the call to ${held.tool}: its review ${held.reviewId} was approved, but a stop holds now. It was not sent, and its reserved touch was cancelled.`,
      ...reasonLines(reasons),
      'The approval is spent: calling it again with the same arguments is a new request, decided as things then stand.',
    )
  }

  private async report(decisionId: string, status: 'sent' | 'failed' | 'cancelled'): Promise<void> {
    try {
      await this.o.remit.outcome(decisionId, status)
    } catch (error) {
      // The call has happened (or, cancelled, never will): the answer stands; the touch stays
      // reserved (it still counts).
      this.o.onError?.(error)
    }
  }

  private now(): number {
    return (this.o.now ?? Date.now)()
  }
}

function stopped(tool: string, answer: Answer): Admission {
  const meta: GateMeta = { verdict: 'stop', decisionId: answer.decisionId }
  if (answer.retryAfter) meta.retryAfter = answer.retryAfter
  return refused(
    meta,
    `Remit stopped the call to ${tool}: it was not sent.`,
    ...reasonLines(answer.reasons.filter((r) => r.sort !== 'permission')),
    ...(answer.retryAfter ? [`It may be tried again after ${answer.retryAfter}.`] : []),
  )
}

function pending(tool: string, held: HeldCall, review: HeldReview): Admission {
  return refused(
    { verdict: 'flag', decisionId: held.decisionId, reviewId: held.reviewId },
    `Pending human approval: Remit flagged the call to ${tool} for review ${held.reviewId}; it was not sent yet.`,
    `Call ${tool} again with the same arguments once it is approved (the review expires at ${review.expiresAt}): it is then sent, once. Changed arguments are a new request.`,
  )
}

function refused(meta: GateMeta, ...lines: string[]): Admission {
  return { allowed: false, meta, message: lines.join('\n') }
}

function reasonLines(reasons: readonly Reason[]): string[] {
  return reasons.map((r) => `- ${r.message} (${r.rule})`)
}

function refusal(meta: GateMeta, message: string): CallToolResult {
  return { content: [{ type: 'text', text: message }], isError: true, _meta: { remit: meta } }
}

/**
 * The call's arguments with a reviewer's changes written where mcp.yaml reads each attribute, or
 * why they cannot be: an attribute mcp.yaml does not read from the arguments, or whose place in
 * them is missing.
 */
function withChanges(
  route: GatedTool,
  args: Record<string, unknown>,
  changes: Record<string, unknown>,
): Record<string, unknown> | string {
  const out = structuredClone(args)
  for (const [name, value] of Object.entries(changes)) {
    const path = Object.hasOwn(route.attributes, name) ? route.attributes[name] : undefined
    if (!path?.length || valueAt(out, path) === undefined)
      return `mcp.yaml reads ${name} from no argument of this call, so the change cannot be written into it`
    const parent = valueAt(out, path.slice(0, -1)) as Record<string | number, unknown>
    parent[path.at(-1) as string | number] = value
  }
  // What goes must be what was approved: the same customer and facts, the changed attributes. An
  // argument mcp.yaml also reads the customer or a fact from would change them, unchecked by Remit.
  let sent: ReturnType<typeof callRequest>
  try {
    sent = callRequest(route, out)
  } catch (error) {
    return `the changed arguments no longer name the customer (${(error as Error).message})`
  }
  const asked = callRequest(route, args)
  const approved = { ...asked, action: { ...asked.action, ...changes } }
  if (!isDeepStrictEqual(sent, approved))
    return 'mcp.yaml reads the customer or a fact from an argument the change writes, so the call would be another request than the one approved'
  return out
}
