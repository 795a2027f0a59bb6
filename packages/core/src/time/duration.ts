import { InputError } from '../errors.ts'

const UNIT_MS: Record<string, number> = { ms: 1, s: 1e3, m: 60e3, h: 3600e3, d: 86400e3, w: 604800e3 }
const DURATION = /^(?:\d+(?:\.\d+)?(?:ms|s|m|h|d|w))+$/
const PART = /(\d+(?:\.\d+)?)(ms|s|m|h|d|w)/g

/** Parses `72h`, `30m`, `1h30m`, `7d` into milliseconds; anything else is undefined. */
export function parseDuration(text: string): number | undefined {
  if (!DURATION.test(text)) return undefined
  let total = 0
  for (const [, n, unit] of text.matchAll(PART)) total += Number(n) * (UNIT_MS[unit as string] as number)
  return total
}

export function formatDuration(ms: number): string {
  for (const [unit, size] of [
    ['d', 86400e3],
    ['h', 3600e3],
    ['m', 60e3],
    ['s', 1e3],
  ] as const) {
    if (ms >= size && ms % size === 0) return `${ms / size}${unit}`
  }
  return `${ms}ms`
}

/** A time given by a caller: a Date, an ISO 8601 string or epoch milliseconds. */
export function toDate(value: Date | string | number, path: (string | number)[]): Date {
  const date = value instanceof Date ? value : new Date(value)
  if (Number.isNaN(date.getTime())) {
    throw new InputError('BAD_TIME', `expected an ISO 8601 time, got ${JSON.stringify(value)}`, path)
  }
  return date
}

const NANOS: Record<string, bigint> = {
  ns: 1n,
  us: 1_000n,
  µs: 1_000n,
  ms: 1_000_000n,
  s: 1_000_000_000n,
  m: 60_000_000_000n,
  h: 3_600_000_000_000n,
  d: 86_400_000_000_000n,
  w: 604_800_000_000_000n,
}
const CEL_DURATION = /^[-+]?(?:(?:\d+\.?\d*|\.\d+)(?:ns|us|µs|ms|s|m|h|d|w))+$/
const CEL_PART = /(\d+\.?\d*|\.\d+)(ns|us|µs|ms|s|m|h|d|w)/g

/** The units `duration('…')` takes in a condition, as a hint names them. */
export const CEL_DURATION_UNITS = 'ns, us, ms, s, m, h, d (24 hours), w (7 days)'

/**
 * Parses a duration as CEL's `duration('…')` reads it (Go's syntax: `1.5h`, `-30s`, `2h45m`, units
 * ns, us, ms, s, m, h) with the policy file's `d` and `w` besides: nanoseconds, or undefined. A day
 * is 24 hours, a week 7 days: a length of time, not a calendar step.
 */
export function parseCelDuration(text: string): bigint | undefined {
  if (!CEL_DURATION.test(text)) return undefined
  let total = 0n
  for (const [, number, unit] of text.matchAll(CEL_PART)) {
    const size = NANOS[unit as string] as bigint
    const [whole = '', fraction = ''] = (number as string).split('.')
    total += BigInt(whole || '0') * size
    // Digits past the nanosecond cannot count; 13 are enough for a week's worth of them.
    if (fraction) total += (BigInt(fraction.slice(0, 13).padEnd(13, '0')) * size) / 10_000_000_000_000n
  }
  return text.startsWith('-') ? -total : total
}
