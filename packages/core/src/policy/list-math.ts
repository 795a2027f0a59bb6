import type { Environment } from '@marcbachmann/cel-js'
import type { Meter } from './meter.ts'

// `sum`, `min` and `max` over a list of numbers, called on the list as Kubernetes' CEL list library
// has them: `commitments.map(c, c.value.discountPct).sum() <= 30.0`. Declared on `list<double>` and
// `list<int>`, so a list of strings or touches is an error at load; a `list<dyn>` (a list mapped from
// `value`, which is dyn) passes the check and is checked item by item when it runs.
//
// The result is always a double, whatever the items (ints and doubles may mix): compare it with
// `30.0`, not `30`. The sum of an empty list is 0.0; the min or max of an empty list is an evaluation
// error, so a rule reading one fails closed. Guard it with `size(xs) > 0 && xs.max() > 20.0`.

/** The list functions, by name: what each does to a list of at least one number. */
const LIST_FUNCTIONS: Record<string, { empty?: number; fold: (a: number, b: number) => number }> = {
  sum: { empty: 0, fold: (a, b) => a + b },
  min: { fold: Math.min },
  max: { fold: Math.max },
}

/** Registers `list.sum()`, `list.min()` and `list.max()`; each item costs one step of `meter`. */
export function registerListMath(env: Environment, meter: Meter): void {
  for (const [name, { empty, fold }] of Object.entries(LIST_FUNCTIONS)) {
    const run = (list: unknown[]): number => {
      meter.charge(list.length)
      if (list.length === 0) {
        if (empty === undefined) throw new Error(`${name}() of an empty list`)
        return empty
      }
      let out: number | undefined
      for (const item of list) {
        const n = typeof item === 'bigint' ? Number(item) : item
        if (typeof n !== 'number') {
          throw new Error(`no such overload: ${name}() needs a list of numbers, not of ${typeName(item)}`)
        }
        out = out === undefined ? n : fold(out, n)
      }
      return out as number
    }
    env.registerFunction(`list<double>.${name}(): double`, run)
    env.registerFunction(`list<int>.${name}(): double`, run)
  }
}

function typeName(x: unknown): string {
  if (x === null) return 'null'
  if (Array.isArray(x)) return 'lists'
  if (x instanceof Date) return 'timestamps'
  return typeof x === 'object' ? 'objects' : `${typeof x}s`
}
