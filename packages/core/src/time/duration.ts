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
