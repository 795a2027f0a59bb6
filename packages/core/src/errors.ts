/** Where in a policy file something is: 1-based line and column. */
export interface SourcePosition {
  file: string
  line: number
  column: number
}

/** One problem found while loading a policy. Errors stop the load; warnings do not. */
export interface PolicyIssue {
  severity: 'error' | 'warning'
  code: string
  message: string
  /** The YAML path of the offending node, e.g. `["stops", 0, "when"]`. */
  path: (string | number)[]
  /** The id of the rule the issue is about, when there is one. */
  rule?: string
  position?: SourcePosition
  hint?: string
}

export function formatIssue(issue: PolicyIssue): string {
  const where = issue.position
    ? `${issue.position.file}:${issue.position.line}:${issue.position.column}`
    : issue.path.join('.') || '<policy>'
  const rule = issue.rule ? ` [${issue.rule}]` : ''
  const hint = issue.hint ? `\n  hint: ${issue.hint}` : ''
  return `${where}: ${issue.severity}${rule}: ${issue.message} (${issue.code})${hint}`
}

/** A policy that cannot be loaded. `issues` holds every error and warning found, in file order. */
export class PolicyError extends Error {
  readonly code = 'POLICY_INVALID'
  readonly issues: PolicyIssue[]
  constructor(issues: PolicyIssue[]) {
    const errors = issues.filter((i) => i.severity === 'error')
    super(
      `policy has ${errors.length} error${errors.length === 1 ? '' : 's'}:\n${errors.map(formatIssue).join('\n')}`,
    )
    this.name = 'PolicyError'
    this.issues = issues
  }
}

/** A request the caller must fix: `path` names the offending field. */
export class InputError extends Error {
  readonly code: string
  readonly path: (string | number)[]
  readonly hint: string | undefined
  constructor(code: string, message: string, path: (string | number)[] = [], hint?: string) {
    super(path.length ? `${path.join('.')}: ${message}` : message)
    this.name = 'InputError'
    this.code = code
    this.path = path
    this.hint = hint
  }
}

/** Something asked of a thing that does not exist or is no longer in that state. */
export class NotFoundError extends Error {
  readonly code = 'NOT_FOUND'
  constructor(what: string, id: string) {
    super(`${what} ${id} not found`)
    this.name = 'NotFoundError'
  }
}

/**
 * A review that cannot take the asked-for resolution (already resolved, or expired), or has no
 * approval to re-check (not approved, or stopped at approval).
 */
export class ReviewStateError extends Error {
  readonly code: 'REVIEW_RESOLVED' | 'REVIEW_EXPIRED' | 'REVIEW_NOT_APPROVED'
  constructor(code: ReviewStateError['code'], message: string) {
    super(message)
    this.name = 'ReviewStateError'
    this.code = code
  }
}

/**
 * A request that contradicts what is already recorded: an idempotency key reused for another
 * request (`IDEMPOTENCY_KEY_REUSED`), or an outcome that cannot follow the touch's current status
 * (`ILLEGAL_TRANSITION`). Retrying the same request cannot succeed.
 */
export class ConflictError extends Error {
  /**
   * REVIEW_DIGEST_MISMATCH: an approval sent with the digest of another request than the review's
   * (the reviewer saw something else); nothing is written. CHANGED_REQUEST_STOPPED /
   * CHANGED_REQUEST_FLAGGED: an approval with changes whose changed request a rule stops, or flags
   * for a reason the review was not about (another team's call); the review stays pending.
   * CHANGES_NOT_CARRIED: changes to attributes the caller did not say it can release changed (its
   * request's `acceptsChanges`): what it would send is the request as asked.
   */
  readonly code:
    | 'IDEMPOTENCY_KEY_REUSED'
    | 'EXTERNAL_ID_REUSED'
    | 'ILLEGAL_TRANSITION'
    | 'REVIEW_DIGEST_MISMATCH'
    | 'CHANGED_REQUEST_STOPPED'
    | 'CHANGED_REQUEST_FLAGGED'
    | 'CHANGES_NOT_CARRIED'
  /** The decision the conflict is with (the one the key was first used for, or whose touch it is). */
  readonly decisionId: string | undefined
  constructor(code: ConflictError['code'], message: string, decisionId?: string) {
    super(message)
    this.name = 'ConflictError'
    this.code = code
    this.decisionId = decisionId
  }
}

/**
 * A policy change that cannot be made as the store stands: no candidate to promote or sign, a
 * sign-off for a version that is no longer the candidate, sign-offs still missing, nothing to roll
 * back to. `hint` says what would make it possible.
 */
export class PolicyChangeError extends Error {
  readonly code: 'NO_CANDIDATE' | 'CANDIDATE_CHANGED' | 'SIGN_OFF_MISSING' | 'NO_PREVIOUS_VERSION'
  readonly hint: string | undefined
  /** The teams whose sign-off is missing (`SIGN_OFF_MISSING`). */
  readonly teams: string[]
  constructor(code: PolicyChangeError['code'], message: string, hint?: string, teams: string[] = []) {
    super(message)
    this.name = 'PolicyChangeError'
    this.code = code
    this.hint = hint
    this.teams = teams
  }
}

/**
 * The store cannot be reached right now (a lost connection, a restart, a full pool). Nothing was
 * decided: the same request may be retried after `retryAfterSeconds`, with the same idempotency key.
 */
export class UnavailableError extends Error {
  readonly code = 'STORE_UNAVAILABLE'
  readonly retryAfterSeconds: number
  constructor(message: string, options: { cause?: unknown; retryAfterSeconds?: number } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause })
    this.name = 'UnavailableError'
    this.retryAfterSeconds = options.retryAfterSeconds ?? 1
  }
}
