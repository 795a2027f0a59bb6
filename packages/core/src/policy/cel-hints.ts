import type { CelEnvironment, CelProblem } from './cel-model.ts'
import { didYouMean } from './suggest.ts'

// A type checker's error, retold in the policy's terms: an unknown field names the fields its object
// has (read from the types declared to CEL, so the hint cannot name a field that does not exist), and
// an unknown function names the functions the environment has (read from cel-js's own registry).

interface CheckError {
  code?: string
  message?: string
  node?: { op: string; args: unknown; start?: number }
  range?: { start: number }
}
interface Typed {
  checkedType?: { name: string }
}

/** The built-in fields of `customer`, besides the facts the policy declares. */
const CUSTOMER_IDS = ['id', 'accountId', 'contactId', 'email']
/** The built-in fields of `action`, besides the attributes the policy declares. */
const ACTION_FIELDS = ['kind', 'channel', 'outbound', 'commitment']

const SUBJECT: Record<string, string> = {
  Agent: 'agent',
  Action: 'action',
  Customer: 'customer',
  Touch: 'a touch',
  Commitment: 'a commitment',
}

/** A problem told in the policy's terms, or undefined when the error is none of those. */
export function celErrorProblem(error: unknown, celEnv: CelEnvironment): CelProblem | undefined {
  const e = error as CheckError
  if (!e?.node) return undefined
  if (e.code === 'no_such_key') return unknownField(e, celEnv)
  if (e.code === 'no_matching_overload' && (e.node.op === 'call' || e.node.op === 'rcall')) {
    return unknownFunction(e, celEnv)
  }
  return undefined
}

function unknownField(e: CheckError, { types, declared }: CelEnvironment): CelProblem | undefined {
  const node = e.node as { op: string; args: unknown[]; start?: number }
  const key = /No such key: (.+)/.exec(e.message ?? '')?.[1]
  const type = (node.args[0] as Typed | undefined)?.checkedType?.name
  const fields = type ? types[type] : undefined
  if (!key || !type || !fields) return undefined
  const offset = e.range?.start ?? node.start ?? 0
  const names = Object.keys(fields)
  const near = didYouMean(key, names)
  const problem = (message: string, hint: string): CelProblem => ({
    code: 'CEL_INVALID',
    message,
    offset,
    hint,
  })
  if (type === 'Customer') {
    const facts = declared.facts.length ? declared.facts.join(', ') : 'none'
    return problem(
      `customer has no field "${key}": conditions read the facts declared under facts: (${facts}) and ${CUSTOMER_IDS.join(', ')}`,
      near ??
        elsewhere(key, 'an action attribute', 'action', declared.attributes) ??
        `declare ${key} under facts: to read customer.${key}`,
    )
  }
  if (type === 'Action') {
    const attrs = declared.attributes.length ? declared.attributes.join(', ') : 'none'
    return problem(
      `action has no field "${key}": its fields are ${ACTION_FIELDS.join(', ')} and the attributes declared under actions: (${attrs})`,
      near ??
        elsewhere(key, 'a fact', 'customer', [...declared.facts, ...CUSTOMER_IDS]) ??
        `declare ${key} under an action's attributes: to read action.${key}`,
    )
  }
  const subject = SUBJECT[type] ?? type
  return problem(
    `${subject} has no field "${key}": its fields are ${names.join(', ')}`,
    near ??
      elsewhere(key, 'a fact', 'customer', [...declared.facts, ...CUSTOMER_IDS]) ??
      `use one of: ${names.join(', ')}`,
  )
}

/** `"tier" is a fact: read it as customer.tier`, when the name belongs to another variable. */
function elsewhere(key: string, what: string, variable: string, names: string[]): string | undefined {
  return names.includes(key) ? `"${key}" is ${what}: read it as ${variable}.${key}` : undefined
}

function unknownFunction(e: CheckError, { env }: CelEnvironment): CelProblem {
  const node = e.node as { op: string; args: unknown[]; start?: number }
  const name = node.args[0] as string
  const offset = e.range?.start ?? node.start ?? 0
  const { functions } = env.getDefinitions()
  const signatures = functions.filter((f) => f.name === name).flatMap((f) => shown(f.signature))
  if (signatures.length === 0) {
    const names = [...new Set(functions.map((f) => f.name))]
    return {
      code: 'CEL_INVALID',
      message: `no function "${name}"`,
      offset,
      hint: didYouMean(name, names) ?? 'docs/cel.md lists the functions conditions can call',
    }
  }
  const given = /found no matching overload for '(.+)'/.exec(e.message ?? '')?.[1]
  const unique = [...new Set(signatures)]
  return {
    code: 'CEL_INVALID',
    message: `${name} takes ${unique.join(', ')}${given ? `, not ${pretty(given)}` : ''}`,
    offset,
    hint:
      node.op === 'call' && unique.every((s) => !s.startsWith(`${name}(`))
        ? `call it on its receiver, as in ${unique[0]}`
        : 'check the type of each argument and of what it is called on; docs/cel.md has an example of each function',
  }
}

/**
 * A signature as an author would write the call. Remit's macros are registered as `bytes.x(ast)`
 * (regex.ts, time.ts) beside cel-js's own `string.matches(string)` and `timestamp.getHours(string)`,
 * which say the same: those are left out, and `matches(ast, ast)` reads as the strings it takes.
 */
function shown(signature: string): string[] {
  const call = signature.replace(/\):.*$/, ')')
  if (/^bytes\.\w+\(ast/.test(call)) return []
  return [pretty(call.replace(/\bast\b/g, 'string'))]
}

function pretty(type: string): string {
  return type
    .replaceAll('google.protobuf.Timestamp', 'timestamp')
    .replaceAll('google.protobuf.Duration', 'duration')
    .replaceAll('list<dyn>', 'list')
    .replaceAll('map<dyn, dyn>', 'map')
}
