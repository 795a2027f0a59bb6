import { execFileSync } from 'node:child_process'
import { writeFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { policyJsonSchema } from '../src/policy/json-schema.ts'

// Writes remit.schema.json, the policy's JSON Schema shipped with the package, from the zod schema.
// The file is committed (editors find it in a fresh clone; a change to it shows in review) and a
// test fails when it no longer matches the zod schema: run `node packages/core/scripts/schema.ts`.
// Formatted by the repository's Biome, so that `pnpm lint` accepts what this writes.

const root = fileURLToPath(new URL('../../../', import.meta.url))
const out = fileURLToPath(new URL('../remit.schema.json', import.meta.url))
const json = execFileSync(
  fileURLToPath(new URL('node_modules/.bin/biome', `file://${root}`)),
  ['format', `--stdin-file-path=${out}`],
  { cwd: root, input: JSON.stringify(policyJsonSchema(), null, 2), encoding: 'utf8' },
)
writeFileSync(out, json)
console.log(`wrote ${out}`)
