import { readFile } from 'node:fs/promises'
import { checkPolicy } from '@remit/core'
import { type Io, paint, printIssue } from '../output.ts'

export interface ValidateOptions {
  strict?: boolean
  json?: boolean
}

/** Exit codes: 0 valid, 1 warnings under --strict, 2 errors. */
export async function validate(io: Io, path: string, options: ValidateOptions): Promise<number> {
  const result = checkPolicy(await readFile(path, 'utf8'), { file: path })
  const errors = result.issues.filter((i) => i.severity === 'error').length
  const warnings = result.issues.length - errors
  if (options.json) {
    io.out(
      JSON.stringify(
        { file: path, valid: errors === 0, version: result.policy?.version, issues: result.issues },
        null,
        2,
      ),
    )
  } else {
    for (const issue of result.issues) printIssue(io, issue)
    if (errors) io.out(paint(io, ['bold', 'red'], `${path}: ${errors} error(s), ${warnings} warning(s)`))
    else {
      const p = result.policy
      const summary = p
        ? `${p.rules.length} rules, ${p.agents.size} agents, ${p.teams.size} teams, ${p.actions.size} action kinds; version ${p.version}`
        : ''
      io.out(
        paint(io, ['bold', 'green'], `${path}: valid`) +
          ` (${summary})${warnings ? `, ${warnings} warning(s)` : ''}`,
      )
    }
  }
  if (errors) return 2
  return warnings && options.strict ? 1 : 0
}
