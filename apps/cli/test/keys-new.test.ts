import { spawnSync } from 'node:child_process'
import { copyFileSync, existsSync, mkdtempSync, readFileSync, statSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { hashKey, KeyRing, readKeysFile } from '@remit/server'
import { describe, expect, it } from 'vitest'
import { run } from '../src/index.ts'

// `remit keys new` makes a key `remit serve` accepts: the keys.yaml entry is written (only its hash),
// the key printed once, and the names checked against the policy before anything is written.

const bin = fileURLToPath(new URL('../src/bin.ts', import.meta.url))
const seed = fileURLToPath(new URL('../../../examples/seed-week/remit.yaml', import.meta.url))

/** A folder holding the seed week's policy as remit.yaml, as a user's would. */
function folder(): string {
  const dir = mkdtempSync(join(tmpdir(), 'remit-keys-'))
  copyFileSync(seed, join(dir, 'remit.yaml'))
  return dir
}

/** `remit keys new …` in its own process, in `cwd`. */
function keysNew(cwd: string, ...args: string[]) {
  const r = spawnSync(process.execPath, [bin, 'keys', 'new', ...args], { cwd, encoding: 'utf8' })
  return { code: r.status, out: r.stdout, err: r.stderr }
}

// Each test runs the CLI in processes of its own (TypeScript loaded fresh each time): seconds apiece
// on a quiet machine, over 20 s for two of them beside the whole suite on two cores.
describe('remit keys new', { timeout: 120_000 }, () => {
  it('adds the entry to ./keys.yaml (created for its owner only) and prints the key alone on stdout', async () => {
    const dir = folder()
    const r = keysNew(dir, '--agent', 'sales-agent')
    expect(r.code).toBe(0)
    // KEY=$(remit keys new …) holds the key and nothing else.
    expect(r.out).toMatch(/^rk_[\w-]{43}\n$/)
    const key = r.out.trim()
    expect(r.err).toContain('added "sales-agent-key" (agent sales-agent) to keys.yaml')
    const file = join(dir, 'keys.yaml')
    expect(statSync(file).mode & 0o777).toBe(0o600)
    expect(readFileSync(file, 'utf8')).not.toContain(key)
    // The server reads it and lets the key in, as that agent.
    const entries = await readKeysFile(file)
    expect(entries).toEqual([{ name: 'sales-agent-key', sha256: hashKey(key), agent: 'sales-agent' }])
    expect(new KeyRing(entries).authenticate(`Bearer ${key}`)).toEqual({
      kind: 'agent',
      name: 'sales-agent-key',
      agent: 'sales-agent',
    })
  })

  it('appends to a keys.yaml that is there, keeping what it holds', async () => {
    const dir = folder()
    const file = join(dir, 'keys.yaml')
    const before = `# ours\n- { name: ops, sha256: "${'a'.repeat(64)}", admin: true }`
    writeFileSync(file, before)
    const reviewer = keysNew(dir, '--reviewer', 'sales')
    const agent = keysNew(
      dir,
      '--agent',
      'marketing-agent',
      '--tool',
      'hubspot:workflow/1001',
      '--name',
      'hs',
    )
    expect([reviewer.code, agent.code]).toEqual([0, 0])
    expect(readFileSync(file, 'utf8').startsWith(`${before}\n- { name: "sales-reviewers"`)).toBe(true)
    const ring = new KeyRing(await readKeysFile(file))
    expect(ring.authenticate(`Bearer ${reviewer.out.trim()}`)).toMatchObject({
      kind: 'reviewer',
      team: 'sales',
    })
    expect(ring.authenticate(`Bearer ${agent.out.trim()}`)).toMatchObject({
      name: 'hs',
      agent: 'marketing-agent',
      tool: 'hubspot:workflow/1001',
    })
  })

  it('refuses a name already in the file, naming that entry and suggesting --name; the file is unchanged', () => {
    const dir = folder()
    expect(keysNew(dir, '--agent', 'sales-agent').code).toBe(0)
    const before = readFileSync(join(dir, 'keys.yaml'), 'utf8')
    const again = keysNew(dir, '--agent', 'sales-agent')
    expect(again.code).toBe(2)
    expect(again.out).toBe('')
    expect(again.err).toBe(
      'error: keys.yaml already has a key named "sales-agent-key" (line 3: agent sales-agent)\n' +
        '  hint: name this one: --name sales-agent-key-2\n',
    )
    expect(readFileSync(join(dir, 'keys.yaml'), 'utf8')).toBe(before)
    expect(keysNew(dir, '--agent', 'sales-agent', '--name', 'sales-agent-key-2').code).toBe(0)
  })

  // Six CLI processes, one after another: on a busy two-core machine that took over the default 20 s.
  it('checks the agent, its tool and the team against the policy, with a "did you mean"; nothing is written', {
    timeout: 60_000,
  }, () => {
    const dir = folder()
    const agent = keysNew(dir, '--agent', 'sales-agnt')
    expect(agent.code).toBe(2)
    expect(agent.err).toBe(
      'error: remit.yaml has no agent "sales-agnt"\n' +
        '  hint: did you mean "sales-agent"? agents: marketing-agent, sales-agent, support-agent\n',
    )
    const tool = keysNew(dir, '--agent', 'sales-agent', '--tool', 'salesforce:flow/Renewal_Ofer')
    expect(tool.err).toContain(
      "error: salesforce:flow/Renewal_Ofer is not one of sales-agent's tools in remit.yaml",
    )
    expect(tool.err).toContain('hint: did you mean "salesforce:flow/Renewal_Offer"?')
    const team = keysNew(dir, '--reviewer', 'sale')
    expect(team.err).toContain('error: remit.yaml has no team "sale"\n  hint: did you mean "sales"?')
    expect([tool.code, team.code]).toEqual([2, 2])
    expect(existsSync(join(dir, 'keys.yaml'))).toBe(false)
    // --policy names another policy; --no-policy skips the check.
    const other = mkdtempSync(join(tmpdir(), 'remit-keys-'))
    expect(keysNew(other, '--agent', 'sales-agnt', '--policy', join(dir, 'remit.yaml')).code).toBe(2)
    expect(keysNew(other, '--agent', 'sales-agent', '--policy', join(other, 'remit.yaml')).code).toBe(2)
    expect(keysNew(dir, '--agent', 'next-agent', '--no-policy').code).toBe(0)
  })

  it('without a remit.yaml, writes the key and says the names were not checked', () => {
    const dir = mkdtempSync(join(tmpdir(), 'remit-keys-'))
    const r = keysNew(dir, '--reviewer', 'sales')
    expect(r.code).toBe(0)
    expect(r.err).toContain('note: no remit.yaml here, so "sales" was not checked (--policy <file>)')
  })

  it('--no-file writes nothing and prints the line to add by hand, with the key', async () => {
    const out: string[] = []
    const err: string[] = []
    const file = join(mkdtempSync(join(tmpdir(), 'remit-keys-')), 'keys.yaml')
    const code = await run(['keys', 'new', '--admin', '--file', file, '--no-file'], {
      out: (l) => out.push(l),
      err: (l) => err.push(l),
      color: false,
    })
    expect(code).toBe(0)
    expect(existsSync(file)).toBe(false)
    expect(out).toHaveLength(1)
    expect(err[1]).toBe(`- { name: "admin", sha256: "${hashKey(out[0] as string)}", admin: true }`)
  })

  it('refuses to add to a keys.yaml that does not hold valid entries, one per line', () => {
    const dir = folder()
    writeFileSync(join(dir, 'keys.yaml'), '- { name: x }\n')
    const broken = keysNew(dir, '--admin')
    expect(broken.code).toBe(2)
    expect(broken.err).toContain('error: keys.yaml: entry 0.sha256')
    writeFileSync(join(dir, 'keys.yaml'), '[]\n')
    const flow = keysNew(dir, '--admin')
    expect(flow.code).toBe(2)
    expect(flow.err).toContain('keys.yaml is not a list with one entry per line, so this key was not added')
    expect(readFileSync(join(dir, 'keys.yaml'), 'utf8')).toBe('[]\n')
  })
})
