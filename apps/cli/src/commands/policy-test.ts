import { randomUUID } from 'node:crypto'
import { watch } from 'node:fs'
import { readdir, readFile } from 'node:fs/promises'
import { dirname, join, relative, resolve } from 'node:path'
import {
  type Commitment,
  type Decision,
  InputError,
  loadPolicyFile,
  openRemit,
  openSqliteStore,
  type Policy,
  parseDuration,
  type Store,
  type TouchInput,
} from '@remit/core'
import { resolveCaller } from '@remit/core/internal'
import { EXIT, type Io, paint, UsageError } from '../output.ts'
import { readTestFile, type TestCase, type TestFile } from './policy-test-file.ts'

// Policy unit tests: YAML files (`*.test.yaml`) next to the policy; the format is in
// ./policy-test-file.ts. Each case runs against a fresh in-memory store seeded with its touches,
// suppressions and commitments, at the case's `at`.

async function findTests(dir: string): Promise<string[]> {
  const out: string[] = []
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    if (entry.name === 'node_modules' || entry.name.startsWith('.')) continue
    const path = join(dir, entry.name)
    if (entry.isDirectory()) out.push(...(await findTests(path)))
    else if (entry.name.endsWith('.test.yaml') || entry.name.endsWith('.test.yml')) out.push(path)
  }
  return out.sort()
}

/** A path as typed from here: relative when under the working directory, else absolute. */
function shown(path: string): string {
  const r = relative(process.cwd(), path)
  return r && !r.startsWith('..') ? r : path
}

export async function runPolicyTests(io: Io, dir: string): Promise<{ passed: number; failed: number }> {
  const files = await findTests(dir)
  if (!files.length)
    throw new UsageError(
      `no *.test.yaml files under ${dir}`,
      'write policy tests next to the policy, e.g. remit.test.yaml',
    )
  let passed = 0
  let failed = 0
  const policies = new Map<string, Policy>()
  for (const file of files) {
    const parsed = readTestFile(await readFile(file, 'utf8'), shown(file))
    if ('error' in parsed) {
      io.out(paint(io, 'red', `✗ ${parsed.error}`))
      failed++
      continue
    }
    const policyPath = resolve(dirname(file), parsed.policy ?? 'remit.yaml')
    let policy = policies.get(policyPath)
    if (!policy) {
      policy = await loadPolicyFile(policyPath).catch((error) => {
        // `test` has no --policy: each test file names its own, relative to itself.
        if ((error as NodeJS.ErrnoException)?.code !== 'ENOENT') throw error
        const named = parsed.policy
        throw new UsageError(
          `no such file: ${shown(policyPath)}`,
          named
            ? `${shown(file)} names it in \`policy: ${named}\` (a path relative to the test file): fix that`
            : `${shown(file)} names no policy, so it looks for remit.yaml beside itself: add \`policy: <file>\` to it`,
        )
      })
      policies.set(policyPath, policy)
    }
    io.out(paint(io, 'bold', relative(process.cwd(), file)))
    for (const entry of parsed.cases) {
      if (!entry.ok) {
        // A malformed case fails alone; the others in the file still run.
        failed++
        io.out(paint(io, 'red', `  ✗ ${entry.name}`))
        for (const p of entry.problems) io.out(`      ${p}`)
        continue
      }
      const t = entry.case
      const now = t.at ? new Date(t.at) : new Date()
      const store = openSqliteStore(':memory:')
      const remit = await openRemit({ policy, store, clock: () => now })
      // Where a failure is, for messages: set before each step that can throw on the case's input.
      let at: (string | number)[] = []
      try {
        const accountId =
          t.customer.accountId ??
          (t.customer.contactId ? `contact:${t.customer.contactId}` : `email:${t.customer.email}`)
        const seeded = { store, policy, accountId, now }
        for (const [i, touch] of t.touches.entries()) {
          at = ['touches', i]
          await remit.recordTouch({ accountId, ...touch } satisfies TouchInput)
        }
        for (const [i, s] of t.suppressions.entries()) {
          at = ['suppressions', i]
          await remit.recordSuppression({ accountId, ...s })
        }
        for (const [i, c] of t.commitments.entries()) {
          at = ['commitments', i]
          await seedCommitment(seeded, c)
        }
        at = []
        const d = await remit.decide(t.tool ? { tool: t.tool } : { agent: t.agent ?? '' }, {
          action: t.action,
          customer: { ...t.customer, facts: t.customer.facts ?? {} },
          ...(t.at ? { at: t.at } : {}),
          dryRun: true,
        })
        const problems = compare(t.expect, d)
        if (problems.length) {
          failed++
          io.out(paint(io, 'red', `  ✗ ${t.name}`))
          for (const p of problems) io.out(`      ${p}`)
          for (const r of d.reasons) io.out(paint(io, 'dim', `      ${r.rule} (${r.sort}): ${r.message}`))
        } else {
          passed++
          io.out(paint(io, 'green', `  ✓ ${t.name}`))
        }
      } catch (error) {
        failed++
        io.out(paint(io, 'red', `  ✗ ${t.name}`))
        io.out(`      ${positioned(parsed, entry.index, at, error)}`)
      } finally {
        await remit.close()
      }
    }
  }
  io.out('')
  io.out(`${passed} passed, ${failed} failed`)
  return { passed, failed }
}

/** What the decision got wrong against `expect`, each as "expected X, got Y". */
function compare(expect: TestCase['expect'], d: Decision): string[] {
  const problems: string[] = []
  const rules = d.reasons.map((r) => r.rule)
  if (d.verdict !== expect.verdict) problems.push(`expected ${expect.verdict}, got ${d.verdict}`)
  const missing = (expect.rules ?? []).filter((r) => !rules.includes(r))
  if (missing.length) problems.push(`expected rules ${missing.join(', ')} among the reasons`)
  const unwanted = (expect.notRules ?? []).filter((r) => rules.includes(r))
  if (unwanted.length) problems.push(`did not expect ${unwanted.join(', ')}`)
  if (expect.retryAfter !== undefined) {
    const after = parseDuration(expect.retryAfter)
    const want = after === undefined ? new Date(expect.retryAfter) : new Date(d.at.getTime() + after)
    if (d.retryAfter?.getTime() !== want.getTime()) {
      const since = (t: Date) => {
        const ms = t.getTime() - d.at.getTime()
        return ms >= 0 ? ` (${formatMs(ms)} after at)` : ` (${formatMs(-ms)} before at)`
      }
      const got = d.retryAfter ? `${d.retryAfter.toISOString()}${since(d.retryAfter)}` : 'none'
      problems.push(`expected retryAfter ${want.toISOString()}${since(want)}, got ${got}`)
    }
  }
  if (expect.reviewTeam !== undefined && d.reviewTeam !== expect.reviewTeam)
    problems.push(`expected reviewTeam ${expect.reviewTeam}, got ${d.reviewTeam ?? 'none'}`)
  if (expect.notify !== undefined) {
    const want = [...new Set(expect.notify)].sort()
    const got = [...new Set(d.notify)].sort()
    if (want.join('\0') !== got.join('\0'))
      problems.push(`expected notify [${want.join(', ')}], got [${got.join(', ')}]`)
  }
  return problems
}

/** A duration as the policy would write it: 72h, 2d5h, 90m. */
function formatMs(ms: number): string {
  const parts: string[] = []
  let rest = ms
  for (const [unit, size] of [
    ['d', 86_400_000],
    ['h', 3_600_000],
    ['m', 60_000],
    ['s', 1_000],
  ] as const) {
    if (rest >= size) {
      parts.push(`${Math.floor(rest / size)}${unit}`)
      rest %= size
    }
  }
  if (rest || !parts.length) parts.push(`${rest}ms`)
  return parts.join('')
}

/**
 * Records a commitment as a go that made it would: core has no call that records one alone, so this
 * goes through the store's own decide, with a decision that stands for the go (it reserves no touch).
 */
async function seedCommitment(
  s: { store: Store; policy: Policy; accountId: string; now: Date },
  c: TestCase['commitments'][number],
): Promise<void> {
  const agent = c.agent === undefined ? undefined : resolveCaller(s.policy, { agent: c.agent }).agent
  if (c.team !== undefined && !s.policy.teams.has(c.team))
    throw new InputError('UNKNOWN_TEAM', `unknown team "${c.team}"`, ['team'])
  const at = c.at ? new Date(c.at) : s.now
  const lasts = c.expiresAt === undefined ? undefined : parseDuration(c.expiresAt)
  const expiresAt =
    c.expiresAt === undefined
      ? undefined
      : lasts === undefined
        ? new Date(c.expiresAt)
        : new Date(at.getTime() + lasts)
  const team = c.team ?? (agent?.team as string)
  const promising = [...s.policy.actions.values()].find((a) => a.commitment === c.kind)
  const decision: Decision = {
    id: `dec_seed_${randomUUID()}`,
    at,
    agent: agent?.id ?? '',
    team,
    accountId: s.accountId,
    ...(c.contactId ? { contactId: c.contactId } : {}),
    action: { kind: promising?.kind ?? c.kind, attributes: c.value },
    facts: {},
    verdict: 'go',
    reasons: [],
    notify: [],
    policyVersion: s.policy.version,
    dryRun: false,
  }
  const commitment: Commitment = {
    id: `cmt_seed_${randomUUID()}`,
    accountId: s.accountId,
    ...(c.contactId ? { contactId: c.contactId } : {}),
    kind: c.kind,
    value: c.value,
    team,
    agent: decision.agent,
    at,
    ...(expiresAt ? { expiresAt } : {}),
    decisionId: decision.id,
  }
  await s.store.decide({ accountId: s.accountId, agent: decision.agent, since: at, now: at }, () => ({
    decision,
    commitment,
  }))
}

/** An error seeding or deciding a case, at the line of what caused it when it names a field. */
function positioned(file: TestFile, index: number, at: (string | number)[], error: unknown): string {
  if (!(error instanceof InputError)) return (error as Error).message
  const prefix = error.path.length ? `${error.path.join('.')}: ` : ''
  const message = error.message.startsWith(prefix) ? error.message.slice(prefix.length) : error.message
  const hint = error.hint ? ` (${error.hint})` : ''
  const path = [...at, ...error.path]
  return path.length ? `${file.where(index, path)}: ${message}${hint}` : `${message}${hint}`
}

export async function policyTest(io: Io, dir: string, o: { watch?: boolean }): Promise<number> {
  const first = await runPolicyTests(io, dir)
  if (!o.watch) return first.failed ? EXIT.failed : EXIT.ok
  io.out(paint(io, 'dim', `watching ${dir} for changes (Ctrl-C to stop)`))
  let timer: NodeJS.Timeout | undefined
  const watcher = watch(dir, { recursive: true }, (_e, file) => {
    if (!file || !/\.(ya?ml)$/.test(file)) return
    clearTimeout(timer)
    timer = setTimeout(() => {
      io.out('')
      runPolicyTests(io, dir).catch((error) => io.err(String(error)))
    }, 150)
  })
  await new Promise<void>((r) => process.once('SIGINT', () => r()))
  watcher.close()
  return 0
}
