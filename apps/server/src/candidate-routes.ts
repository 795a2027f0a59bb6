import {
  checkPolicy,
  InputError,
  PolicyChangeError,
  PolicyError,
  parseDuration,
  type Remit,
} from '@remit/core'
import {
  candidateReport,
  clearCandidate,
  missingSignOffs,
  type PolicyState,
  promote,
  readPolicyState,
  rollback,
  setCandidate,
  signOff,
} from '@remit/core/internal'
import { z } from 'zod'
import { ForbiddenError } from './errors.ts'
import { defineRoute, type Route } from './route.ts'
import type { RouteDeps } from './route-deps.ts'

// The candidate policy in shadow, sign-off, promote and rollback (docs/candidates.md). The state is
// the store's, shared by every instance on it; after a change this instance applies it at once, the
// others at their next sync.

const signOffSchema = z.object({
  team: z.string(),
  by: z.string(),
  at: z.string(),
  note: z.string().optional(),
})
const historySchema = z.object({
  event: z.enum(['candidate', 'clear', 'sign-off', 'promote', 'rollback']),
  version: z.string(),
  at: z.string(),
  by: z.string(),
  note: z.string().optional(),
  team: z.string().optional(),
  from: z.string().optional(),
  required: z.array(z.string()).optional(),
  signOffs: z.array(signOffSchema).optional(),
  override: z.boolean().optional(),
})
const candidateStateSchema = z.object({
  /** The live version this instance serves. */
  live: z.object({
    version: z.string(),
    promoted: z.boolean(),
    at: z.string().optional(),
    by: z.string().optional(),
  }),
  candidate: z
    .object({
      version: z.string(),
      file: z.string(),
      at: z.string(),
      by: z.string(),
      signOffs: z.array(signOffSchema),
      /** The teams whose sign-off promotion needs, and those still missing. */
      required: z.array(z.string()),
      missing: z.array(z.string()),
    })
    .optional(),
  /** Live versions rollback can return to, newest last. */
  previous: z.array(z.string()),
  history: z.array(historySchema),
})

const setRequest = z.object({
  source: z.string().min(1).max(1_000_000).describe('The candidate policy file, as text'),
  file: z.string().max(500).optional().describe('Its name, for messages (default candidate.yaml)'),
})
const signOffRequest = z.object({
  team: z
    .string()
    .max(200)
    .optional()
    .describe("The team agreeing (a reviewer's key: its own team, the default)"),
  note: z.string().max(2000).optional(),
  version: z
    .string()
    .max(200)
    .optional()
    .describe('The candidate version agreed to (refused if the candidate changed since)'),
})
const promoteRequest = z.object({
  override: z.boolean().optional().describe('Promote without every sign-off (recorded as an override)'),
  note: z.string().max(2000).optional(),
})
const rollbackRequest = z.object({ note: z.string().max(2000).optional() })
const reportQuery = z.object({
  since: z.string().optional().describe('How far back: a duration (24h, 7d) or an ISO time; default 24h'),
})

/**
 * The decision log's line for the promotion or rollback this instance just made (the state's newest
 * history entry): written here only, since the other instances pick the change up from the store.
 */
function logPolicyChange(remit: Remit, state: PolicyState): void {
  const entry = state.history.at(-1)
  if (entry?.event !== 'promote' && entry?.event !== 'rollback') return
  remit.logPolicyChange({
    at: entry.at,
    event: entry.event === 'promote' ? 'promoted' : 'rolled-back',
    version: entry.version,
    previousVersion: entry.from ?? '',
    by: entry.by,
    override: entry.override,
    note: entry.note,
    signOffs: entry.signOffs,
  })
}

async function stateOf(remit: Remit, state: PolicyState): Promise<z.output<typeof candidateStateSchema>> {
  const c = state.candidate
  const signed = c ? await missingSignOffs(remit.store, remit.policy) : undefined
  return {
    live: {
      version: remit.policy.version,
      promoted: state.live?.version === remit.policy.version,
      ...(state.live ? { at: state.live.at, by: state.live.by } : {}),
    },
    ...(c && signed
      ? {
          candidate: {
            version: c.version,
            file: c.file,
            at: c.at,
            by: c.by,
            signOffs: c.signOffs,
            required: signed.required,
            missing: signed.missing,
          },
        }
      : {}),
    previous: state.previous.map((p) => p.version),
    history: state.history,
  }
}

export function candidateRoutes(d: RouteDeps): Route[] {
  const { remit } = d
  /** Applies the store's state on this instance now, then answers with it. */
  const applied = async () =>
    stateOf(remit, (await d.policy.sync?.poll()) ?? (await readPolicyState(remit.store)))
  return [
    defineRoute({
      method: 'GET',
      url: '/v1/admin/candidate',
      operationId: 'getCandidate',
      summary: 'The candidate policy in shadow, its sign-offs, and the history of policy changes',
      tag: 'admin',
      roles: ['admin', 'reviewer'],
      response: candidateStateSchema,
      handler: async () => stateOf(remit, await readPolicyState(remit.store)),
    }),
    defineRoute({
      method: 'POST',
      url: '/v1/admin/candidate',
      operationId: 'setCandidate',
      summary: 'Run a policy in shadow beside the live one, on every instance sharing the store',
      description:
        'Every live decision is also evaluated against the candidate, on the same ledger view: nothing is reserved, reviewed or sent for it, and each difference is recorded with the decision. A policy that does not load is refused (422) with every issue.',
      tag: 'admin',
      roles: ['admin'],
      body: setRequest,
      // The schema's million characters of YAML, as JSON may spell them (a policy file, not the
      // server's 64 KiB default for small requests).
      bodyLimit: 4 * 1024 * 1024,
      response: candidateStateSchema,
      handler: async (c) => {
        const file = c.body.file ?? 'candidate.yaml'
        let checked: ReturnType<typeof checkPolicy>
        try {
          checked = checkPolicy(c.body.source, { file })
        } catch (error) {
          // YAML the parser itself gives up on (an alias to no anchor) is a policy that does not load.
          const message = error instanceof Error ? error.message : String(error)
          throw new PolicyError([{ severity: 'error', code: 'POLICY_UNREADABLE', message, path: [] }])
        }
        if (!checked.policy) throw new PolicyError(checked.issues)
        await setCandidate(remit.store, checked.policy, c.principal.name)
        return applied()
      },
    }),
    defineRoute({
      method: 'POST',
      url: '/v1/admin/candidate/clear',
      operationId: 'clearCandidate',
      summary: 'Stop running the candidate in shadow (its recorded differences stay)',
      tag: 'admin',
      roles: ['admin'],
      response: candidateStateSchema,
      handler: async (c) => {
        await clearCandidate(remit.store, c.principal.name)
        return applied()
      },
    }),
    defineRoute({
      method: 'POST',
      url: '/v1/admin/candidate/sign-offs',
      operationId: 'signOffCandidate',
      summary: 'Sign off on the candidate: a reviewer for its own team, an admin naming one',
      tag: 'admin',
      roles: ['reviewer', 'admin'],
      body: signOffRequest,
      response: candidateStateSchema,
      handler: async (c) => {
        const p = c.principal
        const team = p.kind === 'reviewer' ? p.team : c.body.team
        if (!team) throw new InputError('MISSING_FIELD', 'name the team signing off', ['team'])
        if (p.kind === 'reviewer' && c.body.team && c.body.team !== p.team)
          throw new ForbiddenError(`key ${p.name} reviews for ${p.team}: it signs off for ${p.team} only`)
        if (!remit.policy.teams.has(team) && !remit.candidate?.teams.has(team))
          throw new InputError('UNKNOWN_TEAM', `unknown team "${team}"`, ['team'])
        await signOff(remit.store, {
          team,
          by: p.name,
          ...(c.body.note ? { note: c.body.note } : {}),
          ...(c.body.version ? { version: c.body.version } : {}),
        })
        return applied()
      },
    }),
    defineRoute({
      method: 'GET',
      url: '/v1/admin/candidate/report',
      operationId: 'getCandidateReport',
      summary: 'What the candidate would have changed in live traffic: flips, review load, rules, examples',
      tag: 'admin',
      roles: ['admin', 'reviewer'],
      query: reportQuery,
      response: z.record(z.string(), z.unknown()),
      handler: async (c) => {
        const candidate = remit.candidate
        if (!candidate)
          throw new PolicyChangeError(
            'NO_CANDIDATE',
            'no candidate policy is loaded',
            'remit candidate set next.yaml',
          )
        const since = sinceOf(c.query.since ?? '24h', d.clock())
        return { ...(await candidateReport(remit.store, candidate, { since })) }
      },
    }),
    defineRoute({
      method: 'POST',
      url: '/v1/admin/policy/promote',
      operationId: 'promotePolicy',
      summary: 'Make the candidate the live policy on every instance sharing the store',
      description:
        'Refused (409 SIGN_OFF_MISSING, naming the teams) until a reviewer of every team whose decisions the candidate flips, or whose rules it changes, has signed off; an admin may override, recorded as such.',
      tag: 'admin',
      roles: ['admin'],
      body: promoteRequest,
      response: candidateStateSchema,
      handler: async (c) => {
        const state = await promote(remit.store, {
          live: remit.policy,
          by: c.principal.name,
          ...(c.body.override ? { override: true } : {}),
          ...(c.body.note ? { note: c.body.note } : {}),
        })
        logPolicyChange(remit, state)
        return applied()
      },
    }),
    defineRoute({
      method: 'POST',
      url: '/v1/admin/policy/rollback',
      operationId: 'rollbackPolicy',
      summary: 'Return every instance to the live version before the current one',
      tag: 'admin',
      roles: ['admin'],
      body: rollbackRequest,
      response: candidateStateSchema,
      handler: async (c) => {
        const state = await rollback(remit.store, {
          by: c.principal.name,
          ...(c.body.note ? { note: c.body.note } : {}),
        })
        logPolicyChange(remit, state)
        return applied()
      },
    }),
  ]
}

/** Most a report looks back: a century (further is no window, and past JavaScript's dates). */
const MAX_SINCE_MS = 36_500 * 86_400_000

/**
 * `since` as a duration back from now (24h, 7d) or an ISO date or time (2026-11-01,
 * 2026-11-01T09:00:00Z): within a century back and not after now. Nothing else — not `0` (which
 * JavaScript reads as the year 2000), not 2026-02-30 (which it rolls over to March).
 */
function sinceOf(text: string, now: Date): Date {
  const bad = (why: string) =>
    new InputError(
      'BAD_SINCE',
      `expected a duration (24h, 7d) or an ISO time${why}, got "${text.slice(0, 100)}"`,
      ['since'],
    )
  const ms = parseDuration(text)
  const at =
    ms !== undefined
      ? new Date(now.getTime() - ms)
      : /^\d{4}-\d{2}-\d{2}(T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:\d{2}))?$/.test(text)
        ? new Date(text)
        : undefined
  if (!at || Number.isNaN(at.getTime())) throw bad('')
  if (
    ms === undefined &&
    at.toISOString().slice(0, 10) !== text.slice(0, 10) &&
    !/T.*[+-]\d{2}:\d{2}$/.test(text)
  )
    throw bad(' (no such date)')
  if (now.getTime() - at.getTime() > MAX_SINCE_MS) throw bad(' within the last century')
  if (at > now) throw bad(' not after now')
  return at
}
