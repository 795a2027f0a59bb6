import { parseDays, parseRange } from '../evaluate/windows.ts'
import { parseDuration } from '../time/duration.ts'
import type { CompiledExpression } from './cel.ts'
import type { CompileExpression, RuleDoc } from './load-model.ts'
import type {
  CompiledLimit,
  CompiledOwnership,
  CompiledPermission,
  CompiledRule,
  CompiledStop,
  CompiledTrigger,
  CompiledWindow,
  MinuteRange,
  Scope,
} from './model.ts'
import type { PolicyDocument, RuleSort, WindowRule } from './schema.ts'
import type { PolicySource } from './source.ts'

/**
 * Every rule of the document, compiled, list by list. An expression that does not compile is left
 * undefined: `compile` has recorded the error, and a policy with errors is never assembled, so the
 * rules that require a condition may say they have one.
 */
export function compileRules(
  src: PolicySource,
  doc: PolicyDocument,
  compile: CompileExpression,
): CompiledRule[] {
  const common = <S extends RuleSort>(sort: S, list: string, index: number, r: RuleDoc) => ({
    id: r.id,
    sort,
    message: r.message,
    scope: resolveScope(r),
    when: r.when ? compile([list, index, 'when'], r.id, r.when, 'bool') : undefined,
    readsLedger: readsLedger(r.when),
    position: src.position([list, index]),
  })
  // Triggers and ownership rules cannot be written without a condition.
  const conditional = <S extends RuleSort>(sort: S, list: string, index: number, r: RuleDoc) => {
    const rule = common(sort, list, index, r)
    return { ...rule, when: rule.when as CompiledExpression }
  }
  return [
    ...doc.stops.map((r, i): CompiledStop => common('stop', 'stops', i, r)),
    ...doc.triggers.map((r, i): CompiledTrigger => {
      const until = r.until
        ? compile(['triggers', i, 'until'], r.id, r.until, 'google.protobuf.Timestamp')
        : undefined
      const rule = conditional('trigger', 'triggers', i, r)
      return {
        ...rule,
        then: r.then,
        until,
        notify: r.notify,
        readsLedger: rule.readsLedger || readsLedger(r.until),
      }
    }),
    ...doc.limits.map(
      (r, i): CompiledLimit => ({
        ...common('limit', 'limits', i, r),
        max: r.max,
        per: r.per,
        perMs: parseDuration(r.per) ?? CALENDAR_SPAN[r.per] ?? 0,
        limitScope: r.scope,
        then: r.then,
        ...(r.except ? { except: resolveScope(r.except) } : {}),
        ...(r.per.startsWith('calendar-') && r.zone
          ? {
              calendar: {
                period: r.per.slice('calendar-'.length) as NonNullable<CompiledLimit['calendar']>['period'],
                zone: r.zone,
              },
            }
          : {}),
        ...(r.distinct ? { distinct: r.distinct } : {}),
        ...(r.sum ? { sum: r.sum } : {}),
        ...(r.reserve ? { reserve: { slots: r.reserve.slots, minPriority: r.reserve.minPriority } } : {}),
      }),
    ),
    ...doc.windows.map((r, i): CompiledWindow => compileWindow(common('window', 'windows', i, r), r)),
    ...doc.ownership.map(
      (r, i): CompiledOwnership => ({
        ...conditional('ownership', 'ownership', i, r),
        owner: r.owner,
        then: r.then,
      }),
    ),
    ...doc.permissions.map((r, i): CompiledPermission => common('permission', 'permissions', i, r)),
  ]
}

const DAY = 86400e3
/** The longest each calendar period can be, with a day's slack for clock changes: how far back the ledger reaches. */
const CALENDAR_SPAN: Record<string, number> = {
  'calendar-day': 2 * DAY,
  'calendar-week': 8 * DAY,
  'calendar-month': 32 * DAY,
  'calendar-quarter': 93 * DAY,
}

/** A window's days, hours and zone, already checked by `windowIssues`. */
function compileWindow(
  base: Omit<CompiledWindow, 'days' | 'describe' | 'when'> & { when: unknown },
  r: WindowRule,
): CompiledWindow {
  const list = (v: string | string[] | undefined) => (v === undefined ? [] : Array.isArray(v) ? v : [v])
  const ranges = (v: string | string[] | undefined) => list(v).map((t) => parseRange(t) as MinuteRange)
  const days = r.days === undefined ? [0, 1, 2, 3, 4, 5, 6] : list(r.days).flatMap((d) => parseDays(d) ?? [])
  const zoneFact = r.zone?.replace(/^customer\./, '')
  const describe = [
    r.days === undefined ? 'every day' : list(r.days).join(','),
    ...list(r.hours),
    ...list(r.quiet).map((q) => `quiet ${q}`),
  ].join(' ')
  return {
    ...base,
    when: undefined,
    days: new Set(days),
    ...(r.hours === undefined ? {} : { hours: ranges(r.hours) }),
    ...(r.quiet === undefined ? {} : { quiet: ranges(r.quiet) }),
    ...(zoneFact === undefined ? {} : { zoneFact }),
    ...(r.defaultZone === undefined ? {} : { defaultZone: r.defaultZone }),
    ...(r.except ? { except: resolveScope(r.except) } : {}),
    describe,
  }
}

/** A rule's selectors as sets; a selector the rule leaves out stays absent, and so matches anything. */
function resolveScope(r: Omit<RuleDoc, 'id'>): Scope {
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

/** Read from the text, so the evaluator builds the ledger's lists only for rules that might use them. */
function readsLedger(expr: string | undefined): boolean {
  return expr !== undefined && /\b(touches|commitments|suppressions)\b/.test(expr)
}
