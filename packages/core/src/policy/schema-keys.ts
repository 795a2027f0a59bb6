import { z } from 'zod'
import type { PolicyPath } from './load-model.ts'
import { policySchema } from './schema.ts'

// Read from the schema itself, so a key added there is known to every hint without a second list.

/** Keys the object at `path` of a policy accepts, for "did you mean" hints; none past the schema. */
export function knownKeys(path: PolicyPath): string[] {
  const keys = schemasAt(policySchema, path).flatMap((s) =>
    s instanceof z.ZodObject ? Object.keys(s.shape) : [],
  )
  return [...new Set(keys)]
}

/** The schemas a value at `path` is checked against: several where a union offers alternatives. */
function schemasAt(schema: z.core.$ZodType, path: PolicyPath): z.core.$ZodType[] {
  const [head, ...rest] = path
  const here = alternatives(schema)
  if (head === undefined) return here
  return here.flatMap((s) => {
    const child = childAt(s, head)
    return child ? schemasAt(child, rest) : []
  })
}

/** What a value must match, seen through wrappers that only allow absence or null, or add a default. */
function alternatives(schema: z.core.$ZodType): z.core.$ZodType[] {
  if (schema instanceof z.ZodUnion) return schema.options.flatMap(alternatives)
  if (schema instanceof z.ZodOptional || schema instanceof z.ZodNullable || schema instanceof z.ZodDefault) {
    return alternatives(schema.unwrap())
  }
  // Input is checked against the pipe's first schema; a transform after it accepts whatever that yields.
  if (schema instanceof z.ZodPipe) return alternatives(schema.in)
  return [schema]
}

function childAt(schema: z.core.$ZodType, key: string | number): z.core.$ZodType | undefined {
  if (schema instanceof z.ZodObject) {
    return typeof key === 'string' && Object.hasOwn(schema.shape, key) ? schema.shape[key] : undefined
  }
  if (schema instanceof z.ZodArray) return typeof key === 'number' ? schema.element : undefined
  if (schema instanceof z.ZodRecord) return typeof key === 'string' ? schema.valueType : undefined
  return undefined
}
