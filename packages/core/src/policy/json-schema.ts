import { z } from 'zod'
import { policySchema } from './schema.ts'

/** The schema's identifier: a name (a URN), not a place it is fetched from. */
export const POLICY_JSON_SCHEMA_ID = 'urn:remit:policy:remit.schema.json'

// What the JSON Schema cannot say: zod's custom checks have no JSON Schema form and are left out,
// so here the schema is looser than the loader. Named in the schema's description, for its readers.
const DESCRIPTION = [
  "Remit's policy file, remit.yaml (its format: docs/policy.md in Remit's repository),",
  "generated from @remit/core's zod schema. It checks the shape: keys, types, allowed values, required keys.",
  'Left to `remit validate`, the authority, and not checked here:',
  'the syntax of durations (per, expiresAfter, commitmentLasts, lookback), only strings here;',
  'CEL conditions (when, until), only strings here;',
  'that names refer to declared teams, agents and action kinds; that rule ids and tools are unique;',
  'reserved fact and attribute names (constructor, __proto__, …).',
].join(' ')

/**
 * remit.yaml's JSON Schema, as shipped in `@remit/core/remit.schema.json`: draft-07, the version
 * the YAML language server (and so editors) reads. Made from `policySchema` by zod, describing
 * what an author writes (defaults make keys optional; shorthands such as `tier: string` allowed).
 */
export function policyJsonSchema(): Record<string, unknown> {
  const { $schema, ...schema } = z.toJSONSchema(policySchema, { target: 'draft-7', io: 'input' })
  return {
    $schema,
    $id: POLICY_JSON_SCHEMA_ID,
    title: 'Remit policy (remit.yaml)',
    description: DESCRIPTION,
    ...schema,
  }
}
