import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { afterEach, describe, expect, it } from 'vitest'
import { remit } from './remit.ts'

// `remit validate --map mcp.yaml`: the MCP gateway's map checked against the policy, with
// file:line:col, by @remit/mcp's own loader.

const fixture = (name: string) =>
  fileURLToPath(new URL(`../../../packages/mcp/test/fixtures/${name}`, import.meta.url))

let dir: string | undefined
afterEach(() => {
  if (dir) rmSync(dir, { recursive: true, force: true })
  dir = undefined
})

describe('remit validate --map', () => {
  it('says the map is valid against the policy', async () => {
    const r = await remit('validate', fixture('remit.yaml'), '--map', fixture('mcp.yaml'))
    expect(r.code).toBe(0)
    expect(r.out).toContain(
      `${fixture('mcp.yaml')}: valid (3 tools, checked against ${fixture('remit.yaml')})`,
    )
  })

  it("names each of the map's errors with file:line:col and a hint, and exits 2", async () => {
    dir = mkdtempSync(join(tmpdir(), 'remit-cli-validate-map-'))
    const map = join(dir, 'mcp.yaml')
    writeFileSync(
      map,
      [
        'version: 1',
        'tools:',
        '  send_email: { action: email.positoning, customer: { email: to } }',
        '  create_offer:',
        '    action: offer.discount',
        '    customer: { accountId: $.customer.account }',
        '    attributes: { discount: $.discount.pct }',
        '',
      ].join('\n'),
    )
    const r = await remit('validate', fixture('remit.yaml'), '--map', map)
    expect(r.code).toBe(2)
    expect(r.out).toContain(
      `${map}:3:25: error: the policy declares no action kind "email.positoning" (UNKNOWN_ACTION)`,
    )
    expect(r.out).toContain('did you mean "email.positioning"?')
    expect(r.out).toContain(
      `${map}:7:19: error: action kind "offer.discount" declares no attribute "discount"`,
    )
    expect(r.out).toContain(`${map}: has errors`)

    const json = JSON.parse((await remit('validate', fixture('remit.yaml'), '--map', map, '--json')).out)
    expect(json).toMatchObject({ valid: false, map: { file: map, valid: false } })
    expect(json.issues.map((i: { code: string }) => i.code)).toEqual(['UNKNOWN_ACTION', 'UNKNOWN_ATTRIBUTE'])
  })
})
