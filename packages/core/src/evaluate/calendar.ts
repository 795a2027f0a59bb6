import { zonedTime } from '../time/zone.ts'
import { instantOf } from './windows.ts'

// Calendar periods of limits (`per: calendar-week`, `zone: Europe/Paris`): when the current one
// began and when the next begins, on the zone's wall clock (Intl alone, never the process's zone).
// Weeks start on Monday; quarters in January, April, July and October.

export type Period = 'day' | 'week' | 'month' | 'quarter'

/** The local midnight starting the period that holds `instant` (wall clock as UTC ms) and the next one's. */
function bounds(instant: number, period: Period, zone: string): [number, number] {
  const z = zonedTime(new Date(instant), zone)
  if (!z) throw new Error(`no time zone "${zone}"`)
  const { year, month, date } = z
  switch (period) {
    case 'day':
      return [Date.UTC(year, month, date), Date.UTC(year, month, date + 1)]
    case 'week': {
      const monday = date - ((z.dayOfWeek + 6) % 7)
      return [Date.UTC(year, month, monday), Date.UTC(year, month, monday + 7)]
    }
    case 'month':
      return [Date.UTC(year, month, 1), Date.UTC(year, month + 1, 1)]
    case 'quarter': {
      const first = month - (month % 3)
      return [Date.UTC(year, first, 1), Date.UTC(year, first + 3, 1)]
    }
  }
}

/**
 * The instants the period holding `instant` starts and the next one starts, in `zone`. A midnight the
 * clock skips starts the period when the clock jumps.
 */
export function periodBounds(instant: number, period: Period, zone: string): { start: number; next: number } {
  // Every decision under a calendar limit asks, and the answer changes at most daily: the current
  // period per (period, zone) is kept (the policy's own constants, so a handful of entries).
  const key = `${period} ${zone}`
  const known = current.get(key)
  if (known && instant >= known.start && instant < known.next) return known
  const [start, next] = bounds(instant, period, zone)
  const found = { start: instantOf(start, zone), next: instantOf(next, zone) }
  current.set(key, found)
  return found
}

const current = new Map<string, { start: number; next: number }>()
