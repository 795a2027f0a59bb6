import { readFile } from 'node:fs/promises'
import { formatIssue, type Policy, type PolicyIssue } from '@remit/core'
import { closest, PolicySource } from '@remit/core/internal'
import type { z } from 'zod'
import { type ArgumentPath, parseArgumentPath } from './path.ts'
import { KNOWN_KEYS, type ToolMappingDocument, toolMapSchema } from './schema.ts'

// mcp.yaml is read as the policy is (core's PolicySource: a YAML document that can say where any
// path in it is). Its shape errors are worded here, not by core's schemaIssues: that one's "did you
// mean" knows the policy's keys, and mcp.yaml has its own.

type YamlPath = readonly (string | number)[]

/** A fact's source: an argument of the call, or a value every call carries. */
export type FactSource = { path: ArgumentPath } | { value: unknown }

/** A tool Remit decides: its action kind, and where its arguments name the customer and the action. */
export interface GatedTool {
  tool: string
  passthrough: false
  action: string
  customer: { accountId?: ArgumentPath; contactId?: ArgumentPath; email?: ArgumentPath }
  attributes: Record<string, ArgumentPath>
  facts: Record<string, FactSource>
}

/** A tool `mcp.yaml` lets through ungated. */
export interface PassthroughTool {
  tool: string
  passthrough: true
}

export type ToolRoute = GatedTool | PassthroughTool

/** A loaded mcp.yaml: tool name → its route. A tool it does not name is denied. */
export interface ToolMap {
  file: string
  tools: ReadonlyMap<string, ToolRoute>
}

/** An mcp.yaml that cannot be used: every error, each with file:line:col and a hint. */
export class ToolMapError extends Error {
  readonly code = 'MCP_MAP_INVALID'
  readonly issues: PolicyIssue[]
  constructor(issues: PolicyIssue[]) {
    const errors = issues.filter((i) => i.severity === 'error')
    super(
      `mcp map has ${errors.length} error${errors.length === 1 ? '' : 's'}:\n${errors.map(formatIssue).join('\n')}`,
    )
    this.name = 'ToolMapError'
    this.issues = issues
  }
}

export interface ToolMapCheck {
  /** The map, when there were no errors. */
  map?: ToolMap
  /** Every error, in file order. */
  issues: PolicyIssue[]
}

/**
 * Checks mcp.yaml's text: its shape, each argument path, and — with `policy` — that every action
 * kind, attribute and fact it names is declared there (the checks `loadToolMap` throws for).
 */
export function checkToolMap(text: string, o: { file?: string; policy?: Policy } = {}): ToolMapCheck {
  const src = new PolicySource(text, o.file ?? '<mcp map>')
  // The policy's hint speaks of CEL expressions, which mcp.yaml has none of.
  const syntax = src.syntaxIssues().map((i): PolicyIssue => ({ ...i, hint: 'check indentation and quoting' }))
  if (syntax.some((i) => i.severity === 'error')) return { issues: syntax }
  const parsed = toolMapSchema.safeParse(src.doc.toJS())
  if (!parsed.success) return { issues: sorted([...syntax, ...shapeIssues(src, parsed.error)]) }

  const issues: PolicyIssue[] = [...syntax]
  const tools = new Map<string, ToolRoute>()
  for (const [tool, doc] of Object.entries(parsed.data.tools)) {
    const route = toolRoute(src, tool, doc, o.policy, issues)
    if (route) tools.set(tool, route)
  }
  if (issues.some((i) => i.severity === 'error')) return { issues: sorted(issues) }
  return { map: { file: src.file, tools }, issues: sorted(issues) }
}

/** Loads mcp.yaml's text, checked against `policy`. Throws `ToolMapError` listing every error. */
export function loadToolMap(text: string, o: { file?: string; policy?: Policy } = {}): ToolMap {
  const result = checkToolMap(text, o)
  if (!result.map) throw new ToolMapError(result.issues)
  return result.map
}

export async function loadToolMapFile(path: string, policy?: Policy): Promise<ToolMap> {
  return loadToolMap(await readFile(path, 'utf8'), { file: path, ...(policy ? { policy } : {}) })
}

function toolRoute(
  src: PolicySource,
  tool: string,
  doc: ToolMappingDocument,
  policy: Policy | undefined,
  issues: PolicyIssue[],
): ToolRoute | undefined {
  const at: YamlPath = ['tools', tool]
  // Positioned at the value, or (`atKey`) at the key that names what is wrong.
  const issue = (path: YamlPath, code: string, message: string, hint?: string, atKey = false) =>
    issues.push({
      severity: 'error',
      code,
      message,
      path: [...path],
      position: atKey ? src.keyPosition(path.slice(0, -1), String(path.at(-1))) : src.position(path),
      ...(hint ? { hint } : {}),
    })
  if (doc.passthrough) {
    const mapped = (['action', 'customer', 'attributes', 'facts'] as const).filter(
      (k) => doc[k] !== undefined,
    )
    if (mapped.length) {
      issue(
        [...at, mapped[0] as string],
        'PASSTHROUGH_MAPPED',
        `tool "${tool}" is passthrough: true, so Remit never decides it; it cannot also have ${mapped.join(', ')}`,
        'remove passthrough to gate the tool, or the mapping to let it through ungated',
        true,
      )
      return undefined
    }
    return { tool, passthrough: true }
  }
  if (!doc.action) {
    issue(
      at,
      'MISSING_FIELD',
      `tool "${tool}" names no action kind`,
      'add "action: <kind>" (a kind the policy declares), or "passthrough: true" to let it through ungated',
    )
    return undefined
  }
  const kinds = policy ? [...policy.actions.keys()] : undefined
  const kind = policy?.actions.get(doc.action)
  if (kinds && !kind) {
    const meant = closest(doc.action, kinds)
    issue(
      [...at, 'action'],
      'UNKNOWN_ACTION',
      `the policy declares no action kind "${doc.action}"`,
      meant ? `did you mean "${meant}"?` : `declared kinds: ${kinds.join(', ')}`,
    )
  }
  const pathOf = (path: YamlPath, text: string): ArgumentPath => {
    const parsed = parseArgumentPath(text)
    if (!parsed)
      issue(
        path,
        'BAD_PATH',
        `"${text}" is neither an argument name nor a simple JSONPath`,
        "write an argument's name (to) or $.a.b[0].c",
      )
    return parsed ?? []
  }

  const customer: GatedTool['customer'] = {}
  for (const key of ['accountId', 'contactId', 'email'] as const) {
    const text = doc.customer?.[key]
    if (text !== undefined) customer[key] = pathOf([...at, 'customer', key], text)
  }
  if (!customer.accountId && !customer.contactId && !customer.email)
    issue(
      doc.customer ? [...at, 'customer'] : at,
      'NO_CUSTOMER',
      `tool "${tool}" does not say which argument names the customer`,
      'add customer: { accountId: <argument> } (or contactId, or email)',
    )

  const attributes: Record<string, ArgumentPath> = {}
  const declared = kind?.attributes ?? {}
  for (const [name, text] of Object.entries(doc.attributes ?? {})) {
    if (kind && !Object.hasOwn(declared, name)) {
      const meant = closest(name, Object.keys(declared))
      issue(
        [...at, 'attributes', name],
        'UNKNOWN_ATTRIBUTE',
        `action kind "${doc.action}" declares no attribute "${name}"`,
        meant
          ? `did you mean "${meant}"?`
          : `its attributes: ${Object.keys(declared).join(', ') || 'none (declare them under actions: in the policy)'}`,
        true,
      )
    }
    attributes[name] = pathOf([...at, 'attributes', name], text)
  }

  const facts: Record<string, FactSource> = {}
  for (const [name, source] of Object.entries(doc.facts ?? {})) {
    if (policy && !Object.hasOwn(policy.facts, name)) {
      const meant = closest(name, Object.keys(policy.facts))
      issue(
        [...at, 'facts', name],
        'UNKNOWN_FACT',
        `the policy declares no fact "${name}"`,
        meant
          ? `did you mean "${meant}"?`
          : `declared facts: ${Object.keys(policy.facts).join(', ') || 'none'}`,
        true,
      )
    }
    facts[name] =
      typeof source === 'string' ? { path: pathOf([...at, 'facts', name], source) } : { value: source.value }
  }
  return { tool, passthrough: false, action: doc.action, customer, attributes, facts }
}

/** Zod's complaints about the file's shape, positioned, with the keys each place knows. */
function shapeIssues(src: PolicySource, error: z.ZodError): PolicyIssue[] {
  return error.issues.flatMap((zi): PolicyIssue[] => {
    const path = zi.path.map((p) => (typeof p === 'symbol' ? String(p) : p))
    if (zi.code === 'unrecognized_keys') {
      const known = knownKeys(path)
      return zi.keys.map((key) => {
        const meant = closest(key, known)
        return {
          severity: 'error',
          code: 'UNKNOWN_KEY',
          message: `unknown key "${key}"`,
          path: [...path, key],
          position: src.keyPosition(path, key),
          hint: meant ? `did you mean "${meant}"?` : `expected one of: ${known.join(', ')}`,
        }
      })
    }
    // An absent field is reported as a value of the wrong type; the file tells the two apart.
    if (path.length && !src.doc.hasIn(path)) {
      const field = String(path.at(-1))
      return [
        {
          severity: 'error',
          code: 'MISSING_FIELD',
          message: `missing required field "${field}"`,
          path,
          position: src.position(path.slice(0, -1)),
          hint: field === 'version' ? 'add "version: 1"' : `add "${field}:" here`,
        },
      ]
    }
    return [
      { severity: 'error', code: 'INVALID_VALUE', message: zi.message, path, position: src.position(path) },
    ]
  })
}

function knownKeys(path: (string | number)[]): readonly string[] {
  if (path.length === 0) return KNOWN_KEYS.root
  if (path[0] === 'tools' && path.length === 2) return KNOWN_KEYS.tool
  if (path[0] === 'tools' && path[2] === 'customer') return KNOWN_KEYS.customer
  return []
}

function sorted(issues: PolicyIssue[]): PolicyIssue[] {
  return issues
    .map((issue, i) => ({ issue, i }))
    .sort(
      (x, y) =>
        (x.issue.position?.line ?? 0) - (y.issue.position?.line ?? 0) ||
        (x.issue.position?.column ?? 0) - (y.issue.position?.column ?? 0) ||
        x.i - y.i,
    )
    .map((x) => x.issue)
}
