// Where a value is in a tool call's arguments: an argument's name (`to`), or a simple JSONPath
// (`$.customer.email`, `$.recipients[0].email`, `$['first name']`). No wildcards or filters: a
// mapping names one value.

export type ArgumentPath = readonly (string | number)[]

const STEP = /^(?:\.([A-Za-z_$][\w$-]*)|\[(\d+)\]|\['((?:[^'\\]|\\.)*)'\]|\["((?:[^"\\]|\\.)*)"\])/

/** The steps of `text`, or undefined when it is neither an argument name nor a simple JSONPath. */
export function parseArgumentPath(text: string): ArgumentPath | undefined {
  if (!text.startsWith('$')) return text.trim() === '' ? undefined : [text]
  const steps: (string | number)[] = []
  let rest = text.slice(1)
  while (rest) {
    const m = STEP.exec(rest)
    if (!m) return undefined
    if (m[1] !== undefined) steps.push(m[1])
    else if (m[2] !== undefined) steps.push(Number(m[2]))
    else steps.push((m[3] ?? m[4] ?? '').replace(/\\(.)/g, '$1'))
    rest = rest.slice(m[0].length)
  }
  return steps.length ? steps : undefined
}

/** The value at `path` in `args`, or undefined when any step is missing. */
export function valueAt(args: unknown, path: ArgumentPath): unknown {
  let at: unknown = args
  for (const step of path) {
    if (at === null || typeof at !== 'object') return undefined
    if (typeof step === 'number' ? !Array.isArray(at) : !Object.hasOwn(at, step)) return undefined
    at = (at as Record<string | number, unknown>)[step]
  }
  return at
}
