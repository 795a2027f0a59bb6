import { existsSync } from 'node:fs'
import { readFile } from 'node:fs/promises'
import {
  explain as explainDecision,
  InputError,
  type LedgerView,
  loadPolicyFile,
  openSqliteStore,
  type Policy,
} from '@remit/core'
import { personOf, requestOf, resolveRequest } from '@remit/core/internal'
import { type Io, paint, UsageError } from '../output.ts'
import { type DecideOptions, fromFlags, requestJson, withFlags } from './decide.ts'

/** `remit explain`: one decision as a readable trace: scope, each rule, what it read, the verdict. */
export async function explainCommand(
  io: Io,
  o: DecideOptions & { store?: string; decision?: string },
): Promise<number> {
  const policy = await loadPolicyFile(o.policy)
  if (o.decision) return explainLogged(io, policy, o.decision, o)
  let body: Record<string, unknown>
  let caller: { agent: string } | { tool: string }
  if (o.request) {
    // --at holds for a body too (a different `at` in it is a usage error naming both).
    body = withFlags(requestJson(o.request, await readFile(o.request, 'utf8')), o)
    const b = body as { agent?: string; tool?: string }
    if (!b.agent && !b.tool && !o.agent && !o.tool)
      throw new UsageError('say who is asking: "agent" or "tool" in the file, or --agent / --tool')
    caller =
      (o.tool ?? b.tool) ? { tool: (o.tool ?? b.tool) as string } : { agent: (o.agent ?? b.agent) as string }
    delete body.agent
    delete body.tool
  } else {
    if (!o.agent && !o.tool) throw new UsageError('say who is asking: --agent <id> or --tool <tool>')
    body = fromFlags(policy, o)
    caller = o.tool ? { tool: o.tool } : { agent: o.agent as string }
  }
  const { touches: given, ...request } = body as {
    touches?: {
      kind: string
      at: string
      team?: string
      agent?: string
      channel?: string
      outbound?: boolean
    }[]
  }
  const req = resolveRequest(policy, caller, request, () => new Date())
  let identities: LedgerView['identities']
  let touches = (given ?? []).map((t, i) => ({
    id: `t${i}`,
    accountId: req.customer.accountId,
    kind: t.kind,
    outbound: t.outbound ?? policy.actions.get(t.kind)?.outbound ?? true,
    at: new Date(t.at),
    status: 'sent' as const,
    source: 'recorded' as const,
    ...(t.team ? { team: t.team } : {}),
    ...(t.agent ? { agent: t.agent } : {}),
    ...(t.channel ? { channel: t.channel } : {}),
  }))
  if (o.store && o.store !== ':memory:') {
    // Explaining reads a ledger: a mistyped path is an error, not a new empty store.
    if (!existsSync(o.store))
      throw new UsageError(
        `no store at ${o.store}`,
        'pass --store with the SQLite file remit serve or decide uses',
      )
    const store = openSqliteStore(o.store)
    // The person's linked ids and addresses count as theirs, as when the decision is made.
    const ledger = await store.ledger(
      req.customer.accountId,
      new Date(req.now.getTime() - policy.lookbackMs),
      req.now,
      personOf(req.customer),
    )
    touches = [...ledger.touches, ...touches] as typeof touches
    identities = ledger.identities
    await store.close()
  }
  const x = explainDecision(policy, {
    ...req,
    touches,
    commitments: [],
    ...(identities ? { identities } : {}),
  })
  print(io, x, req.customer.accountId, req.now)
  return 0
}

/**
 * `remit explain --decision <id> --store <file>`: a logged decision, asked again of the policy given,
 * against the ledger as it stood when it was decided (its own touch left out), as the console's
 * "Explain" does. Says when the policy is not the one that decided it.
 */
async function explainLogged(
  io: Io,
  policy: Policy,
  id: string,
  o: DecideOptions & { store?: string },
): Promise<number> {
  if (!o.store || o.store === ':memory:')
    throw new UsageError(
      '--decision reads the decision log: pass --store with the SQLite file remit serve uses',
    )
  const asked = ['agent', 'tool', 'action', 'account', 'contact', 'email', 'request', 'at'] as const
  const mixed = asked.filter((k) => o[k] !== undefined)
  if (mixed.length || o.attr?.length || o.fact?.length)
    throw new UsageError(
      `--decision explains the decision as it was asked: leave out ${[...mixed, ...(o.attr?.length ? ['attr'] : []), ...(o.fact?.length ? ['fact'] : [])].map((k) => `--${k}`).join(', ')}`,
    )
  if (!existsSync(o.store))
    throw new UsageError(
      `no store at ${o.store}`,
      'pass --store with the SQLite file remit serve or decide uses',
    )
  const store = openSqliteStore(o.store)
  try {
    const decision = await store.getDecision(id)
    if (!decision)
      throw new UsageError(
        `no decision ${id} in ${o.store}`,
        'decision ids start with dec_ (remit decide, the console, the API)',
      )
    let req: ReturnType<typeof requestOf>
    try {
      req = requestOf(policy, decision, decision.at)
    } catch (error) {
      if (!(error instanceof InputError)) throw error
      throw new UsageError(
        `${policy.file} can no longer read decision ${id}: ${error.message}`,
        'explain it with the policy that decided it (its version is in the decision log)',
      )
    }
    const ledger = await store.ledger(
      decision.accountId,
      new Date(decision.at.getTime() - policy.lookbackMs),
      decision.at,
      personOf(req.customer),
    )
    const x = explainDecision(policy, {
      ...req,
      touches: ledger.touches.filter((t) => t.at < decision.at && t.decisionId !== decision.id),
      commitments: ledger.commitments,
      ...(ledger.identities ? { identities: ledger.identities } : {}),
    })
    io.out(
      `decision ${decision.id}: ${decision.verdict.toUpperCase()} when it was decided, under policy ${decision.policyVersion}`,
    )
    if (decision.policyVersion !== policy.version)
      io.out(
        paint(
          io,
          'yellow',
          `${policy.file} is version ${policy.version}, not the one that decided it: the trace below is this policy's`,
        ),
      )
    print(io, x, decision.accountId, decision.at)
    return 0
  } finally {
    await store.close()
  }
}

/** The trace, as `remit explain` prints it. */
function print(io: Io, x: ReturnType<typeof explainDecision>, accountId: string, at: Date): void {
  const mark = { matched: '●', 'not matched': '○', unevaluable: '?', unconditional: '●' } as const
  io.out(paint(io, 'bold', `${x.agent} (${x.team}) wants ${x.kind} for ${accountId} at ${at.toISOString()}`))
  io.out(
    `${x.applied.length} rule(s) apply to this agent and action kind; ${x.outOfScope} others are out of scope and did not run`,
  )
  let sort = ''
  for (const r of x.applied) {
    if (r.sort !== sort) {
      sort = r.sort
      io.out(paint(io, 'bold', `  ${sort === 'ownership' ? 'ownership' : `${sort}s`}`))
    }
    const label = r.result === 'unconditional' ? 'applies (no condition)' : r.result
    io.out(`    ${mark[r.result]} ${r.id}: ${label}${r.error ? ` — ${r.error}` : ''}`)
    if (r.when) io.out(paint(io, 'dim', `        when: ${r.when}`))
    for (const read of r.reads)
      io.out(paint(io, 'dim', `        ${read.name} = ${JSON.stringify(read.value) ?? 'missing'}`))
  }
  const verdictStyle = { go: 'green', flag: 'yellow', stop: 'red' } as const
  io.out('')
  io.out(
    `${paint(io, ['bold', verdictStyle[x.evaluation.verdict]], x.evaluation.verdict.toUpperCase())}: ${x.because}`,
  )
  for (const r of x.evaluation.reasons) io.out(`  ${r.rule} (${r.sort}): ${r.message}`)
  if (x.evaluation.retryAfter) io.out(`  retry after ${x.evaluation.retryAfter.toISOString()}`)
  if (x.evaluation.reviewTeam) io.out(`  review: ${x.evaluation.reviewTeam}'s queue`)
}
