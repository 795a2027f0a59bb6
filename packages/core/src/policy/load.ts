import { readFile } from 'node:fs/promises'
import { PolicyError, type PolicyIssue } from '../errors.ts'
import { assemblePolicy } from './assemble.ts'
import { expressionCompiler } from './compile.ts'
import { lintPolicy } from './lint.ts'
import type { Policy } from './model.ts'
import { collectAttributes, referenceIssues } from './references.ts'
import { reservedNameIssues } from './reserved.ts'
import { compileRules } from './rules.ts'
import { policySchema } from './schema.ts'
import { schemaIssues } from './schema-issues.ts'
import { PolicySource } from './source.ts'

// A step that relies on what earlier ones checked runs only when they found no error; warnings
// never stop a step. The issues come back in file order, whichever step found them.

export interface CheckResult {
  /** The policy, when there were no errors. */
  policy?: Policy
  /** Every error and warning, in file order. */
  issues: PolicyIssue[]
}

/** Loads a policy from YAML text. Throws `PolicyError` listing every error; warnings are on the policy. */
export function loadPolicy(text: string, options: { file?: string } = {}): Policy {
  const result = checkPolicy(text, options)
  if (!result.policy) throw new PolicyError(result.issues)
  return result.policy
}

export async function loadPolicyFile(path: string): Promise<Policy> {
  return loadPolicy(await readFile(path, 'utf8'), { file: path })
}

/** Like `loadPolicy`, but returns the issues instead of throwing (for `remit validate`). */
export function checkPolicy(text: string, options: { file?: string } = {}): CheckResult {
  const src = new PolicySource(text, options.file ?? '<policy>')
  const syntax = src.syntaxIssues()
  if (hasErrors(syntax)) return { issues: syntax }

  const issues = [...syntax, ...reservedNameIssues(src)]
  const parsed = policySchema.safeParse(src.doc.toJS())
  if (!parsed.success) return failed([...issues, ...schemaIssues(src, parsed.error)])

  const doc = parsed.data
  const { attributes, issues: attributeIssues } = collectAttributes(src, doc)
  issues.push(...referenceIssues(src, doc), ...attributeIssues)
  if (hasErrors(issues)) return failed(issues)

  const compiler = expressionCompiler(src, doc, attributes)
  const rules = compileRules(src, doc, compiler.compile)
  issues.push(...compiler.issues)
  if (hasErrors(issues)) return failed(issues)

  const policy = assemblePolicy(text, src.file, doc, attributes, rules)
  const all = sortIssues([...issues, ...lintPolicy(policy, src)])
  return { policy: { ...policy, warnings: all }, issues: all }
}

function hasErrors(issues: readonly PolicyIssue[]): boolean {
  return issues.some((i) => i.severity === 'error')
}

function failed(issues: PolicyIssue[]): CheckResult {
  return { issues: sortIssues(issues) }
}

/** In file order; issues at one place keep the order the steps found them in. */
function sortIssues(issues: PolicyIssue[]): PolicyIssue[] {
  return issues
    .map((issue, i) => ({ issue, i }))
    .sort(
      (x, y) =>
        (x.issue.position?.line ?? 0) - (y.issue.position?.line ?? 0) ||
        (x.issue.position?.column ?? 0) - (y.issue.position?.column ?? 0) ||
        x.i - y.i,
    )
    .map((x) => x.issue)
}
