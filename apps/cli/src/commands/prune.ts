import { formatDuration, loadPolicyFile, type PruneReport, parseDuration } from '@remit/core'
import { type Io, paint, UsageError } from '../output.ts'
import { existingStore } from './outbox.ts'

// `remit prune`: what no rule reads and the audit no longer keeps, out of the store `remit serve`
// uses. Touches are kept for the policy's longest window (its ledger.lookback, or a longer limit's
// period), so no verdict changes; decisions for --keep-decisions (default 400d: a year and a
// quarter of audit), with their answered reviews and the commitments no longer outstanding.

export interface PruneOptions {
  store: string
  policy: string
  keepDecisions: string
  dryRun?: boolean
  json?: boolean
}

export async function pruneCommand(io: Io, o: PruneOptions): Promise<number> {
  const keep = parseDuration(o.keepDecisions)
  // More than a century back is no cut-off at all (and past JavaScript's dates, none that exists).
  if (keep === undefined || keep <= 0 || keep > 36_500 * 86_400_000)
    throw new UsageError(
      `--keep-decisions wants a duration such as 400d or 60w (at most 36500d), got "${o.keepDecisions}"`,
    )
  const policy = await loadPolicyFile(o.policy)
  const now = new Date()
  const request = {
    touchesBefore: new Date(now.getTime() - policy.lookbackMs),
    // Never shorter than the touches' window: a decision explains the touch it reserved.
    decisionsBefore: new Date(now.getTime() - Math.max(keep, policy.lookbackMs)),
    now,
    dryRun: o.dryRun === true,
  }
  const store = await existingStore(o.store)
  let report: PruneReport
  try {
    report = await store.prune(request)
  } finally {
    await store.close()
  }
  if (o.json) {
    io.out(JSON.stringify({ ...request, ...report }, null, 2))
    return 0
  }
  const verb = o.dryRun ? 'would remove' : 'removed'
  io.out(
    `${paint(io, 'bold', verb)}: ${report.touches} touches before ${request.touchesBefore.toISOString()} (the policy's longest window, ${formatDuration(policy.lookbackMs)})`,
  )
  io.out(
    `${' '.repeat(verb.length + 2)}${report.decisions} decisions (with ${report.candidateDiffs} candidate diffs), ${report.reviews} answered reviews, ${report.commitments} spent commitments before ${request.decisionsBefore.toISOString()}`,
  )
  if (report.months.length)
    io.out(`${' '.repeat(verb.length + 2)}months dropped whole: ${report.months.join(', ')}`)
  return 0
}
