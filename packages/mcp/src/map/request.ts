import { createHash } from 'node:crypto'
import type { GatedTool } from './load.ts'
import { valueAt } from './path.ts'

/** What a gated call asks Remit about: the action and the customer, read from its arguments. */
export interface CallRequest {
  action: { kind: string } & Record<string, unknown>
  customer: { accountId?: string; contactId?: string; email?: string; facts: Record<string, unknown> }
}

/** A call whose arguments do not say what mcp.yaml expects them to (no customer named). */
export class CallMappingError extends Error {
  readonly code = 'CALL_UNMAPPABLE'
}

/** The decision request a call of `route` stands for. Absent optional arguments are left out. */
export function callRequest(route: GatedTool, args: Record<string, unknown>): CallRequest {
  const customer: CallRequest['customer'] = { facts: {} }
  for (const key of ['accountId', 'contactId', 'email'] as const) {
    const path = route.customer[key]
    const value = path ? valueAt(args, path) : undefined
    if (value !== undefined && value !== null && value !== '') customer[key] = String(value)
  }
  if (!customer.accountId && !customer.contactId && !customer.email) {
    const named = Object.entries(route.customer).map(([key, path]) => `${key} from ${describe(path)}`)
    throw new CallMappingError(
      `the call to ${route.tool} names no customer: mcp.yaml reads ${named.join(', ')}, and the arguments hold none of them`,
    )
  }
  const action: CallRequest['action'] = { kind: route.action }
  for (const [name, path] of Object.entries(route.attributes)) {
    const value = valueAt(args, path)
    if (value !== undefined) action[name] = value
  }
  for (const [name, source] of Object.entries(route.facts)) {
    const value = 'value' in source ? source.value : valueAt(args, source.path)
    if (value !== undefined) customer.facts[name] = value
  }
  return { action, customer }
}

function describe(path: readonly (string | number)[]): string {
  return path.length === 1 && typeof path[0] === 'string'
    ? `"${path[0]}"`
    : `$${path.map((s) => (typeof s === 'number' ? `[${s}]` : `.${s}`)).join('')}`
}

/**
 * What binds an approval to one call: SHA-256 of the tool, its arguments, the customer and who calls
 * (`caller`: an agent, or a key's hash), as canonical JSON (object keys sorted), so the same call in
 * another key order is the same call and any changed argument, or another agent, is another.
 */
export function callDigest(
  tool: string,
  args: Record<string, unknown>,
  customer: CallRequest['customer'],
  caller?: string,
): string {
  const { facts: _facts, ...ids } = customer
  return createHash('sha256')
    .update(canonical({ caller, tool, arguments: args, customer: ids }))
    .digest('hex')
}

function canonical(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonical).join(',')}]`
  if (value && typeof value === 'object')
    return `{${Object.keys(value)
      .filter((k) => (value as Record<string, unknown>)[k] !== undefined)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${canonical((value as Record<string, unknown>)[k])}`)
      .join(',')}}`
  return JSON.stringify(value) ?? 'null'
}
