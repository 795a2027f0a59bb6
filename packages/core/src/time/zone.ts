import { closest } from '../policy/suggest.ts'

// The wall clock in a customer's zone, from the instant and the IANA zone alone: Intl.DateTimeFormat
// reads the time zone database, and nothing here goes through the process's own zone (no local
// `Date` getters, no parsing of a formatted local time), so every server reads the same hour.

/** An instant's wall clock in one zone, numbered as CEL numbers it. */
export interface ZonedTime {
  year: number
  /** 0 = January. */
  month: number
  /** Day of the month, from 1. */
  date: number
  /** 0 = Sunday. */
  dayOfWeek: number
  /** Day of the year, from 0. */
  dayOfYear: number
  hours: number
  minutes: number
  seconds: number
  milliseconds: number
}

interface Zone {
  format: Intl.DateTimeFormat
  /** The last instant read in this zone and its wall clock: a decision reads `now` several times. */
  lastTime: number
  last: ZonedTime | undefined
}

const zones = new Map<string, Zone | null>()
const MAX_ZONES = 512

function zone(name: string): Zone | undefined {
  let found = zones.get(name)
  if (found === undefined) {
    found = open(name)
    // Names read from data are unbounded when they are wrong: a bounded cache, as for patterns.
    if (zones.size >= MAX_ZONES) zones.clear()
    zones.set(name, found)
  }
  return found ?? undefined
}

function open(name: string): Zone | null {
  // `Intl` also takes fixed offsets in newer engines; a rule means a place, whose offset changes.
  if (!/^[A-Za-z]/.test(name)) return null
  try {
    const format = new Intl.DateTimeFormat('en-US-u-ca-gregory-nu-latn', {
      timeZone: name,
      hourCycle: 'h23',
      year: 'numeric',
      month: 'numeric',
      day: 'numeric',
      hour: 'numeric',
      minute: 'numeric',
      second: 'numeric',
    })
    return { format, lastTime: Number.NaN, last: undefined }
  } catch {
    return null
  }
}

/** Whether `name` is a time zone the conditions can read: an IANA name such as `Europe/Paris`, or `UTC`. */
export function isTimeZone(name: string): boolean {
  return zone(name) !== undefined
}

/** The wall clock of `instant` in zone `name`; undefined when there is no such zone. */
export function zonedTime(instant: Date, name: string): ZonedTime | undefined {
  const z = zone(name)
  if (!z) return undefined
  const time = instant.getTime()
  if (time === z.lastTime && z.last) return z.last
  const parts: Record<string, number> = {}
  for (const p of z.format.formatToParts(time)) if (p.type !== 'literal') parts[p.type] = Number(p.value)
  const { year = 0, month = 1, day = 1, hour = 0, minute = 0, second = 0 } = parts
  const midnight = Date.UTC(year, month - 1, day)
  const out: ZonedTime = {
    year,
    month: month - 1,
    date: day,
    dayOfWeek: new Date(midnight).getUTCDay(),
    dayOfYear: (midnight - Date.UTC(year, 0, 1)) / 86400e3,
    hours: hour,
    minutes: minute,
    seconds: second,
    // Zone offsets are whole seconds: the milliseconds are the instant's, in any zone.
    milliseconds: ((time % 1000) + 1000) % 1000,
  }
  z.lastTime = time
  z.last = out
  return out
}

/** Day of the year in UTC, from 0. */
export function utcDayOfYear(instant: Date): number {
  const year = instant.getUTCFullYear()
  const midnight = Date.UTC(year, instant.getUTCMonth(), instant.getUTCDate())
  return (midnight - Date.UTC(year, 0, 1)) / 86400e3
}

let known: string[] | undefined

/** What to say about a zone that is not one: the nearest name, and what a zone looks like. */
export function timeZoneHint(name: string): string {
  known ??= ['UTC', ...Intl.supportedValuesOf('timeZone')]
  const meant = /^[A-Za-z]/.test(name) ? closest(name, known) : undefined
  const offset = /^[+-]\d/.test(name) ? ' (a fixed offset ignores daylight saving time: name the place)' : ''
  const what = `zones are IANA names such as "Europe/Paris", "America/New_York" or "UTC"${offset}`
  return meant ? `did you mean "${meant}"? ${what}` : what
}
