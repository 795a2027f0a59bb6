import { mkdtempSync, readFileSync, renameSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import {
  type DecisionLogEntry,
  type DecisionLogSink,
  openDecisionLog,
  openRemit,
  openSqliteStore,
  replay,
} from '../src/index.ts'
import { acme, at, globex, initech, MON, seedPolicy } from './helpers.ts'

function collecting() {
  const lines: string[] = []
  const sink: DecisionLogSink = { write: (line) => void lines.push(line) }
  return { sink, lines, entries: () => lines.map((l) => JSON.parse(l) as DecisionLogEntry) }
}

async function engine(o: { decisionLog?: DecisionLogSink; onDecisionLogError?: (e: unknown) => void }) {
  return openRemit({
    policy: seedPolicy,
    store: openSqliteStore(':memory:'),
    clock: () => new Date(MON),
    ...o,
  })
}

describe('the decision log', () => {
  it('writes each decision recorded as one JSON line: when, who, what, the customer, the verdict and its rules', async () => {
    const log = collecting()
    const remit = await engine({ decisionLog: log.sink })
    const go = await remit.decide(
      { tool: 'salesforce:flow/Renewal_Offer' },
      {
        action: { kind: 'offer.discount', discountPct: 10 },
        customer: globex,
        idempotencyKey: 'renewal-offer-1',
        at: at(0),
        preview: { subject: 'Your renewal', text: 'not in the log' },
      },
    )
    const flag = await remit.decide('marketing-agent', {
      action: { kind: 'email.positioning' },
      customer: acme,
      at: at(1),
    })
    expect(log.lines.every((l) => l.endsWith('\n') && !l.slice(0, -1).includes('\n'))).toBe(true)
    expect(log.lines[0]?.startsWith('{"at":"2026-04-06T09:00:00.000Z",')).toBe(true)
    expect(log.entries()).toEqual([
      {
        at: '2026-04-06T09:00:00.000Z',
        agent: 'sales-agent',
        tool: 'salesforce:flow/Renewal_Offer',
        action: { kind: 'offer.discount', discountPct: 10 },
        customer: { accountId: 'globex', contactId: 'globex-omar', facts: globex.facts },
        ref: go.id,
        decision: {
          id: go.id,
          team: 'sales',
          verdict: 'go',
          rules: ['sales-discount'],
          reasons: go.reasons,
          policyVersion: seedPolicy.version,
          idempotencyKey: 'renewal-offer-1',
        },
      },
      {
        at: '2026-04-06T10:00:00.000Z',
        agent: 'marketing-agent',
        action: { kind: 'email.positioning' },
        customer: {
          accountId: 'acme',
          contactId: 'acme-jane',
          email: 'jane@acme.example',
          facts: acme.facts,
        },
        ref: flag.id,
        decision: {
          id: flag.id,
          team: 'marketing',
          verdict: 'flag',
          rules: ['renewal-flag', 'renewal-owned-by-sales', 'mkt-positioning'],
          reasons: flag.reasons,
          policyVersion: seedPolicy.version,
          reviewId: flag.reviewId,
          reviewTeam: 'sales',
        },
      },
    ])
  })

  it('writes nothing for a dry run or for a repeated idempotency key (the first decision is the one made)', async () => {
    const log = collecting()
    const remit = await engine({ decisionLog: log.sink })
    const request = {
      action: { kind: 'offer.discount', discountPct: 10 },
      customer: globex,
      idempotencyKey: 'k-1',
      at: at(0),
    }
    await remit.decide('sales-agent', request)
    expect((await remit.decide('sales-agent', request)).replayed).toBe(true)
    await remit.decide('sales-agent', { ...request, idempotencyKey: 'k-2', dryRun: true })
    expect(log.lines).toHaveLength(1)
  })

  it('a throwing sink does not fail the decision: the decision is answered and stored, the failure reported', async () => {
    const reported: unknown[] = []
    const remit = await engine({
      decisionLog: {
        write() {
          throw new Error('disk full')
        },
      },
      onDecisionLogError: (error) => reported.push(error),
    })
    const d = await remit.decide('sales-agent', {
      action: { kind: 'offer.discount', discountPct: 10 },
      customer: globex,
      at: at(0),
    })
    expect(d.verdict).toBe('go')
    expect((await remit.decisions.get(d.id))?.verdict).toBe('go')
    expect(reported).toEqual([new Error('disk full')])
  })

  it('a sink that rejects, or a report that throws, fails no decision either', async () => {
    const remit = await engine({
      decisionLog: { write: () => Promise.reject(new Error('SIEM away')) },
      onDecisionLogError: () => {
        throw new Error('the report broke too')
      },
    })
    const d = await remit.decide('marketing-agent', { action: { kind: 'email.positioning' }, customer: acme })
    expect(d.verdict).toBe('flag')
    await new Promise((r) => setTimeout(r, 5))
  })

  it('reads back as history: remit replay finds the verdicts the log recorded, in time order', async () => {
    const log = collecting()
    const remit = await engine({ decisionLog: log.sink })
    const decided = [
      await remit.decide('sales-agent', {
        action: { kind: 'offer.discount', discountPct: 10 },
        customer: initech,
        at: at(0),
      }),
      // The same account a day later: the 72-hour limit stops it.
      await remit.decide('sales-agent', {
        action: { kind: 'offer.discount', discountPct: 5 },
        customer: initech,
        at: at(24),
      }),
      await remit.decide('marketing-agent', {
        action: { kind: 'email.positioning' },
        customer: acme,
        at: at(2),
      }),
    ]
    expect(decided.map((d) => d.verdict)).toEqual(['go', 'stop', 'flag'])
    // Sorting the lines as text sorts them by time: `at` comes first.
    const sorted = [...log.lines].sort()
    async function* history() {
      for (const [i, line] of sorted.entries()) yield { line: i + 1, event: JSON.parse(line) }
    }
    const report = await replay(seedPolicy, history())
    expect(report.errors).toEqual([])
    expect(report.attempts).toBe(3)
    expect(report.verdicts).toEqual({ go: 1, flag: 1, stop: 1 })
  })

  it('records a change of the live policy as a line of type "policy", with who made it, and only with a log', async () => {
    const log = collecting()
    const remit = await engine({ decisionLog: log.sink })
    remit.logPolicyChange({
      at: at(1),
      event: 'promoted',
      version: 'v2',
      previousVersion: 'v1',
      by: 'ops-admin',
      override: true,
    })
    expect(log.lines).toHaveLength(1)
    expect(log.lines[0]?.startsWith(`{"at":"${at(1)}","type":"policy",`)).toBe(true)
    expect(JSON.parse(log.lines[0] ?? '')).toEqual({
      at: at(1),
      type: 'policy',
      event: 'promoted',
      version: 'v2',
      previousVersion: 'v1',
      by: 'ops-admin',
      override: true,
    })
    const silent = await engine({})
    expect(() =>
      silent.logPolicyChange({
        at: at(1),
        event: 'rolled-back',
        version: 'v1',
        previousVersion: 'v2',
        by: 'x',
      }),
    ).not.toThrow()
  })

  it('replays a log with policy changes in it: those lines are skipped, neither events nor errors', async () => {
    const log = collecting()
    const remit = await engine({ decisionLog: log.sink })
    await remit.decide('sales-agent', {
      action: { kind: 'offer.discount', discountPct: 10 },
      customer: initech,
      at: at(0),
    })
    remit.logPolicyChange({
      at: at(1),
      event: 'promoted',
      version: 'v2',
      previousVersion: 'v1',
      by: 'ops-admin',
    })
    remit.logPolicyChange({
      at: at(2),
      event: 'rolled-back',
      version: 'v1',
      previousVersion: 'v2',
      by: 'ops-admin',
    })
    await remit.decide('marketing-agent', {
      action: { kind: 'email.positioning' },
      customer: acme,
      at: at(3),
    })
    async function* history() {
      for (const [i, line] of log.lines.entries()) yield { line: i + 1, event: JSON.parse(line) }
    }
    const report = await replay(seedPolicy, history())
    expect(report.errors).toEqual([])
    expect(report.errorCount).toBe(0)
    expect(report.events).toBe(2)
    expect(report.attempts).toBe(2)
    expect(report.policyChanges).toBe(2)
  })
})

describe('openDecisionLog', () => {
  const dir = () => mkdtempSync(join(tmpdir(), 'remit-decision-log-'))

  it('appends to its file, follows a rotation when reopened, and flushes on remit.close()', async () => {
    const path = join(dir(), 'decisions.ndjson')
    const log = openDecisionLog(path)
    const remit = await engine({ decisionLog: log })
    const decide = (accountId: string) =>
      remit.decide('sales-agent', {
        action: { kind: 'offer.discount', discountPct: 10 },
        customer: { ...globex, accountId },
      })
    await decide('a1')
    // Rotation by rename: the line queued for the old file still lands there.
    renameSync(path, `${path}.1`)
    log.reopen()
    await decide('a2')
    await decide('a3')
    await remit.close()
    const accounts = (file: string) =>
      readFileSync(file, 'utf8')
        .trim()
        .split('\n')
        .map((l) => (JSON.parse(l) as DecisionLogEntry).customer.accountId)
    expect(accounts(`${path}.1`)).toEqual(['a1'])
    expect(accounts(path)).toEqual(['a2', 'a3'])
  })

  it('fails at once when the file cannot be opened', () => {
    expect(() => openDecisionLog(join(dir(), 'no-such-dir', 'decisions.ndjson'))).toThrow(/ENOENT/)
  })

  it('drops a line, and says so, when more than its backlog waits to be written', async () => {
    const log = openDecisionLog(join(dir(), 'decisions.ndjson'), { maxBacklogBytes: 10 })
    const first = log.write(`${'x'.repeat(100)}\n`)
    expect(() => log.write('{"next":true}\n')).toThrow(/behind/)
    await first
    await log.close()
  })
})
