import { createHash } from 'node:crypto'
import { readFile } from 'node:fs/promises'
import type { z } from 'zod'
import { PolicyError, type PolicyIssue } from '../errors.ts'
import { parseDuration } from '../time/duration.ts'
import { buildEnvironment, type CompiledExpression, compileExpression, isProblem } from './cel.ts'
import { lintPolicy } from './lint.ts'
import type {
  ActionKind,
  Agent,
  ApplicableRules,
  CompiledLimit,
  CompiledOwnership,
  CompiledPermission,
  CompiledRule,
  CompiledStop,
  CompiledTrigger,
  Policy,
  Scope,
} from './model.ts'
import { reservedNameIssues } from './reserved.ts'
import {
  type PolicyDocument,
  policySchema,
  type RuleSort,
  scopeKeys,
  type TypedValue,
  valueTypes,
} from './schema.ts'
import { scopeMatches } from './scope.ts'
import { PolicySource } from './source.ts'
import { closest, didYouMean } from './suggest.ts'

export interface CheckResult {
  /** The policy, when there were no errors. */
  policy?: Policy
  /** Every error and warning, in file order. */
  issues: PolicyIssue[]
}

/** Loads a policy from YAML text. Throws `PolicyError` listing every error; warnings are on the policy. */
export function loadPolicy(text: string, options: { file?: string } = {}): Policy {
  const result = checkPolicy(text, options)
  if (!result.policy) throw new PolicyError(result.issues)
  return result.policy
}

export async function loadPolicyFile(path: string): Promise<Policy> {
  return loadPolicy(await readFile(path, 'utf8'), { file: path })
}

/** Like `loadPolicy`, but returns the issues instead of throwing (for `remit validate`). */
export function checkPolicy(text: string, options: { file?: string } = {}): CheckResult {
  const src = new PolicySource(text, options.file ?? '<policy>')
  const syntax = src.syntaxIssues()
  if (syntax.some((i) => i.severity === 'error')) return { issues: syntax }

  const reserved = reservedNameIssues(src)
  const parsed = policySchema.safeParse(src.doc.toJS())
  if (!parsed.success) {
    return { issues: sortIssues([...syntax, ...reserved, ...zodIssues(src, parsed.error)]) }
  }

  const doc = parsed.data
  const issues: PolicyIssue[] = [...syntax, ...reserved, ...referenceIssues(src, doc)]
  const attributes = collectAttributes(src, doc, issues)
  if (issues.some((i) => i.severity === 'error')) return { issues: sortIssues(issues) }

  const env = buildEnvironment(doc, attributes)
  const compile = (
    path: (string | number)[],
    rule: string,
    source: string,
    expected: 'bool' | 'google.protobuf.Timestamp',
  ): CompiledExpression | undefined => {
    const out = compileExpression(env, source, expected)
    if (!isProblem(out)) return out
    issues.push({
      severity: 'error',
      code: out.code,
      message: out.message,
      path,
      rule,
      position: src.positionInValue(path, source, out.offset),
      hint: out.hint ?? celHint(out.message, doc, attributes),
    })
    return undefined
  }

  const rules: CompiledRule[] = []
  const base = (sort: RuleSort, listKey: string, index: number, r: RuleDoc) => {
    const when = r.when ? compile([listKey, index, 'when'], r.id, r.when, 'bool') : undefined
    return {
      id: r.id,
      sort,
      message: r.message,
      scope: resolveScope(r),
      when,
      readsLedger: readsLedger(r.when),
      position: src.position([listKey, index]),
    }
  }
  doc.stops.forEach((r, i) => {
    rules.push({ ...base('stop', 'stops', i, r), sort: 'stop' } satisfies CompiledStop)
  })
  doc.triggers.forEach((r, i) => {
    const until = r.until
      ? compile(['triggers', i, 'until'], r.id, r.until, 'google.protobuf.Timestamp')
      : undefined
    const b = base('trigger', 'triggers', i, r)
    rules.push({
      ...b,
      sort: 'trigger',
      when: b.when as CompiledExpression,
      then: r.then,
      until,
      notify: r.notify,
      readsLedger: b.readsLedger || readsLedger(r.until),
    } satisfies CompiledTrigger)
  })
  doc.limits.forEach((r, i) => {
    rules.push({
      ...base('limit', 'limits', i, r),
      sort: 'limit',
      max: r.max,
      per: r.per,
      perMs: parseDuration(r.per) as number,
      limitScope: r.scope,
      then: r.then,
    } satisfies CompiledLimit)
  })
  doc.ownership.forEach((r, i) => {
    const b = base('ownership', 'ownership', i, { ...r, then: undefined })
    rules.push({
      ...b,
      sort: 'ownership',
      when: b.when as CompiledExpression,
      owner: r.owner,
      then: r.then,
    } satisfies CompiledOwnership)
  })
  doc.permissions.forEach((r, i) => {
    rules.push({
      ...base('permission', 'permissions', i, r),
      sort: 'permission',
    } satisfies CompiledPermission)
  })
  if (issues.some((i) => i.severity === 'error')) return { issues: sortIssues(issues) }

  const policy = assemble(text, src.file, doc, attributes, rules)
  issues.push(...lintPolicy(policy, src))
  const sorted = sortIssues(issues)
  return { policy: { ...policy, warnings: sorted }, issues: sorted }
}

type RuleDoc = { id: string; when?: string; message?: string; then?: unknown } & Partial<
  Record<(typeof scopeKeys)[number], string | string[] | boolean>
>

function assemble(
  text: string,
  file: string,
  doc: PolicyDocument,
  attributes: Record<string, TypedValue>,
  rules: CompiledRule[],
): Policy {
  const agents = new Map<string, Agent>()
  const tools = new Map<string, string>()
  for (const [id, a] of Object.entries(doc.agents)) {
    agents.set(id, { id, team: a.team, tools: a.tools })
    for (const tool of a.tools) tools.set(tool, id)
  }
  const actions = new Map<string, ActionKind>()
  for (const [kind, a] of Object.entries(doc.actions)) {
    actions.set(kind, {
      ...a,
      kind,
      ...(a.commitmentLasts ? { commitmentLastsMs: parseDuration(a.commitmentLasts) as number } : {}),
    })
  }
  const teams = new Map(Object.entries(doc.teams).map(([id, t]) => [id, { id, ...t }]))

  // Scope is a function of (agent, kind) alone, so the index is built once for every pair.
  const index = new Map<string, ApplicableRules>()
  for (const agent of agents.values()) {
    for (const action of actions.values()) {
      const fits = (r: CompiledRule) => scopeMatches(r.scope, agent, action)
      const applicable: ApplicableRules = {
        stops: rules.filter((r): r is CompiledStop => r.sort === 'stop' && fits(r)),
        triggers: rules.filter((r): r is CompiledTrigger => r.sort === 'trigger' && fits(r)),
        limits: rules.filter((r): r is CompiledLimit => r.sort === 'limit' && fits(r)),
        ownership: rules.filter((r): r is CompiledOwnership => r.sort === 'ownership'),
        permissions: rules.filter((r): r is CompiledPermission => r.sort === 'permission' && fits(r)),
        readsLedger: false,
      }
      applicable.readsLedger = [
        ...applicable.stops,
        ...applicable.triggers,
        ...applicable.limits,
        ...applicable.ownership,
        ...applicable.permissions,
      ].some((r) => r.readsLedger)
      index.set(`${agent.id}\u0000${action.kind}`, applicable)
    }
  }
  const maxPer = Math.max(0, ...rules.map((r) => (r.sort === 'limit' ? r.perMs : 0)))

  return {
    version: createHash('sha256').update(text).digest('hex').slice(0, 16),
    file,
    source: text,
    document: doc,
    teams,
    agents,
    tools,
    actions,
    // Without a prototype (as `attributes`), `policy.facts[name]` is undefined for any undeclared name.
    facts: Object.assign(Object.create(null), doc.facts),
    attributes,
    rules,
    warnings: [],
    lookbackMs: Math.max(parseDuration(doc.ledger.lookback) as number, maxPer),
    review: {
      defaultTeam: doc.review.defaultTeam,
      expiresAfterMs: parseDuration(doc.review.expiresAfter) as number,
      onExpiry: doc.review.onExpiry,
    },
    applicable(agentId, kind) {
      const found = index.get(`${agentId}\u0000${kind}`)
      if (!found) throw new Error(`no index for agent ${agentId} and action ${kind}: validate inputs first`)
      return found
    },
  }
}

function resolveScope(r: RuleDoc): Scope {
  const set = (v: unknown) => (v === undefined ? undefined : new Set(Array.isArray(v) ? v : [v as string]))
  const scope: Scope = {}
  const agents = set(r.agent)
  const teams = set(r.team)
  const actions = set(r.action)
  const channels = set(r.channel)
  if (agents) scope.agents = agents
  if (teams) scope.teams = teams
  if (actions) scope.actions = actions
  if (channels) scope.channels = channels
  if (typeof r.outbound === 'boolean') scope.outbound = r.outbound
  return scope
}

function readsLedger(expr: string | undefined): boolean {
  return expr !== undefined && /\b(touches|commitments)\b/.test(expr)
}

const RULE_LISTS = ['stops', 'triggers', 'limits', 'ownership', 'permissions'] as const

/** Unknown agents, teams and action kinds, duplicate ids and tools: errors with positions. */
function referenceIssues(src: PolicySource, doc: PolicyDocument): PolicyIssue[] {
  const issues: PolicyIssue[] = []
  const teams = Object.keys(doc.teams)
  const agents = Object.keys(doc.agents)
  const kinds = Object.keys(doc.actions)
  const unknown = (what: string, name: string, known: string[], path: (string | number)[], rule?: string) => {
    issues.push({
      severity: 'error',
      code: `UNKNOWN_${what.toUpperCase().replace(/ /g, '_')}`,
      message: `unknown ${what} "${name}"`,
      path,
      ...(rule ? { rule } : {}),
      position: src.position(path),
      hint: didYouMean(name, known) ?? `declared ${what}s: ${known.join(', ') || 'none'}`,
    })
  }
  const tools = new Map<string, string>()
  for (const [id, a] of Object.entries(doc.agents)) {
    if (!Object.hasOwn(doc.teams, a.team)) unknown('team', a.team, teams, ['agents', id, 'team'])
    a.tools.forEach((tool, i) => {
      const other = tools.get(tool)
      if (other) {
        issues.push({
          severity: 'error',
          code: 'DUPLICATE_TOOL',
          message: `tool "${tool}" is claimed by agents "${other}" and "${id}"`,
          path: ['agents', id, 'tools', i],
          position: src.position(['agents', id, 'tools', i]),
          hint: 'a tool identifies exactly one agent; give each agent its own tools',
        })
      }
      tools.set(tool, id)
    })
  }
  if (!Object.hasOwn(doc.teams, doc.review.defaultTeam)) {
    unknown('team', doc.review.defaultTeam, teams, ['review', 'defaultTeam'])
  }
  // Duplicates are reported at the later one in the file, the one the author most likely just added.
  const all = RULE_LISTS.flatMap((list) =>
    doc[list].map((rule: RuleDoc, i: number) => ({
      list,
      i,
      id: rule.id,
      line: src.position([list, i])?.line ?? 0,
    })),
  ).sort((a, b) => a.line - b.line)
  const ids = new Map<string, string>()
  for (const r of all) {
    const seen = ids.get(r.id)
    if (seen) {
      issues.push({
        severity: 'error',
        code: 'DUPLICATE_RULE_ID',
        message: `rule id "${r.id}" is used twice (also in ${seen})`,
        path: [r.list, r.i, 'id'],
        rule: r.id,
        position: src.position([r.list, r.i, 'id']),
        hint: 'rule ids name reasons in every decision; make each one unique',
      })
    }
    ids.set(r.id, r.list)
  }
  for (const list of RULE_LISTS) {
    doc[list].forEach((rule: RuleDoc & { owner?: string; notify?: string[] }, i: number) => {
      const at = [list, i]
      const each = (key: 'agent' | 'team' | 'action', known: string[], what: string) => {
        const v = rule[key]
        if (v === undefined) return
        const values = Array.isArray(v) ? v : [v as string]
        values.forEach((name, j) => {
          if (!known.includes(name))
            unknown(what, name, known, [...at, key, ...(Array.isArray(v) ? [j] : [])], rule.id)
        })
      }
      each('agent', agents, 'agent')
      each('team', teams, 'team')
      each('action', kinds, 'action kind')
      if (rule.owner !== undefined && !Object.hasOwn(doc.teams, rule.owner)) {
        unknown('team', rule.owner, teams, [...at, 'owner'], rule.id)
      }
      rule.notify?.forEach((t, j) => {
        if (!Object.hasOwn(doc.teams, t)) unknown('team', t, teams, [...at, 'notify', j], rule.id)
      })
    })
  }
  return issues
}

/** Action attributes share one namespace in CEL (`action.<name>`): a name must have one type. */
function collectAttributes(src: PolicySource, doc: PolicyDocument, issues: PolicyIssue[]) {
  const attributes: Record<string, TypedValue> = Object.create(null)
  const from = new Map<string, string>()
  for (const [kind, action] of Object.entries(doc.actions)) {
    for (const [name, t] of Object.entries(action.attributes)) {
      if (['kind', 'channel', 'outbound', 'commitment'].includes(name)) {
        issues.push({
          severity: 'error',
          code: 'RESERVED_ATTRIBUTE',
          message: `attribute "${name}" is reserved: action.${name} is set by Remit`,
          path: ['actions', kind, 'attributes', name],
          position: src.keyPosition(['actions', kind, 'attributes'], name),
          hint: 'rename the attribute',
        })
        continue
      }
      const prior = attributes[name]
      if (prior && prior.type !== t.type) {
        issues.push({
          severity: 'error',
          code: 'ATTRIBUTE_TYPE_CONFLICT',
          message: `attribute "${name}" is ${t.type} here but ${prior.type} in action "${from.get(name)}"`,
          path: ['actions', kind, 'attributes', name],
          position: src.keyPosition(['actions', kind, 'attributes'], name),
          hint: 'an attribute name has one type across all action kinds',
        })
        continue
      }
      attributes[name] = t
      from.set(name, kind)
    }
  }
  return attributes
}

function zodIssues(src: PolicySource, error: z.ZodError): PolicyIssue[] {
  const out: PolicyIssue[] = []
  for (const issue of error.issues) {
    const path = issue.path.map((p) => (typeof p === 'symbol' ? String(p) : p))
    if (issue.code === 'unrecognized_keys') {
      const known = knownKeys(path)
      for (const key of issue.keys) {
        out.push({
          severity: 'error',
          code: 'UNKNOWN_KEY',
          message: `unknown key "${key}"`,
          path: [...path, key],
          position: src.keyPosition(path, key),
          hint: didYouMean(key, known) ?? (known.length ? `expected one of: ${known.join(', ')}` : undefined),
        } as PolicyIssue)
      }
      continue
    }
    const missing = issue.code === 'invalid_type' && /received undefined/.test(issue.message)
    const where = missing ? path.slice(0, -1) : path
    const typed = !missing && typedValueAt(src, path)
    out.push({
      severity: 'error',
      code: missing ? 'MISSING_FIELD' : 'INVALID_VALUE',
      message: missing
        ? `missing required field "${String(path.at(-1))}"`
        : typed
          ? typed.message
          : expectation(issue),
      path: typed ? typed.path : path,
      position: src.position(typed ? typed.path : where),
      hint: missing ? `add "${String(path.at(-1))}:" here` : typed ? typed.hint : undefined,
    } as PolicyIssue)
  }
  return out
}

/** Names other languages give Remit's types. */
const TYPE_ALIASES: Record<string, string> = {
  bool: 'boolean',
  int: 'number',
  integer: 'number',
  float: 'number',
  double: 'number',
  decimal: 'number',
  str: 'string',
  text: 'string',
  date: 'timestamp',
  datetime: 'timestamp',
  time: 'timestamp',
  array: 'list',
}

/**
 * A fact's or an attribute's type that is not one (`type: bool`, `tier: strng`): named with the
 * valid types, and the nearest one. Undefined when `path` is not such a declaration.
 */
function typedValueAt(
  src: PolicySource,
  path: (string | number)[],
): { message: string; path: (string | number)[]; hint: string } | undefined {
  const declaration =
    (path.length === 2 && path[0] === 'facts') ||
    (path.length === 4 && path[0] === 'actions' && path[2] === 'attributes')
  if (!declaration) return undefined
  const node = src.nodeAt(path)
  const value = node && 'toJSON' in node ? (node as { toJSON(): unknown }).toJSON() : undefined
  const given = typeof value === 'string' ? value : (value as { type?: unknown } | undefined)?.type
  const at = typeof value === 'string' ? path : [...path, 'type']
  const valid = valueTypes.join(', ')
  if (typeof given !== 'string') {
    return {
      message: `expected a type (${valid}) or { type, enum?, optional?, description? }`,
      path,
      hint: 'e.g. tier: { type: string, enum: [smb, enterprise] }',
    }
  }
  if ((valueTypes as readonly string[]).includes(given)) return undefined // something else is wrong
  const near =
    TYPE_ALIASES[given.toLowerCase()] ??
    valueTypes.find((t) => t.startsWith(given.toLowerCase())) ??
    closest(given, valueTypes)
  return {
    message: `unknown type "${given}": the types are ${valid}`,
    path: at,
    hint: near ? `did you mean "${near}"?` : `use one of ${valid}`, // aliases first, then the nearest
  }
}

function expectation(issue: z.core.$ZodIssue): string {
  if (issue.code === 'invalid_union') return 'expected a name or a list of names'
  if (issue.code === 'invalid_value') {
    return `expected one of ${issue.values.map((v) => JSON.stringify(v)).join(', ')}`
  }
  return issue.message.replace(/^Invalid input: /, '')
}

/** Keys a strict object at `path` accepts, for "did you mean" hints. */
function knownKeys(path: (string | number)[]): string[] {
  const top = Object.keys(policySchema.shape)
  if (path.length === 0) return top
  const head = path[0]
  const list: Record<string, string[]> = {
    stops: ['id', ...scopeKeys, 'when', 'message'],
    permissions: ['id', ...scopeKeys, 'when', 'message'],
    triggers: ['id', ...scopeKeys, 'when', 'then', 'until', 'notify', 'message'],
    limits: ['id', ...scopeKeys, 'max', 'per', 'scope', 'then', 'when', 'message'],
    ownership: ['id', 'when', 'owner', 'then', 'message'],
    review: ['defaultTeam', 'expiresAfter', 'onExpiry'],
    ledger: ['lookback'],
  }
  if (typeof head === 'string' && Object.hasOwn(list, head)) return list[head] as string[]
  if (head === 'agents') return ['team', 'tools', 'description']
  if (head === 'teams') return ['reviewCapacityPerDay', 'description']
  if (head === 'facts') return ['type', 'enum', 'optional', 'description']
  if (head === 'actions') {
    return path.length > 3
      ? ['type', 'enum', 'optional', 'description']
      : ['channel', 'outbound', 'commitment', 'commitmentLasts', 'attributes', 'description']
  }
  return []
}

function celHint(message: string, doc: PolicyDocument, attributes: Record<string, TypedValue>): string {
  const key = /No such key: (\w+)/.exec(message)?.[1]
  if (key) {
    const names = [
      ...Object.keys(doc.facts),
      ...Object.keys(attributes),
      'id',
      'accountId',
      'contactId',
      'email',
    ]
    return (
      didYouMean(key, names) ??
      `declare it under facts: (customer.${key}) or under the action's attributes: (action.${key})`
    )
  }
  if (/Unknown variable/.test(message)) {
    return 'rules can read agent, action, customer, touches, commitments and now'
  }
  if (/no such overload/.test(message)) {
    return 'the two sides have different types: compare numbers with numbers (15.0), strings with quoted strings, times with now and duration("48h")'
  }
  return 'see the CEL language definition; conditions must yield true or false'
}

function sortIssues(issues: PolicyIssue[]): PolicyIssue[] {
  return issues
    .map((issue, i) => ({ issue, i }))
    .sort(
      (x, y) =>
        (x.issue.position?.line ?? 0) - (y.issue.position?.line ?? 0) ||
        (x.issue.position?.column ?? 0) - (y.issue.position?.column ?? 0) ||
        x.i - y.i,
    )
    .map((x) => x.issue)
}
