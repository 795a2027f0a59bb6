import type { PolicyIssue } from '../errors.ts'
import { DAY_NAMES, parseDays, parseRange } from '../evaluate/windows.ts'
import { isTimeZone, timeZoneHint } from '../time/zone.ts'
import type { Attributes, PolicyPath, RuleDoc } from './load-model.ts'
import type { PolicyDocument } from './schema.ts'
import type { PolicySource } from './source.ts'
import { closest, didYouMean } from './suggest.ts'

// What the schema cannot check: that names refer to things the policy declares, once each.

const RULE_LISTS = ['stops', 'triggers', 'limits', 'windows', 'ownership', 'permissions'] as const

/** Where each kind of name a rule can refer to is declared. */
const DECLARED_IN = { team: 'teams', agent: 'agents', 'action kind': 'actions' } as const
type NameKind = keyof typeof DECLARED_IN

/** Unknown agents, teams and action kinds, duplicate ids and tools: errors with positions. */
export function referenceIssues(src: PolicySource, doc: PolicyDocument): PolicyIssue[] {
  return [
    ...agentIssues(src, doc),
    ...unknownName(src, doc, 'team', doc.review.defaultTeam, ['review', 'defaultTeam']),
    ...duplicateRuleIds(src, doc),
    ...RULE_LISTS.flatMap((list) =>
      doc[list].flatMap((rule: RuleDoc, i: number) => ruleReferenceIssues(src, doc, rule, [list, i])),
    ),
    ...doc.windows.flatMap((_, i) => windowIssues(src, doc, i)),
    ...doc.limits.flatMap((_, i) => limitIssues(src, doc, i)),
    ...Object.keys(doc.actions).flatMap((kind) => changeableIssues(src, doc, kind)),
  ]
}

/** `reviewerMayChange` names attributes of its own action kind, once each. */
function changeableIssues(src: PolicySource, doc: PolicyDocument, kind: string): PolicyIssue[] {
  const action = doc.actions[kind] as PolicyDocument['actions'][string]
  const declared = Object.keys(action.attributes)
  const issues: PolicyIssue[] = []
  for (const [i, attribute] of (action.reviewerMayChange ?? []).entries()) {
    const path = ['actions', kind, 'reviewerMayChange', i]
    const position = src.position(path) ?? src.position(['actions', kind])
    if (!Object.hasOwn(action.attributes, attribute))
      issues.push({
        severity: 'error',
        code: 'UNKNOWN_ATTRIBUTE',
        message: `reviewerMayChange names "${attribute}", which is not an attribute of ${kind}`,
        path,
        position,
        hint: declared.length
          ? `${(didYouMean(attribute, declared) ?? '').concat(' ')}${kind}'s attributes: ${declared.join(', ')}`.trim()
          : `${kind} declares no attributes: declare it under actions.${kind}.attributes first`,
      })
    else if (action.reviewerMayChange?.indexOf(attribute) !== i)
      issues.push({
        severity: 'error',
        code: 'DUPLICATE_NAME',
        message: `reviewerMayChange names "${attribute}" twice`,
        path,
        position,
        hint: 'name each attribute once',
      })
  }
  return issues
}

/** The action kinds a limit applies to: those its scope selects (by kind, channel, outbound) and its except does not. */
function limitKinds(doc: PolicyDocument, l: PolicyDocument['limits'][number]): string[] {
  const has = (v: string | string[] | undefined, x: string) =>
    v === undefined || (Array.isArray(v) ? v.includes(x) : v === x)
  return Object.entries(doc.actions)
    .filter(([kind, a]) => {
      const selected = (r: { action?: string | string[]; channel?: string | string[]; outbound?: boolean }) =>
        has(r.action, kind) &&
        has(r.channel, a.channel) &&
        (r.outbound === undefined || r.outbound === a.outbound)
      // An except naming agents or teams exempts only some of a kind's actions: the kind still applies.
      const e = l.except
      const exempt = e && e.agent === undefined && e.team === undefined && selected(e)
      return selected(l) && !exempt
    })
    .map(([kind]) => kind)
}

/** A limit's calendar period and zone, and the attribute it counts distinct values of or sums. */
function limitIssues(src: PolicySource, doc: PolicyDocument, i: number): PolicyIssue[] {
  const l = doc.limits[i] as PolicyDocument['limits'][number]
  const issues: PolicyIssue[] = []
  const at = ['limits', i]
  const issue = (path: PolicyPath, code: string, message: string, hint: string) =>
    issues.push({
      severity: 'error',
      code,
      message,
      path,
      rule: l.id,
      position: src.position(path) ?? src.position(at),
      hint,
    })
  const calendar = l.per.startsWith('calendar-')
  if (calendar && l.zone === undefined)
    issue(
      [...at, 'per'],
      'LIMIT_ZONE',
      `limit "${l.id}" counts per ${l.per}: zone is required`,
      'add zone: with an IANA zone, e.g. zone: Europe/Paris',
    )
  if (l.zone !== undefined && !calendar)
    issue(
      [...at, 'zone'],
      'LIMIT_ZONE',
      `limit "${l.id}" has a zone but counts per ${l.per}, a rolling duration`,
      'remove zone:, or count per calendar-day, calendar-week, calendar-month or calendar-quarter',
    )
  if (l.zone !== undefined && !isTimeZone(l.zone))
    issue([...at, 'zone'], 'UNKNOWN_ZONE', `"${l.zone}" is not a time zone`, timeZoneHint(l.zone))
  if (l.distinct !== undefined && l.sum !== undefined)
    issue(
      [...at, 'sum'],
      'LIMIT_DISTINCT_SUM',
      `limit "${l.id}" has both distinct and sum`,
      'a limit counts distinct values or sums one attribute: split it into two limits',
    )
  if (l.reserve !== undefined && l.sum !== undefined)
    issue(
      [...at, 'reserve'],
      'LIMIT_RESERVE',
      `limit "${l.id}" sums ${l.sum}: reserve keeps slots, and a budget has none`,
      'reserve is not supported with sum: to keep part of a budget for the actions that matter more, add a second, smaller sum limit scoped (action:) to the others',
    )
  else if (l.reserve !== undefined && l.reserve.slots >= l.max)
    issue(
      [...at, 'reserve', 'slots'],
      'LIMIT_RESERVE',
      `limit "${l.id}" reserves ${l.reserve.slots} of its max ${l.max} ${l.distinct === undefined ? 'slots' : `distinct ${l.distinct}`}: it must keep fewer than max`,
      `lower reserve.slots below ${l.max}, or raise max: a reserve keeps some of the window for higher priorities and leaves the rest to all`,
    )
  for (const key of ['distinct', 'sum'] as const) {
    const name = l[key]
    if (name === undefined) continue
    for (const kind of limitKinds(doc, l)) {
      const attrs = (doc.actions[kind] as PolicyDocument['actions'][string]).attributes
      const declared = Object.hasOwn(attrs, name) ? attrs[name] : undefined
      if (!declared) {
        issue(
          [...at, key],
          'LIMIT_ATTRIBUTE',
          `limit "${l.id}" ${key === 'sum' ? 'sums' : 'counts distinct'} attribute "${name}", which action ${kind} does not declare`,
          `declare ${name} on ${kind}, or narrow the limit's scope (action:) to kinds that do`,
        )
        break
      }
      if (key === 'sum' && declared.type !== 'number') {
        issue(
          [...at, key],
          'LIMIT_ATTRIBUTE',
          `limit "${l.id}" sums attribute "${name}", which is a ${declared.type} on ${kind}, not a number`,
          'sum a number attribute',
        )
        break
      }
    }
  }
  return issues
}

/** A window's days, hours, quiet hours and zones: errors at each value, with what it should be. */
function windowIssues(src: PolicySource, doc: PolicyDocument, i: number): PolicyIssue[] {
  const w = doc.windows[i] as PolicyDocument['windows'][number]
  const issues: PolicyIssue[] = []
  const at = ['windows', i]
  const issue = (path: PolicyPath, code: string, message: string, hint: string) =>
    issues.push({
      severity: 'error',
      code,
      message,
      path,
      rule: w.id,
      position: src.position(path) ?? src.position(at),
      hint,
    })
  // A single value is at the key itself; a list's values are at their indexes.
  const each = (key: 'days' | 'hours' | 'quiet') => {
    const v = w[key]
    if (v === undefined) return []
    return Array.isArray(v)
      ? v.map((text, j) => ({ text, path: [...at, key, j] }))
      : [{ text: v, path: [...at, key] }]
  }
  for (const { text, path } of each('days')) {
    if (parseDays(text)) continue
    const meant = closest(text.toLowerCase().slice(0, 3), DAY_NAMES)
    issue(
      path,
      'WINDOW_DAYS',
      `"${text}" is not a day or a range of days`,
      `${meant && meant !== text ? `did you mean "${meant}"? ` : ''}days are mon, tue, wed, thu, fri, sat, sun, or a range such as mon-fri`,
    )
  }
  for (const key of ['hours', 'quiet'] as const) {
    for (const { text, path } of each(key)) {
      const r = parseRange(String(text))
      if (typeof r === 'string')
        issue(
          path,
          'WINDOW_HOURS',
          r,
          key === 'hours'
            ? 'open hours are HH:MM-HH:MM in local time, e.g. 08:00-20:00; 22:00-02:00 runs past midnight; 00:00-24:00 is all day (or leave hours out)'
            : 'quiet hours are HH:MM-HH:MM in local time, e.g. 21:00-09:00 (past midnight)',
        )
    }
  }
  if (w.hours !== undefined && w.quiet !== undefined)
    issue(
      [...at, 'quiet'],
      'WINDOW_HOURS_AND_QUIET',
      `window "${w.id}" has both hours and quiet`,
      'give the hours it is open (hours:) or the hours it is shut (quiet:), not both',
    )
  if (w.days === undefined && w.hours === undefined && w.quiet === undefined)
    issue(
      at,
      'WINDOW_ALWAYS_OPEN',
      `window "${w.id}" names no days, hours or quiet hours: it is always open`,
      'add days: (e.g. mon-fri), hours: (e.g. 08:00-20:00) or quiet: (e.g. 21:00-09:00)',
    )
  let optional = true
  if (w.zone !== undefined) {
    const name = /^customer\.([A-Za-z_]\w*)$/.exec(w.zone)?.[1]
    const fact = name === undefined ? undefined : doc.facts[name]
    const strings = Object.entries(doc.facts).filter(([, f]) => f.type === 'string')
    const named = strings.map(([n]) => `customer.${n}`)
    if (!name || !fact || !Object.hasOwn(doc.facts, name))
      issue(
        [...at, 'zone'],
        'WINDOW_ZONE',
        `zone "${w.zone}" is not a declared fact`,
        `${(didYouMean(w.zone, named) ?? '').concat(' ')}zone names the string fact holding the customer's IANA zone, e.g. customer.timeZone (declared under facts:); for one zone for everyone, give defaultZone: alone`.trim(),
      )
    else if (fact.type !== 'string')
      issue(
        [...at, 'zone'],
        'WINDOW_ZONE',
        `zone fact "${name}" is ${fact.type}, not string`,
        'the fact holds an IANA zone name such as "Europe/Paris": declare it as string',
      )
    else {
      optional = fact.optional
      for (const value of fact.enum ?? [])
        if (!isTimeZone(value))
          issue(
            [...at, 'zone'],
            'UNKNOWN_ZONE',
            `fact "${name}" allows "${value}", which is not a time zone`,
            timeZoneHint(value),
          )
    }
  }
  if (w.defaultZone !== undefined && !isTimeZone(w.defaultZone))
    issue(
      [...at, 'defaultZone'],
      'UNKNOWN_ZONE',
      `"${w.defaultZone}" is not a time zone`,
      timeZoneHint(w.defaultZone),
    )
  if (w.defaultZone === undefined && optional)
    issue(
      at,
      'WINDOW_DEFAULT_ZONE',
      w.zone === undefined
        ? `window "${w.id}" has no zone: defaultZone is required`
        : `window "${w.id}" reads optional fact ${w.zone}: defaultZone is required for customers without one`,
      'add defaultZone: with an IANA zone, e.g. defaultZone: Europe/Paris',
    )
  return issues
}

/** An agent's team must exist, and a tool identifies one agent only. */
function agentIssues(src: PolicySource, doc: PolicyDocument): PolicyIssue[] {
  const issues: PolicyIssue[] = []
  const claimedBy = new Map<string, string>()
  for (const [id, a] of Object.entries(doc.agents)) {
    issues.push(...unknownName(src, doc, 'team', a.team, ['agents', id, 'team']))
    a.tools.forEach((tool, i) => {
      const other = claimedBy.get(tool)
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
      claimedBy.set(tool, id)
    })
  }
  return issues
}

/** Reported at the later one in the file, the one the author most likely just added. */
function duplicateRuleIds(src: PolicySource, doc: PolicyDocument): PolicyIssue[] {
  const inFileOrder = RULE_LISTS.flatMap((list) =>
    doc[list].map((rule: RuleDoc, i: number) => ({
      list,
      i,
      id: rule.id,
      line: src.position([list, i])?.line ?? 0,
    })),
  ).sort((a, b) => a.line - b.line)
  const issues: PolicyIssue[] = []
  const listOf = new Map<string, string>()
  for (const r of inFileOrder) {
    const seen = listOf.get(r.id)
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
    listOf.set(r.id, r.list)
  }
  return issues
}

/** The agents, teams and action kinds a rule's scope, owner and notify list name. */
function ruleReferenceIssues(
  src: PolicySource,
  doc: PolicyDocument,
  rule: RuleDoc & { owner?: string; notify?: string[]; except?: Omit<RuleDoc, 'id'> },
  at: PolicyPath,
): PolicyIssue[] {
  // A scope's names, and a limit's `except`, which names actions the same way.
  const selector = (key: 'agent' | 'team' | 'action', what: NameKind, within: PolicyPath = []) => {
    const v = within.length ? rule.except?.[key] : rule[key]
    if (v === undefined) return []
    const base = [...at, ...within, key]
    // A single name is at the key itself; a list's names are at their indexes.
    const named = Array.isArray(v)
      ? v.map((name, j) => ({ name, path: [...base, j] }))
      : [{ name: v as string, path: base }]
    return named.flatMap(({ name, path }) => unknownName(src, doc, what, name, path, rule.id))
  }
  return [
    ...selector('agent', 'agent'),
    ...selector('team', 'team'),
    ...selector('action', 'action kind'),
    ...selector('agent', 'agent', ['except']),
    ...selector('team', 'team', ['except']),
    ...selector('action', 'action kind', ['except']),
    ...(rule.owner === undefined ? [] : unknownName(src, doc, 'team', rule.owner, [...at, 'owner'], rule.id)),
    ...(rule.notify ?? []).flatMap((t, j) => unknownName(src, doc, 'team', t, [...at, 'notify', j], rule.id)),
  ]
}

/** An error when `name` is not declared, hinting at the nearest declared name or listing them all. */
function unknownName(
  src: PolicySource,
  doc: PolicyDocument,
  what: NameKind,
  name: string,
  path: PolicyPath,
  rule?: string,
): PolicyIssue[] {
  const declared = doc[DECLARED_IN[what]]
  if (Object.hasOwn(declared, name)) return []
  const known = Object.keys(declared)
  return [
    {
      severity: 'error',
      code: `UNKNOWN_${what.toUpperCase().replace(/ /g, '_')}`,
      message: `unknown ${what} "${name}"`,
      path,
      ...(rule ? { rule } : {}),
      position: src.position(path),
      hint: didYouMean(name, known) ?? `declared ${what}s: ${known.join(', ') || 'none'}`,
    },
  ]
}

/** Action fields Remit sets itself, which an attribute of the same name would hide. */
const SET_BY_REMIT = ['kind', 'channel', 'outbound', 'commitment']

/**
 * Action attributes share one namespace in CEL (`action.<name>`): a name must have one type. Gives
 * the attributes that are usable, and errors for the rest.
 */
export function collectAttributes(
  src: PolicySource,
  doc: PolicyDocument,
): { attributes: Attributes; issues: PolicyIssue[] } {
  // Without a prototype, so that looking up an undeclared name finds nothing.
  const attributes: Attributes = Object.create(null)
  const declaredBy = new Map<string, string>()
  const issues: PolicyIssue[] = []
  const conflict = (kind: string, name: string, code: string, message: string, hint: string) =>
    issues.push({
      severity: 'error',
      code,
      message,
      path: ['actions', kind, 'attributes', name],
      position: src.keyPosition(['actions', kind, 'attributes'], name),
      hint,
    })
  for (const [kind, action] of Object.entries(doc.actions)) {
    for (const [name, t] of Object.entries(action.attributes)) {
      const prior = attributes[name]
      if (SET_BY_REMIT.includes(name)) {
        conflict(
          kind,
          name,
          'RESERVED_ATTRIBUTE',
          `attribute "${name}" is reserved: action.${name} is set by Remit`,
          'rename the attribute',
        )
      } else if (prior && prior.type !== t.type) {
        conflict(
          kind,
          name,
          'ATTRIBUTE_TYPE_CONFLICT',
          `attribute "${name}" is ${t.type} here but ${prior.type} in action "${declaredBy.get(name)}"`,
          'an attribute name has one type across all action kinds',
        )
      } else {
        attributes[name] = t
        declaredBy.set(name, kind)
      }
    }
  }
  return { attributes, issues }
}
