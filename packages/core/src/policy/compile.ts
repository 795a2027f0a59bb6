import type { PolicyIssue } from '../errors.ts'
import { buildEnvironment, compileExpression, isProblem } from './cel.ts'
import type { Attributes, CompileExpression } from './load-model.ts'
import type { PolicyDocument } from './schema.ts'
import type { PolicySource } from './source.ts'
import { didYouMean } from './suggest.ts'

/**
 * Compiles a policy's expressions against one CEL environment built from its facts and attributes.
 * An expression that fails becomes an issue at the failing character, kept in `issues`, so that
 * every rule is still compiled and the author sees all the errors at once.
 */
export function expressionCompiler(
  src: PolicySource,
  doc: PolicyDocument,
  attributes: Attributes,
): { compile: CompileExpression; issues: PolicyIssue[] } {
  const env = buildEnvironment(doc, attributes)
  const issues: PolicyIssue[] = []
  const compile: CompileExpression = (path, rule, source, expected) => {
    const out = compileExpression(env, source, expected)
    if (!isProblem(out)) return out
    issues.push({
      severity: 'error',
      code: out.code,
      message: out.message,
      path,
      rule,
      position: src.positionInValue(path, source, out.offset),
      hint: out.hint ?? celHint(out.message, doc, attributes),
    })
    return undefined
  }
  return { compile, issues }
}

/** What to do about a CEL error, told from its message in terms of the policy's own names. */
function celHint(message: string, doc: PolicyDocument, attributes: Attributes): string {
  const key = /No such key: (\w+)/.exec(message)?.[1]
  if (key) {
    const names = [
      ...Object.keys(doc.facts),
      ...Object.keys(attributes),
      'id',
      'accountId',
      'contactId',
      'email',
    ]
    return (
      didYouMean(key, names) ??
      `declare it under facts: (customer.${key}) or under the action's attributes: (action.${key})`
    )
  }
  if (/Unknown variable/.test(message)) {
    return 'rules can read agent, action, customer, touches, commitments and now'
  }
  if (/no such overload/.test(message)) {
    return 'the two sides have different types: compare numbers with numbers (15.0), strings with quoted strings, times with now and duration("48h")'
  }
  return 'see the CEL language definition; conditions must yield true or false'
}
