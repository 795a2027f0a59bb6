import type { z } from 'zod'
import type { PolicyIssue } from '../errors.ts'
import type { PolicyPath } from './load-model.ts'
import { valueTypes } from './schema.ts'
import { knownKeys } from './schema-keys.ts'
import type { PolicySource } from './source.ts'
import { closest, didYouMean, suggestion } from './suggest.ts'

/** Zod's complaints about a policy's shape, positioned in the file and told in the author's terms. */
export function schemaIssues(src: PolicySource, error: z.ZodError): PolicyIssue[] {
  return error.issues.flatMap((issue) => {
    const path = issue.path.map((p) => (typeof p === 'symbol' ? String(p) : p))
    if (issue.code === 'unrecognized_keys') return unknownKeyIssues(src, path, issue.keys)
    if (isMissing(issue)) return [missingFieldIssue(src, path)]
    return [invalidValueIssue(src, path, issue)]
  })
}

function unknownKeyIssues(src: PolicySource, path: PolicyPath, keys: string[]): PolicyIssue[] {
  const known = knownKeys(path)
  return keys.map((key) => ({
    severity: 'error',
    code: 'UNKNOWN_KEY',
    message: `unknown key "${key}"`,
    path: [...path, key],
    position: src.keyPosition(path, key),
    hint: didYouMean(key, known) ?? (known.length ? `expected one of: ${known.join(', ')}` : undefined),
  }))
}

// Zod reports an absent field as a value of the wrong type; only its message tells the two apart.
function isMissing(issue: z.core.$ZodIssue): boolean {
  return issue.code === 'invalid_type' && /received undefined/.test(issue.message)
}

/** Positioned at the object that lacks the field, since the field has no place in the file. */
function missingFieldIssue(src: PolicySource, path: PolicyPath): PolicyIssue {
  const field = String(path.at(-1))
  return {
    severity: 'error',
    code: 'MISSING_FIELD',
    message: `missing required field "${field}"`,
    path,
    position: src.position(path.slice(0, -1)),
    hint: `add "${field}:" here`,
  }
}

function invalidValueIssue(src: PolicySource, path: PolicyPath, issue: z.core.$ZodIssue): PolicyIssue {
  const typed = typeIssueAt(src, path)
  const at = typed ? typed.path : path
  return {
    severity: 'error',
    code: 'INVALID_VALUE',
    message: typed ? typed.message : expectation(issue),
    path: at,
    position: src.position(at),
    hint: typed?.hint,
  }
}

/** Names other languages give Remit's types. A map, so that `constructor` is no alias. */
const TYPE_ALIASES = new Map(
  Object.entries({
    bool: 'boolean',
    int: 'number',
    integer: 'number',
    float: 'number',
    double: 'number',
    decimal: 'number',
    str: 'string',
    text: 'string',
    date: 'timestamp',
    datetime: 'timestamp',
    time: 'timestamp',
    array: 'list',
  }),
)

/**
 * A fact's or an attribute's type that is not one (`type: bool`, `tier: strng`): named with the
 * valid types, and the nearest one. Undefined when `path` is not such a declaration.
 */
function typeIssueAt(
  src: PolicySource,
  path: PolicyPath,
): { message: string; path: PolicyPath; hint: string } | undefined {
  if (!isTypeDeclaration(path)) return undefined
  const node = src.nodeAt(path)
  const value = node && 'toJSON' in node ? (node as { toJSON(): unknown }).toJSON() : undefined
  const given = typeof value === 'string' ? value : (value as { type?: unknown } | undefined)?.type
  const valid = valueTypes.join(', ')
  if (typeof given !== 'string') {
    return {
      message: `expected a type (${valid}) or { type, enum?, optional?, description? }`,
      path,
      hint: 'e.g. tier: { type: string, enum: [smb, enterprise] }',
    }
  }
  if ((valueTypes as readonly string[]).includes(given)) return undefined // something else is wrong
  return {
    message: `unknown type "${given}": the types are ${valid}`,
    path: typeof value === 'string' ? path : [...path, 'type'],
    hint: suggestion(intendedType(given)) ?? `use one of ${valid}`,
  }
}

/** `facts.<name>` or `actions.<kind>.attributes.<name>`: where a value's type is declared. */
function isTypeDeclaration(path: PolicyPath): boolean {
  return (
    (path.length === 2 && path[0] === 'facts') ||
    (path.length === 4 && path[0] === 'actions' && path[2] === 'attributes')
  )
}

/** Another language's name first, then a prefix (`num`), then the nearest by spelling. */
function intendedType(given: string): string | undefined {
  const lower = given.toLowerCase()
  return TYPE_ALIASES.get(lower) ?? valueTypes.find((t) => t.startsWith(lower)) ?? closest(given, valueTypes)
}

function expectation(issue: z.core.$ZodIssue): string {
  if (issue.code === 'invalid_union') return 'expected a name or a list of names'
  if (issue.code === 'invalid_value') {
    return `expected one of ${issue.values.map((v) => JSON.stringify(v)).join(', ')}`
  }
  return issue.message.replace(/^Invalid input: /, '')
}
