import { isMap, isScalar } from 'yaml'
import type { PolicyIssue } from '../errors.ts'
import type { PolicySource } from './source.ts'

/**
 * Names every JavaScript object already answers to (`constructor`, `toString`, `__proto__`, …).
 * Facts and attributes become properties of the objects rules read, and are looked up by name in
 * plain objects along the way: such a name would read, or replace, what every object inherits.
 */
const RESERVED = new Set(Object.getOwnPropertyNames(Object.prototype))

/**
 * Facts and action attributes named like a property of every object: errors, at the name. Read from
 * the YAML itself, since turning it into objects already loses `__proto__` (it sets the prototype).
 */
export function reservedNameIssues(src: PolicySource): PolicyIssue[] {
  const issues: PolicyIssue[] = []
  const check = (what: 'fact' | 'attribute', path: (string | number)[]) => {
    for (const name of keys(src, path)) {
      if (!RESERVED.has(name)) continue
      issues.push({
        severity: 'error',
        code: 'RESERVED_NAME',
        message: `${what} name "${name}" is reserved: every JavaScript object has a property of that name`,
        path: [...path, name],
        position: src.keyPosition(path, name),
        hint: `rename the ${what}; reserved names are ${[...RESERVED].join(', ')}`,
      })
    }
  }
  check('fact', ['facts'])
  for (const kind of keys(src, ['actions'])) check('attribute', ['actions', kind, 'attributes'])
  return issues
}

/** The string keys of the map at `path`, if there is one. */
function keys(src: PolicySource, path: (string | number)[]): string[] {
  const node = src.doc.getIn(path, true)
  if (!isMap(node)) return []
  return node.items.flatMap((pair) =>
    isScalar(pair.key) && typeof pair.key.value === 'string' ? [pair.key.value] : [],
  )
}
