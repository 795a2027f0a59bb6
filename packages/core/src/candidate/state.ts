import type { CandidateDiff } from '../candidate/diff.ts'
import { InputError, PolicyChangeError } from '../errors.ts'
import { loadPolicy } from '../policy/load.ts'
import type { CompiledRule, Policy } from '../policy/model.ts'
import type { Remit } from '../remit.ts'
import type { Store } from '../store/store.ts'

// The policies every instance sharing a store serves: the candidate in shadow, the promoted live
// version and the ones before it, and the history of who set, signed, promoted and rolled back what.
// One document under one state key, changed only through `Store.updateState`, so a promotion is one
// atomic write that every instance picks up (`PolicySync`).

export const POLICY_STATE_KEY = 'remit.policy'

/** A policy as the store keeps it: its text, and the version (content hash) it loads as. */
export interface StoredPolicy {
  version: string
  file: string
  source: string
}

export interface SignOff {
  team: string
  by: string
  at: string
  note?: string
}

export interface PolicyHistoryEntry {
  event: 'candidate' | 'clear' | 'sign-off' | 'promote' | 'rollback'
  /** The version the event is about (the candidate's; on promote and rollback, the new live one). */
  version: string
  at: string
  by: string
  note?: string
  /** On a sign-off: the team signing. */
  team?: string
  /** On promote and rollback: the live version it replaced. */
  from?: string
  /** On promote: the teams whose sign-off it needed, and the sign-offs it had. */
  required?: string[]
  signOffs?: SignOff[]
  /** On promote: an admin promoted without every sign-off. */
  override?: boolean
}

export interface PolicyState {
  /** Goes up by one with every change: instances compare it to know whether to look further. */
  revision: number
  /** The promoted policy in service on every instance (absent: each serves its own file). */
  live?: StoredPolicy & { at: string; by: string }
  /** Live versions before the current one, newest last: what rollback returns to. */
  previous: StoredPolicy[]
  candidate?: StoredPolicy & { at: string; by: string; signOffs: SignOff[] }
  /** Newest last, the last 200. */
  history: PolicyHistoryEntry[]
}

const HISTORY = 200
const PREVIOUS = 20

const stored = (p: Policy): StoredPolicy => ({ version: p.version, file: p.file, source: p.source })

function parseState(value: string | undefined): PolicyState {
  return value ? (JSON.parse(value) as PolicyState) : { revision: 0, previous: [], history: [] }
}

export async function readPolicyState(store: Store): Promise<PolicyState> {
  return parseState(await store.readState(POLICY_STATE_KEY))
}

/** Applies `change` to the document atomically, revision and history kept; returns the new state. */
async function change(
  store: Store,
  event: (state: PolicyState, at: string) => PolicyHistoryEntry,
): Promise<PolicyState> {
  const value = await store.updateState(POLICY_STATE_KEY, (value) => {
    const state = parseState(value)
    const entry = event(state, new Date().toISOString())
    state.revision++
    state.history = [...state.history, entry].slice(-HISTORY)
    return JSON.stringify(state)
  })
  return parseState(value)
}

const noCandidate = () =>
  new PolicyChangeError(
    'NO_CANDIDATE',
    'no candidate policy is loaded',
    'load one: remit candidate set next.yaml',
  )

/** Loads `policy` as the candidate for every instance on the store; earlier sign-offs lapse. */
export function setCandidate(store: Store, policy: Policy, by: string): Promise<PolicyState> {
  return change(store, (state, at) => {
    state.candidate = { ...stored(policy), at, by, signOffs: [] }
    return { event: 'candidate', version: policy.version, at, by }
  })
}

export function clearCandidate(store: Store, by: string): Promise<PolicyState> {
  return change(store, (state, at) => {
    const candidate = state.candidate
    if (!candidate) throw noCandidate()
    delete state.candidate
    return { event: 'clear', version: candidate.version, at, by }
  })
}

export interface SignOffInput {
  team: string
  by: string
  note?: string
  /** The candidate version signed; refused when the candidate has changed since (default: the current one). */
  version?: string
}

/** A reviewer of `team` agrees to the candidate (once per team and version; a new sign-off replaces the team's). */
export function signOff(store: Store, input: SignOffInput): Promise<PolicyState> {
  if (!input.team) throw new InputError('MISSING_FIELD', 'team is required', ['team'])
  return change(store, (state, at) => {
    const candidate = state.candidate
    if (!candidate) throw noCandidate()
    if (input.version && input.version !== candidate.version)
      throw new PolicyChangeError(
        'CANDIDATE_CHANGED',
        `version ${input.version} is no longer the candidate (${candidate.version} is)`,
        'read the candidate again (remit candidate report) and sign the version in place',
      )
    const entry: SignOff = { team: input.team, by: input.by, at }
    if (input.note) entry.note = input.note
    candidate.signOffs = [...candidate.signOffs.filter((s) => s.team !== input.team), entry]
    return {
      event: 'sign-off',
      version: candidate.version,
      at,
      by: input.by,
      team: input.team,
      ...(input.note ? { note: input.note } : {}),
    }
  })
}

/** The teams a rule binds: those its scope names (or its agents belong to), its owner; all when it names none. */
function teamsOf(rule: CompiledRule, policy: Policy): string[] {
  const teams = new Set(rule.scope.teams ?? [])
  for (const agent of rule.scope.agents ?? []) {
    const team = policy.agents.get(agent)?.team
    if (team) teams.add(team)
  }
  if (rule.sort === 'ownership') teams.add(rule.owner)
  return teams.size ? [...teams] : [...policy.teams.keys()]
}

/** Each rule's document entry as text, by id: what "the rule changed" compares. */
function ruleTexts(policy: Policy): Map<string, string> {
  const doc = policy.document as unknown as Record<string, { id?: string }[] | undefined>
  const out = new Map<string, string>()
  for (const sort of ['ownership', 'permissions', 'triggers', 'stops', 'limits', 'windows'])
    for (const rule of doc[sort] ?? []) if (rule.id) out.set(rule.id, `${sort}:${JSON.stringify(rule)}`)
  return out
}

/**
 * The teams whose sign-off promoting `candidate` over `live` needs: every team whose decisions it
 * flipped or routed elsewhere (the asking team and the reviewing teams), and every team bound by a
 * rule it adds, removes or changes, or whose own settings or agents it changes.
 */
export function teamsToSignOff(live: Policy, candidate: Policy, diffs: readonly CandidateDiff[]): string[] {
  const teams = new Set<string>()
  for (const d of diffs) {
    teams.add(d.team)
    if (d.liveReviewTeam) teams.add(d.liveReviewTeam)
    if (d.candidateReviewTeam) teams.add(d.candidateReviewTeam)
  }
  const before = ruleTexts(live)
  const after = ruleTexts(candidate)
  for (const id of new Set([...before.keys(), ...after.keys()])) {
    if (before.get(id) === after.get(id)) continue
    for (const [policy, texts] of [
      [live, before],
      [candidate, after],
    ] as const) {
      const rule = texts.has(id) ? policy.rules.find((r) => r.id === id) : undefined
      if (rule) for (const team of teamsOf(rule, policy)) teams.add(team)
    }
  }
  const docTeams = (p: Policy) => (p.document.teams ?? {}) as Record<string, unknown>
  for (const team of new Set([...live.teams.keys(), ...candidate.teams.keys()]))
    if (JSON.stringify(docTeams(live)[team]) !== JSON.stringify(docTeams(candidate)[team])) teams.add(team)
  for (const id of new Set([...live.agents.keys(), ...candidate.agents.keys()])) {
    const a = live.agents.get(id)
    const b = candidate.agents.get(id)
    if (JSON.stringify(a) === JSON.stringify(b)) continue
    if (a) teams.add(a.team)
    if (b) teams.add(b.team)
  }
  return [...teams].sort()
}

/** Every diff the candidate version has recorded (newest first). */
export async function candidateDiffs(store: Store, version: string, since?: Date): Promise<CandidateDiff[]> {
  const out: CandidateDiff[] = []
  let before: Date | undefined
  for (;;) {
    const page = await store.listCandidateDiffs({
      candidateVersion: version,
      limit: 10_000,
      ...(since ? { since } : {}),
      ...(before ? { before } : {}),
    })
    if (page.length < 10_000) return [...out, ...page]
    // A page that ends inside a millisecond takes the rest of it whole (diffs written together share
    // their time: cutting between them would skip some), then goes on before it.
    const edge = (page[page.length - 1] as CandidateDiff).at
    for (const d of page) if (d.at.getTime() !== edge.getTime()) out.push(d)
    const tied = {
      candidateVersion: version,
      since: edge,
      until: new Date(edge.getTime() + 1),
      limit: 10_000,
    }
    out.push(...(await store.listCandidateDiffs(tied)))
    before = edge
  }
}

export interface PromoteInput {
  /** The live policy this instance serves (what rollback returns to when none was promoted before). */
  live: Policy
  by: string
  note?: string
  /** An admin's decision to promote without every sign-off; recorded as such. */
  override?: boolean
}

/** The teams that still must sign the candidate, given the live policy an instance serves. */
export async function missingSignOffs(
  store: Store,
  live: Policy,
): Promise<{ candidate: Policy; required: string[]; missing: string[] }> {
  const state = await readPolicyState(store)
  if (!state.candidate) throw noCandidate()
  const candidate = loadPolicy(state.candidate.source, { file: state.candidate.file })
  const required = teamsToSignOff(live, candidate, await candidateDiffs(store, state.candidate.version))
  const signed = new Set(state.candidate.signOffs.map((s) => s.team))
  return { candidate, required, missing: required.filter((t) => !signed.has(t)) }
}

/**
 * Makes the candidate the live policy of every instance on the store, in one write: refused while a
 * team whose sign-off it needs has not given it, unless an admin overrides.
 */
export async function promote(store: Store, input: PromoteInput): Promise<PolicyState> {
  const { candidate, required } = await missingSignOffs(store, input.live)
  return change(store, (state, at) => {
    const c = state.candidate
    if (!c) throw noCandidate()
    if (c.version !== candidate.version)
      throw new PolicyChangeError(
        'CANDIDATE_CHANGED',
        `the candidate changed to ${c.version} meanwhile`,
        'try again',
      )
    const signed = new Set(c.signOffs.map((s) => s.team))
    const missing = required.filter((t) => !signed.has(t))
    if (missing.length && !input.override)
      throw new PolicyChangeError(
        'SIGN_OFF_MISSING',
        `version ${c.version} still needs sign-off from ${missing.join(', ')}`,
        `a reviewer of each signs: remit candidate sign-off --team ${missing[0]} --note "…"; or an admin promotes with --override`,
        missing,
      )
    const from = state.live ?? stored(input.live)
    state.previous = [
      ...state.previous,
      { version: from.version, file: from.file, source: from.source },
    ].slice(-PREVIOUS)
    state.live = { version: c.version, file: c.file, source: c.source, at, by: input.by }
    delete state.candidate
    const entry: PolicyHistoryEntry = {
      event: 'promote',
      version: c.version,
      at,
      by: input.by,
      from: from.version,
      required,
      signOffs: c.signOffs,
    }
    if (missing.length) entry.override = true
    if (input.note) entry.note = input.note
    return entry
  })
}

/** Returns every instance to the live version before the current one. */
export function rollback(store: Store, input: { by: string; note?: string }): Promise<PolicyState> {
  return change(store, (state, at) => {
    const back = state.previous.at(-1)
    if (!back || !state.live)
      throw new PolicyChangeError(
        'NO_PREVIOUS_VERSION',
        'no promoted version to roll back from',
        'promote one first',
      )
    state.previous = state.previous.slice(0, -1)
    const from = state.live.version
    state.live = { ...back, at, by: input.by }
    return {
      event: 'rollback',
      version: back.version,
      at,
      by: input.by,
      from,
      ...(input.note ? { note: input.note } : {}),
    }
  })
}

/**
 * Keeps one instance's engine on the store's policies: the promoted live version (when there is one)
 * and the candidate in shadow. `poll` reads one small row and loads a policy only when its version changed.
 */
export class PolicySync {
  private revision = -1
  private timer: NodeJS.Timeout | undefined
  /** Whether the live policy in service came from the store (a promotion), not this instance's file. */
  promoted = false
  private readonly remit: Remit
  private readonly onError: (error: unknown) => void

  constructor(remit: Remit, onError: (error: unknown) => void = () => {}) {
    this.remit = remit
    this.onError = onError
  }

  /** Applies the store's state now; returns it. */
  async poll(): Promise<PolicyState> {
    const state = await readPolicyState(this.remit.store)
    if (state.revision === this.revision) return state
    const live = state.live
    if (live && live.version !== this.remit.policy.version)
      this.remit.setPolicy(loadPolicy(live.source, { file: live.file }))
    this.promoted = live !== undefined
    const candidate = state.candidate
    if (!candidate) this.remit.setCandidate(undefined)
    else if (candidate.version !== this.remit.candidate?.version)
      this.remit.setCandidate(loadPolicy(candidate.source, { file: candidate.file }))
    this.revision = state.revision
    return state
  }

  /** Polls every `everyMs` (default 2 s) until `stop`. */
  start(everyMs = 2000): void {
    this.timer = setInterval(() => void this.poll().catch(this.onError), everyMs)
    this.timer.unref()
  }

  stop(): void {
    clearInterval(this.timer)
  }
}
