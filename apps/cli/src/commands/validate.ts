import { readFile } from 'node:fs/promises'
import { analyzePolicy, checkPolicy, type PolicyIssue } from '@remit/core'
import { parse } from 'yaml'
import { optional } from '../optional.ts'
import { type Io, paint, printIssue } from '../output.ts'

export interface ValidateOptions {
  strict?: boolean
  json?: boolean
  /** Facts callers send (comma-separated names). */
  facts?: string
  /** Provider configurations (hubspot.yaml …) whose facts count as supplied. */
  suppliedBy?: string[]
  /** An mcp.yaml to check against the policy (its action kinds, attributes and facts). */
  map?: string
}

/** mcp.yaml's issues, checked against the policy when it loaded (else its shape only). */
async function mapIssues(
  file: string,
  policy: Parameters<typeof analyzePolicy>[0] | undefined,
): Promise<{ issues: PolicyIssue[]; tools?: number }> {
  const mcp = await optional('@remit/mcp', 'remit validate --map', () => import('@remit/mcp'))
  const result = mcp.checkToolMap(await readFile(file, 'utf8'), { file, ...(policy ? { policy } : {}) })
  return result.map ? { issues: result.issues, tools: result.map.tools.size } : { issues: result.issues }
}

/** The facts a provider configuration fills: hubspot.yaml's mappings, or a plain `facts: [..]` list. */
async function suppliedFacts(o: ValidateOptions): Promise<string[] | undefined> {
  if (!o.facts && !o.suppliedBy?.length) return undefined
  const out = (o.facts ?? '')
    .split(',')
    .map((f) => f.trim())
    .filter(Boolean)
  for (const file of o.suppliedBy ?? []) {
    const c = (parse(await readFile(file, 'utf8')) ?? {}) as {
      facts?: string[]
      properties?: Record<string, unknown>
      fields?: Record<string, unknown>
      context?: { properties?: Record<string, unknown>; ticketFact?: string; renewal?: { fact?: string } }
      openCaseFact?: string
      renewal?: { fact?: string }
    }
    out.push(
      ...(c.facts ?? []),
      ...Object.keys(c.properties ?? {}),
      ...Object.keys(c.fields ?? {}),
      ...Object.keys(c.context?.properties ?? {}),
    )
    for (const f of [c.context?.ticketFact, c.context?.renewal?.fact, c.openCaseFact, c.renewal?.fact])
      if (f) out.push(f)
  }
  return out
}

/** Exit codes: 0 valid, 1 warnings under --strict, 2 errors. */
export async function validate(io: Io, path: string, options: ValidateOptions): Promise<number> {
  const result = checkPolicy(await readFile(path, 'utf8'), { file: path })
  if (result.policy) {
    const supplied = await suppliedFacts(options)
    result.issues.push(...analyzePolicy(result.policy, supplied ? { suppliedFacts: supplied } : {}))
    result.issues.sort((a, b) => (a.position?.line ?? 0) - (b.position?.line ?? 0))
  }
  const map = options.map ? await mapIssues(options.map, result.policy) : undefined
  const issues = [...result.issues, ...(map?.issues ?? [])]
  const errors = issues.filter((i) => i.severity === 'error').length
  const warnings = issues.length - errors
  const mapValid = map ? !map.issues.some((i) => i.severity === 'error') : undefined
  if (options.json) {
    io.out(
      JSON.stringify(
        {
          file: path,
          valid: errors === 0,
          version: result.policy?.version,
          issues,
          ...(options.map ? { map: { file: options.map, valid: mapValid } } : {}),
        },
        null,
        2,
      ),
    )
  } else {
    for (const issue of issues) printIssue(io, issue)
    if (map && options.map)
      io.out(
        mapValid
          ? `${paint(io, ['bold', 'green'], `${options.map}: valid`)} (${map.tools} tools, checked against ${path})`
          : paint(io, ['bold', 'red'], `${options.map}: has errors`),
      )
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
