import { watch } from 'node:fs'
import { readdir, readFile } from 'node:fs/promises'
import { dirname, join, relative, resolve } from 'node:path'
import { loadPolicyFile, openRemit, openSqliteStore, type Policy } from '@remit/core'
import { parse } from 'yaml'
import { z } from 'zod'
import { EXIT, type Io, paint, UsageError } from '../output.ts'

// Policy unit tests: YAML files (`*.test.yaml`) next to the policy.
//   policy: remit.yaml            # optional; default ./remit.yaml beside the test file
//   tests:
//     - name: a renewal's positioning e-mail is flagged to sales
//       agent: marketing-agent    # or tool: hubspot:workflow/1001
//       action: { kind: email.positioning }
//       customer: { accountId: acme, facts: { lifecycle: renewal, tier: enterprise } }
//       touches: [{ kind: call, team: sales, at: "2026-04-09T15:00:00Z", outbound: false }]
//       at: "2026-04-10T10:00:00Z"
//       expect: { verdict: flag, rules: [renewal-flag] }

const caseSchema = z.strictObject({
  name: z.string(),
  agent: z.string().optional(),
  tool: z.string().optional(),
  action: z.object({ kind: z.string() }).catchall(z.unknown()),
  customer: z.object({
    accountId: z.string().optional(),
    contactId: z.string().optional(),
    email: z.string().optional(),
    facts: z.record(z.string(), z.unknown()).optional(),
  }),
  touches: z
    .array(
      z.strictObject({
        kind: z.string(),
        at: z.string(),
        team: z.string().optional(),
        agent: z.string().optional(),
        channel: z.string().optional(),
        outbound: z.boolean().optional(),
      }),
    )
    .default([]),
  at: z.string().optional(),
  expect: z.strictObject({
    verdict: z.enum(['go', 'flag', 'stop']),
    rules: z.array(z.string()).optional(),
    notRules: z.array(z.string()).optional(),
  }),
})
const fileSchema = z.strictObject({ policy: z.string().optional(), tests: z.array(caseSchema).min(1) })

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
    const parsed = fileSchema.safeParse(parse(await readFile(file, 'utf8')))
    if (!parsed.success) {
      const issue = parsed.error.issues[0]
      io.out(
        paint(io, 'red', `✗ ${relative(process.cwd(), file)}: ${issue?.path.join('.')}: ${issue?.message}`),
      )
      failed++
      continue
    }
    const policyPath = resolve(dirname(file), parsed.data.policy ?? 'remit.yaml')
    let policy = policies.get(policyPath)
    if (!policy) {
      policy = await loadPolicyFile(policyPath).catch((error) => {
        // `test` has no --policy: each test file names its own, relative to itself.
        if ((error as NodeJS.ErrnoException)?.code !== 'ENOENT') throw error
        const named = parsed.data.policy
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
    for (const t of parsed.data.tests) {
      const remit = await openRemit({ policy, store: openSqliteStore(':memory:') })
      try {
        const accountId =
          t.customer.accountId ??
          (t.customer.contactId ? `contact:${t.customer.contactId}` : `email:${t.customer.email}`)
        for (const touch of t.touches) await remit.recordTouch({ accountId, ...touch })
        const d = await remit.decide(t.tool ? { tool: t.tool } : { agent: t.agent ?? '' }, {
          action: t.action,
          customer: { ...t.customer, facts: t.customer.facts ?? {} },
          ...(t.at ? { at: t.at } : {}),
          dryRun: true,
        })
        const rules = d.reasons.map((r) => r.rule)
        const problems: string[] = []
        if (d.verdict !== t.expect.verdict) problems.push(`expected ${t.expect.verdict}, got ${d.verdict}`)
        const missing = (t.expect.rules ?? []).filter((r) => !rules.includes(r))
        if (missing.length) problems.push(`expected rules ${missing.join(', ')} among the reasons`)
        const unwanted = (t.expect.notRules ?? []).filter((r) => rules.includes(r))
        if (unwanted.length) problems.push(`did not expect ${unwanted.join(', ')}`)
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
        io.out(paint(io, 'red', `  ✗ ${t.name}: ${(error as Error).message}`))
      } finally {
        await remit.close()
      }
    }
  }
  io.out('')
  io.out(`${passed} passed, ${failed} failed`)
  return { passed, failed }
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
