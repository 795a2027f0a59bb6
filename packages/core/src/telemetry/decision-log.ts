import { closeSync, createWriteStream, openSync, type WriteStream } from 'node:fs'
import type { Decision } from '../decision/decision.ts'
import type { Reason, Verdict } from '../decision/schema.ts'

// The decision log: every decision Remit records, as one JSON line, for a SIEM or an offline replay
// (like OPA's decision logs). A line names the customer (account, contact, e-mail) and carries the
// facts and attributes the decision saw: the log is personal data by design, kept and shipped as such.
//
// A line is also an attempt in `remit replay`'s history format — `at`, `agent`/`tool`, `action`,
// `customer`, `ref` — with what was decided under `decision`, and `at` comes first so `sort` puts a
// log in time order.

/** One line of the decision log. */
export interface DecisionLogEntry {
  /** When it was decided (ISO 8601, UTC, milliseconds): first, so the lines sort by time as text. */
  at: string
  agent: string
  tool?: string
  /** The action's kind and its attributes, as the request gave them. */
  action: { kind: string; [attribute: string]: unknown }
  /** The customer as the decision keyed it, and the facts it was given. */
  customer: { accountId: string; contactId?: string; email?: string; facts: Record<string, unknown> }
  /** The decision's id (`remit replay` echoes it in its examples). */
  ref: string
  decision: {
    id: string
    team: string
    verdict: Verdict
    /** The rules behind the verdict (every reason's rule). */
    rules: string[]
    reasons: Reason[]
    policyVersion: string
    reviewId?: string
    reviewTeam?: string
    retryAfter?: string
    notify?: string[]
    idempotencyKey?: string
    /** Rules whose evaluation was aborted (the decision failed closed to stop). */
    aborted?: { rule: string; code: string }[]
  }
}

/**
 * A line of the decision log that is not a decision: the live policy changed (`remit promote`,
 * `remit rollback`), by whom. `type: "policy"` tells it apart (a decision's line has no `type`);
 * `remit replay` skips it. `at` comes first here too, so the log still sorts by time. Written by the
 * instance that served the change only: the others pick the new version up from the store.
 */
export interface PolicyChangeLogEntry {
  /** When the change was made (ISO 8601, UTC, milliseconds). */
  at: string
  type: 'policy'
  event: 'promoted' | 'rolled-back'
  /** The live version from now on. */
  version: string
  /** The live version it replaced. */
  previousVersion: string
  /** Who made the change: the name of the admin's key or session. */
  by: string
  /** Promoted without every team's sign-off. */
  override?: boolean
  note?: string
  /** On a promotion: the sign-offs it had. */
  signOffs?: { team: string; by: string; at: string; note?: string }[]
}

/**
 * Where the decision log goes. `write` is given each line (JSON and '\n') after its decision is
 * stored, and is never awaited by it: a throw or a rejected promise is reported (`onDecisionLogError`
 * of `openRemit`) and the decision stands.
 */
export interface DecisionLogSink {
  write(line: string): void | Promise<void>
  /** Called by `remit.close()`: flush and let go. */
  close?(): void | Promise<void>
}

/** A decision as its log line says it. */
export function decisionLogEntry(d: Decision): DecisionLogEntry {
  const decision: DecisionLogEntry['decision'] = {
    id: d.id,
    team: d.team,
    verdict: d.verdict,
    rules: d.reasons.map((r) => r.rule),
    reasons: d.reasons,
    policyVersion: d.policyVersion,
  }
  if (d.reviewId) decision.reviewId = d.reviewId
  if (d.reviewTeam) decision.reviewTeam = d.reviewTeam
  if (d.retryAfter) decision.retryAfter = d.retryAfter.toISOString()
  if (d.notify.length) decision.notify = d.notify
  if (d.idempotencyKey) decision.idempotencyKey = d.idempotencyKey
  if (d.aborted) decision.aborted = d.aborted.map(({ rule, code }) => ({ rule, code }))
  const customer: DecisionLogEntry['customer'] = {
    accountId: d.accountId,
    ...(d.contactId ? { contactId: d.contactId } : {}),
    ...(d.email ? { email: d.email } : {}),
    facts: d.facts,
  }
  return {
    at: d.at.toISOString(),
    agent: d.agent,
    ...(d.tool ? { tool: d.tool } : {}),
    action: { kind: d.action.kind, ...d.action.attributes },
    customer,
    ref: d.id,
    decision,
  }
}

export interface DecisionLogFileOptions {
  /**
   * Bytes waiting to be written past which a line is dropped (and reported) rather than held: a
   * disk or reader that stalls costs memory up to this, never a decision (default 16 MiB).
   */
  maxBacklogBytes?: number
}

/** A decision log on a file (appended to) or on standard output (`-`). */
export interface DecisionLogFile extends DecisionLogSink {
  readonly target: string
  /** Opens the file again by its name (after log rotation renamed it: `remit serve` does on SIGHUP). */
  reopen(): void
  close(): Promise<void>
}

class BacklogError extends Error {
  override name = 'DecisionLogBacklogError'
  readonly code = 'DECISION_LOG_BEHIND'
}

/**
 * The decision log on `target`: a file, opened for appending (created if absent; O_APPEND, so
 * rotation by copy-and-truncate works, and `reopen()` follows rotation by rename), or `-` for
 * standard output. Writes are asynchronous: lines queue in memory (up to `maxBacklogBytes`) and
 * never hold the event loop. Opening fails at once (a missing directory, no permission).
 */
export function openDecisionLog(target: string, o: DecisionLogFileOptions = {}): DecisionLogFile {
  const max = o.maxBacklogBytes ?? 16 * 1024 * 1024
  const behind = (bytes: number) =>
    new BacklogError(`the decision log is ${bytes} bytes behind (over ${max}): a line was dropped`)
  const written = (stream: NodeJS.WritableStream, line: string) =>
    new Promise<void>((resolve, reject) => {
      stream.write(line, (error?: Error | null) => (error ? reject(error) : resolve()))
    })
  if (target === '-') {
    // A reader that goes away (EPIPE) fails the lines, not the process.
    if (!process.stdout.listenerCount('error')) process.stdout.on('error', () => {})
    return {
      target,
      write(line) {
        if (process.stdout.writableLength > max) throw behind(process.stdout.writableLength)
        return written(process.stdout, line)
      },
      reopen() {},
      async close() {},
    }
  }
  const open = (): WriteStream => {
    const fd = openSync(target, 'a', 0o600)
    try {
      const stream = createWriteStream('', { fd, autoClose: true })
      // Failures reach each line's callback; the event must not bring the process down.
      stream.on('error', () => {})
      return stream
    } catch (error) {
      closeSync(fd)
      throw error
    }
  }
  let stream = open()
  let openedAt = Date.now()
  const ended = (s: WriteStream) =>
    new Promise<void>((resolve) => {
      if (s.destroyed) return resolve()
      s.end(() => resolve())
      s.once('error', () => resolve())
    })
  const file: DecisionLogFile = {
    target,
    write(line) {
      // A stream a write error ended (a full disk) is opened again, once a second at most.
      if ((stream.destroyed || stream.errored) && Date.now() - openedAt > 1000) {
        openedAt = Date.now()
        file.reopen()
      }
      if (stream.writableLength > max) throw behind(stream.writableLength)
      return written(stream, line)
    },
    reopen() {
      const next = open()
      const previous = stream
      stream = next
      openedAt = Date.now()
      // What was queued on the old stream goes to the old file (renamed, still open).
      void ended(previous)
    },
    close: () => ended(stream),
  }
  return file
}
