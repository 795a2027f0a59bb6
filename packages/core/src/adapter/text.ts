import { InputError } from '../errors.ts'
import type { ValueType } from '../policy/schema.ts'

/**
 * The value a vendor's text stands for, by the type the policy declares for it. Vendors hand Remit
 * text (HubSpot properties and input fields, Salesforce Flow variables); this is the one place it
 * becomes a typed value, for every adapter:
 *
 * | declared    | accepted text                                         | value            |
 * | ----------- | ----------------------------------------------------- | ---------------- |
 * | (none)      | anything                                              | the text         |
 * | `string`    | anything                                              | the text         |
 * | `number`    | a decimal number: `20`, `-1.5`, `1e3` (trimmed)       | the number       |
 * | `boolean`   | `true` / `false`, any case (trimmed)                  | true / false     |
 * | `timestamp` | ISO 8601 (`2026-04-06T09:00:00Z`) or epoch milliseconds (HubSpot's dates) | ISO 8601 text |
 * | `list`      | items separated by `;` (HubSpot multi-checkbox, Salesforce multi-select) | the trimmed items |
 *
 * Empty (or all-blank) text is no value: `undefined`, as if the vendor had not sent it. Any other
 * text that is not such a value is an `InputError('BAD_TYPE')` naming `path` — never a guess (before,
 * any text but `true` became `false`).
 */
export function valueFromText(text: string, type: ValueType | undefined, path: (string | number)[]): unknown {
  const t = text.trim()
  if (t === '') return undefined
  const refuse = (expected: string): never => {
    throw new InputError('BAD_TYPE', `expected ${expected}, got ${JSON.stringify(text.slice(0, 100))}`, path)
  }
  switch (type) {
    case undefined:
    case 'string':
      return text
    case 'number': {
      const n = Number(t)
      return /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/.test(t) && Number.isFinite(n) ? n : refuse('a number')
    }
    case 'boolean': {
      const b = t.toLowerCase()
      return b === 'true' ? true : b === 'false' ? false : refuse('true or false')
    }
    case 'timestamp': {
      const d = /^\d{1,15}$/.test(t) ? new Date(Number(t)) : new Date(t)
      return Number.isNaN(d.getTime()) ? refuse('an ISO 8601 time or epoch milliseconds') : d.toISOString()
    }
    case 'list':
      return t
        .split(';')
        .map((item) => item.trim())
        .filter((item) => item !== '')
  }
}

/**
 * When an activity a vendor reports happened, as a touch's time: ISO 8601 text or epoch
 * milliseconds, never later than `now`. A meeting booked for next week — or a year typed as 2062 —
 * would otherwise count as "in the last 24 hours" for every rule until then; counted now, it is
 * recent once and ages like any touch. Undefined when the vendor gave no readable time.
 */
export function activityTime(value: unknown, now: number): Date | undefined {
  const ms =
    typeof value === 'number'
      ? value
      : typeof value === 'string' && value.trim() !== ''
        ? /^\d+$/.test(value.trim())
          ? Number(value)
          : Date.parse(value)
        : Number.NaN
  return Number.isFinite(ms) ? new Date(Math.min(ms, now)) : undefined
}

/** At most `max` UTF-16 units of `s`, never cut between the halves of a surrogate pair. */
export function cutText(s: string, max: number): string {
  if (s.length <= max) return s
  const code = s.charCodeAt(max - 1)
  return s.slice(0, code >= 0xd800 && code <= 0xdbff ? max - 1 : max)
}

/**
 * Text within a bound Remit refuses past (a preview's parts): well-formed, no NUL (Remit refuses
 * both), at most `max` characters, ending in an ellipsis when cut.
 */
export function boundedText(s: string, max: number): string {
  const clean = s.toWellFormed().replaceAll('\u0000', '')
  return clean.length <= max ? clean : `${cutText(clean, max - 1)}…`
}
