import { parseDuration } from '@remit/core'
import { closest } from '@remit/core/internal'
import { type Document, isMap, isScalar, LineCounter, type Node, parseDocument } from 'yaml'
import { z } from 'zod'

// The `*.test.yaml` format of `remit test`, and reading it so that a malformed case fails alone,
// named by file:line:col, while the others in the file still run.
//   policy: remit.yaml            # optional; default ./remit.yaml beside the test file
//   tests:
//     - name: a renewal's positioning e-mail is flagged to sales
//       agent: marketing-agent    # or tool: hubspot:workflow/1001
//       action: { kind: email.positioning }
//       customer: { accountId: acme, facts: { lifecycle: renewal, tier: enterprise } }
//       touches: [{ kind: call, team: sales, at: "2026-04-09T15:00:00Z", outbound: false }]
//       commitments: [{ kind: discount, value: { discountPct: 10 }, agent: sales-agent }]
//       suppressions: [{ email: pat@acme.com, channel: email, reason: unsubscribe }]
//       at: "2026-04-10T10:00:00Z"
//       expect: { verdict: flag, rules: [renewal-flag], reviewTeam: sales, notify: [], retryAfter: 72h }

const ISO_TIME = /^\d{4}-\d{2}-\d{2}([T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})?)?$/i
const isTime = (s: string) => ISO_TIME.test(s) && !Number.isNaN(Date.parse(s))
const time = z.string().refine(isTime, 'expected an ISO 8601 time such as 2026-04-10T10:00:00Z')
/** An ISO time, or a duration (`72h`, `3d`) after a base time. */
const timeOrDuration = z
  .string()
  .refine(
    (s) => parseDuration(s) !== undefined || isTime(s),
    "expected an ISO 8601 time such as 2026-04-13T10:00:00Z, or a duration after the case's `at` such as 72h or 3d",
  )

const touchSchema = z.strictObject({
  kind: z.string(),
  /** Default: the case's `at`. */
  at: time.optional(),
  /** Default: the case's customer. */
  accountId: z.string().optional(),
  contactId: z.string().optional(),
  email: z.string().optional(),
  team: z.string().optional(),
  agent: z.string().optional(),
  tool: z.string().optional(),
  channel: z.string().optional(),
  outbound: z.boolean().optional(),
  note: z.string().optional(),
  externalId: z.string().optional(),
  /** The action's attributes, as distinct and sum limits and `t.attributes` read them. */
  attributes: z.record(z.string(), z.unknown()).optional(),
})

const commitmentSchema = z
  .strictObject({
    kind: z.string(),
    value: z.record(z.string(), z.unknown()).default({}),
    /** Who made it; `team` defaults to the agent's team. */
    agent: z.string().optional(),
    team: z.string().optional(),
    contactId: z.string().optional(),
    /** Default: the case's `at`. */
    at: time.optional(),
    /** An ISO time, or a duration after the commitment's `at`; absent: it never lapses. */
    expiresAt: timeOrDuration.optional(),
  })
  .refine((c) => c.agent !== undefined || c.team !== undefined, {
    message: 'name who made it: agent (its team is the default team) or team',
    path: ['agent'],
  })

const suppressionSchema = z.strictObject({
  /** Default: the case's customer (with neither contactId nor email: the whole account). */
  accountId: z.string().optional(),
  contactId: z.string().optional(),
  email: z.string().optional(),
  /** Only this channel; absent: every channel. */
  channel: z.string().optional(),
  reason: z.string().default('manual'),
  source: z.string().default('remit test'),
})

export const caseSchema = z.strictObject({
  name: z.string(),
  agent: z.string().optional(),
  tool: z.string().optional(),
  action: z.object({ kind: z.string() }).catchall(z.unknown()),
  customer: z.strictObject({
    accountId: z.string().optional(),
    contactId: z.string().optional(),
    email: z.string().optional(),
    facts: z.record(z.string(), z.unknown()).optional(),
  }),
  touches: z.array(touchSchema).default([]),
  commitments: z.array(commitmentSchema).default([]),
  suppressions: z.array(suppressionSchema).default([]),
  at: time.optional(),
  expect: z.strictObject({
    verdict: z.enum(['go', 'flag', 'stop']),
    rules: z.array(z.string()).optional(),
    notRules: z.array(z.string()).optional(),
    /** An ISO time, or a duration after the case's `at`. */
    retryAfter: timeOrDuration.optional(),
    reviewTeam: z.string().optional(),
    /** The exact set of names told. */
    notify: z.array(z.string()).optional(),
  }),
})
export type TestCase = z.infer<typeof caseSchema>

const fileSchema = z.strictObject({
  policy: z.string().optional(),
  tests: z.array(z.unknown()).min(1, 'expected at least one case under tests'),
})

type Path = readonly (string | number)[]

/** One case of a test file: parsed, or what is wrong with it, positioned. */
export type CaseEntry =
  | { ok: true; index: number; name: string; case: TestCase }
  | { ok: false; index: number; name: string; problems: string[] }

export interface TestFile {
  policy: string | undefined
  cases: CaseEntry[]
  /** `file:line:col` of the node at `path` in case `index` (or its nearest ancestor that is there). */
  where(index: number, path: Path): string
}

/** A test file's text as cases; `{ error }` (positioned) when the file as a whole cannot be read. */
export function readTestFile(text: string, file: string): TestFile | { error: string } {
  const lines = new LineCounter()
  const doc = parseDocument(text, { lineCounter: lines, prettyErrors: false })
  const at = (offset: number) => {
    const { line, col } = lines.linePos(offset)
    return `${file}:${line}:${col}`
  }
  const syntax = doc.errors[0]
  if (syntax) return { error: `${at(syntax.pos[0])}: ${syntax.message.split('\n')[0]}` }
  const whereIn = (path: Path) => at(offsetOf(doc, path))

  const top = fileSchema.safeParse(doc.toJS())
  if (!top.success) {
    // An unknown key first: a misspelt `tests` is also a missing one.
    const issues = top.error.issues
    const issue = (issues.find((i) => i.code === 'unrecognized_keys') ?? issues[0]) as z.core.$ZodIssue
    return { error: explain(doc, [], issue, whereIn, fileSchema)[0] as string }
  }
  const cases = top.data.tests.map((raw, index): CaseEntry => {
    const item = doc.getIn(['tests', index], true) as Node | undefined
    const named = isMap(item) ? item.get('name') : undefined
    const name = typeof named === 'string' && named ? named : `tests[${index}]`
    const parsed = caseSchema.safeParse(raw)
    if (parsed.success) return { ok: true, index, name, case: parsed.data }
    return {
      ok: false,
      index,
      name,
      problems: ordered(parsed.error.issues).flatMap((issue) =>
        explain(doc, ['tests', index], issue, whereIn, caseSchema),
      ),
    }
  })
  return { policy: top.data.policy, cases, where: (index, path) => whereIn(['tests', index, ...path]) }
}

/**
 * Unknown keys first (they often explain the rest); a missing key that an unknown one misspells
 * (`expct` for `expect`) is said once, as the unknown key with its "did you mean".
 */
function ordered(issues: z.core.$ZodIssue[]): z.core.$ZodIssue[] {
  const at = (path: PropertyKey[]) => path.map(String).join('\0')
  const misspelt = new Set<string>()
  for (const i of issues) {
    if (i.code !== 'unrecognized_keys') continue
    const known = keysAt(
      caseSchema,
      i.path.map((p) => (typeof p === 'symbol' ? String(p) : p)),
    )
    for (const key of i.keys) {
      const near = closest(key, known)
      if (near) misspelt.add(at([...i.path, near]))
    }
  }
  const unknown = issues.filter((i) => i.code === 'unrecognized_keys')
  const rest = issues.filter(
    (i) =>
      i.code !== 'unrecognized_keys' &&
      !(i.code === 'invalid_type' && /received undefined/.test(i.message) && misspelt.has(at(i.path))),
  )
  return [...unknown, ...rest]
}

/** Where `path` is: the key naming it in its map (or the item, in a list), else its nearest ancestor. */
function offsetOf(doc: Document, path: Path): number {
  for (let n = path.length; n > 0; n--) {
    const parent = doc.getIn(path.slice(0, n - 1), true)
    const last = path[n - 1]
    if (isMap(parent)) {
      const pair = parent.items.find((p) => isScalar(p.key) && p.key.value === last)
      if (pair && isScalar(pair.key) && pair.key.range) return pair.key.range[0]
    } else {
      const node = doc.getIn(path.slice(0, n), true) as Node | undefined
      if (node && typeof node === 'object' && node.range) return node.range[0]
    }
  }
  const root = doc.contents as Node | null
  return root?.range?.[0] ?? 0
}

/** A zod issue in the author's terms, with file:line:col: `x.yaml:9:7: expect.verdict: expected …`. */
function explain(
  doc: Document,
  base: Path,
  issue: z.core.$ZodIssue,
  whereIn: (path: Path) => string,
  schema: z.ZodType,
): string[] {
  const path = issue.path.map((p) => (typeof p === 'symbol' ? String(p) : p))
  const dotted = (p: Path) =>
    p
      .map((s) => (typeof s === 'number' ? `[${s}]` : `.${s}`))
      .join('')
      .replace(/^\./, '')
  if (issue.code === 'unrecognized_keys') {
    const known = keysAt(schema, path)
    return issue.keys.map((key) => {
      const near = closest(key, known)
      const hint = near ? `did you mean "${near}"?` : `expected one of: ${known.join(', ')}`
      const inside = path.length ? ` in ${dotted(path)}` : ''
      return `${whereIn([...base, ...path, key])}: unknown key "${key}"${inside} (${hint})`
    })
  }
  const value = doc.getIn([...base, ...path])
  const got = value === undefined ? undefined : JSON.stringify(value)
  const prefix = path.length ? `${dotted(path)}: ` : ''
  if (issue.code === 'invalid_type' && value === undefined && !doc.hasIn([...base, ...path]))
    return [
      `${whereIn([...base, ...path.slice(0, -1)])}: missing required key "${String(path.at(-1) ?? '')}"`,
    ]
  let message: string
  if (issue.code === 'invalid_type') message = `expected ${issue.expected}, got ${got}`
  else if (issue.code === 'invalid_value')
    message = `expected one of ${issue.values.map(String).join(', ')}, got ${got}`
  else if (issue.code === 'custom' && got !== undefined) message = `${issue.message}, got ${got}`
  else message = issue.message
  return [`${whereIn([...base, ...path])}: ${prefix}${message}`]
}

/** The keys the object schema at `path` accepts (for "did you mean"). */
function keysAt(schema: z.ZodType, path: Path): string[] {
  let s: unknown = schema
  const def = (x: unknown) => (x as { _zod: { def: Record<string, unknown> } })._zod.def
  const unwrap = () => {
    for (;;) {
      const d = def(s)
      if (d.innerType) s = d.innerType
      else if (d.type === 'pipe') s = d.in
      else return d
    }
  }
  for (const step of path) {
    const d = unwrap()
    if (d.type === 'array') s = d.element
    else if (d.type === 'object') s = (d.shape as Record<string, unknown>)[String(step)]
    else if (d.type === 'record') s = d.valueType
    else return []
    if (!s) return []
  }
  const d = unwrap()
  return d.type === 'object' ? Object.keys(d.shape as Record<string, unknown>) : []
}
