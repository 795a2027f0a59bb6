import { readFileSync } from 'node:fs'
import { formatIssue, loadPolicyFile } from '@remit/core'
import { describe, expect, it } from 'vitest'
import { checkToolMap, loadToolMap, ToolMapError } from '../src/index.ts'
import { callDigest, callRequest } from '../src/map/request.ts'
import { fixture } from './harness.ts'

const policy = await loadPolicyFile(fixture('remit.yaml'))
const check = (text: string) =>
  checkToolMap(text, { file: 'mcp.yaml', policy }).issues.map((i) => formatIssue(i).split('\n'))

describe('mcp.yaml', () => {
  it('loads the tools it maps, with their arguments read by name or JSONPath', () => {
    const map = loadToolMap(readFileSync(fixture('mcp.yaml'), 'utf8'), { policy })
    expect([...map.tools.keys()]).toEqual(['send_email', 'create_offer', 'search_contacts'])
    const offer = map.tools.get('create_offer')
    if (!offer || offer.passthrough) throw new Error('create_offer is gated')
    expect(
      callRequest(offer, { customer: { account: 'acme', lifecycle: 'renewal' }, discount: { pct: 12 } }),
    ).toEqual({
      action: { kind: 'offer.discount', discountPct: 12 },
      customer: { accountId: 'acme', facts: { lifecycle: 'renewal' } },
    })
  })

  it('names an action kind the policy lacks by file:line:col, with the kind it probably meant', () => {
    expect(
      check('version: 1\ntools:\n  send_email:\n    action: email.positoning\n    customer: { email: to }\n'),
    ).toEqual([
      [
        'mcp.yaml:4:13: error: the policy declares no action kind "email.positoning" (UNKNOWN_ACTION)',
        '  hint: did you mean "email.positioning"?',
      ],
    ])
  })

  it('refuses unknown keys, undeclared attributes and facts, bad paths and tools naming no customer', () => {
    const text = [
      'version: 1',
      'tools:',
      '  create_offer:',
      '    action: offer.discount',
      '    customer: { accountId: "$.customer..account" }',
      '    attributes: { discountPc: $.pct }',
      '    facts: { lifecyle: $.lifecycle }',
      '  send_email: { action: email.positioning }',
      '  search: { passthrough: true, action: email.positioning }',
      '',
    ].join('\n')
    expect(check(text).map((lines) => lines[0])).toEqual([
      'mcp.yaml:5:28: error: "$.customer..account" is neither an argument name nor a simple JSONPath (BAD_PATH)',
      'mcp.yaml:6:19: error: action kind "offer.discount" declares no attribute "discountPc" (UNKNOWN_ATTRIBUTE)',
      'mcp.yaml:7:14: error: the policy declares no fact "lifecyle" (UNKNOWN_FACT)',
      'mcp.yaml:8:15: error: tool "send_email" does not say which argument names the customer (NO_CUSTOMER)',
      'mcp.yaml:9:32: error: tool "search" is passthrough: true, so Remit never decides it; it cannot also have action (PASSTHROUGH_MAPPED)',
    ])
    expect(check('version: 1\ntools:\n  send_email: { acton: x }\n')[0]).toEqual([
      'mcp.yaml:3:17: error: unknown key "acton" (UNKNOWN_KEY)',
      '  hint: did you mean "action"?',
    ])
  })

  it('throws every error at once when loaded', () => {
    expect(() => loadToolMap('tools: {}\n', { file: 'mcp.yaml' })).toThrow(ToolMapError)
    expect(() => loadToolMap('tools: {}\n', { file: 'mcp.yaml' })).toThrow(
      'mcp.yaml:1:1: error: missing required field "version" (MISSING_FIELD)',
    )
  })

  it('binds a call by its tool, arguments and customer, whatever the order of their keys', () => {
    const customer = { accountId: 'acme', facts: {} }
    expect(callDigest('t', { a: 1, b: { c: 2, d: 3 } }, customer)).toBe(
      callDigest('t', { b: { d: 3, c: 2 }, a: 1 }, customer),
    )
    expect(callDigest('t', { a: 1 }, customer)).not.toBe(callDigest('t', { a: 2 }, customer))
    expect(callDigest('t', { a: 1 }, customer)).not.toBe(callDigest('u', { a: 1 }, customer))
  })
})
