import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { loadPolicyFile, openSqliteStore, type Touch } from '@remit/core'
import { describe, expect, it } from 'vitest'
import { remit } from './remit.ts'

// `remit prune` removes what no rule of the policy in service reads (touches past its longest window)
// and what the audit no longer keeps (decisions past --keep-decisions); a dry run counts only.

const seed = fileURLToPath(new URL('../../../examples/seed-week/remit.yaml', import.meta.url))
const DAY = 86_400_000

function touch(daysAgo: number): Touch {
  return {
    id: `tch_${daysAgo}`,
    accountId: 'acme',
    kind: 'call',
    outbound: true,
    at: new Date(Date.now() - daysAgo * DAY),
    status: 'sent',
    source: 'recorded',
  }
}

describe('remit prune', () => {
  it("counts on --dry-run, then removes the touches past the policy's longest window and nothing a rule reads", async () => {
    const path = join(mkdtempSync(join(tmpdir(), 'remit-prune-')), 'remit.db')
    const store = openSqliteStore(path)
    const policy = await loadPolicyFile(seed)
    const window = policy.lookbackMs / DAY
    for (const days of [1, window - 1, window + 1, window + 30, 500]) await store.recordTouch(touch(days))
    await store.close()

    const dry = await remit('prune', '--store', path, '--policy', seed, '--dry-run', '--json')
    expect(dry.code).toBe(0)
    expect(JSON.parse(dry.out)).toMatchObject({ touches: 3, decisions: 0, dryRun: true })
    const pruned = await remit('prune', '--store', path, '--policy', seed)
    expect(pruned.code).toBe(0)
    expect(pruned.out).toMatch(/^removed: 3 touches before .* \(the policy's longest window, /)

    const after = openSqliteStore(path)
    const left = (await after.timeline('acme')).touches.map((t) => t.id)
    await after.close()
    expect(left.sort()).toEqual([`tch_1`, `tch_${window - 1}`].sort())
  })

  it('refuses a retention that is not a duration, and a store that is not there (exit 2)', async () => {
    expect(await remit('prune', '--store', '/nowhere/remit.db', '--policy', seed)).toMatchObject({ code: 2 })
    const path = join(mkdtempSync(join(tmpdir(), 'remit-prune-')), 'remit.db')
    await openSqliteStore(path).close()
    const bad = await remit('prune', '--store', path, '--policy', seed, '--keep-decisions', 'a year')
    expect(bad).toMatchObject({ code: 2 })
    expect(bad.err).toMatch(/--keep-decisions wants a duration/)
    // Past a century is refused before anything is removed (it was "Invalid time value", exit 3).
    const huge = await remit('prune', '--store', path, '--policy', seed, '--keep-decisions', '99999999999d')
    expect(huge).toMatchObject({ code: 2 })
    expect(huge.err).toMatch(/at most 36500d/)
  })
})
