import { describe, expect, it } from 'vitest'
import { activityTime, boundedText, customerCache, cutText, valueFromText } from '../src/adapter/index.ts'

// One truth table for vendor text, whatever adapter it comes through.
describe('the value a vendor text stands for', () => {
  const cases: [string, Parameters<typeof valueFromText>[1], unknown][] = [
    ['renewal', 'string', 'renewal'],
    [' padded ', 'string', ' padded '],
    ['anything', undefined, 'anything'],
    ['20', 'number', 20],
    [' -1.5 ', 'number', -1.5],
    ['1e3', 'number', 1000],
    ['true', 'boolean', true],
    ['FALSE', 'boolean', false],
    ['2026-04-06T09:00:00Z', 'timestamp', '2026-04-06T09:00:00.000Z'],
    ['1775466000000', 'timestamp', '2026-04-06T09:00:00.000Z'],
    ['a; b;;c', 'list', ['a', 'b', 'c']],
    ['', 'number', undefined],
    ['   ', 'boolean', undefined],
  ]
  for (const [text, type, value] of cases) {
    it(`${JSON.stringify(text)} as ${type ?? 'undeclared'} is ${JSON.stringify(value)}`, () => {
      expect(valueFromText(text, type, ['x'])).toEqual(value)
    })
  }

  const refused: [string, Parameters<typeof valueFromText>[1], string][] = [
    ['yes', 'boolean', 'true or false'],
    ['1', 'boolean', 'true or false'],
    ['lots', 'number', 'a number'],
    ['0x10', 'number', 'a number'],
    ['Infinity', 'number', 'a number'],
    ['next tuesday', 'timestamp', 'an ISO 8601 time or epoch milliseconds'],
  ]
  for (const [text, type, expected] of refused) {
    it(`${JSON.stringify(text)} is no ${type}: refused, naming the field, never guessed`, () => {
      expect(() => valueFromText(text, type, ['action', 'discountPct'])).toThrow(
        expect.objectContaining({
          code: 'BAD_TYPE',
          path: ['action', 'discountPct'],
          message: expect.stringContaining(expected),
        }),
      )
    })
  }
})

describe('the customer cache adapters share', () => {
  it('answers repeated and concurrent asks for one record with one lookup while fresh', async () => {
    let now = 0
    let loads = 0
    const get = customerCache(
      async (type: 'account', id: string) => {
        loads++
        return { accountId: `${type}:${id}`, facts: {} }
      },
      { ttlMs: 1000, now: () => now },
    )
    await Promise.all([get('account', 'a'), get('account', 'a'), get('account', 'a')])
    expect(loads).toBe(1)
    now = 999
    await get('account', 'a')
    expect(loads).toBe(1)
    now = 1000
    await get('account', 'a')
    expect(loads).toBe(2)
  })

  it('forgets a failed lookup at once, and keeps at most `max` records', async () => {
    let fail = true
    const loaded: string[] = []
    const get = customerCache(
      async (_type: 'contact', id: string) => {
        loaded.push(id)
        if (fail) throw new Error('vendor down')
        return { accountId: id, facts: {} }
      },
      { max: 2 },
    )
    await expect(get('contact', 'a')).rejects.toThrow('vendor down')
    fail = false
    await get('contact', 'a')
    await get('contact', 'b')
    await get('contact', 'c') // drops a, the oldest
    await get('contact', 'b')
    await get('contact', 'a')
    expect(loaded).toEqual(['a', 'a', 'b', 'c', 'a'])
  })
})

describe('activityTime', () => {
  const now = Date.parse('2026-04-06T09:00:00Z')
  it('reads ISO text and epoch milliseconds, and never dates an activity after now', () => {
    expect(activityTime('2026-04-05T09:00:00Z', now)?.toISOString()).toBe('2026-04-05T09:00:00.000Z')
    expect(activityTime('1775379600000', now)?.toISOString()).toBe('2026-04-05T09:00:00.000Z')
    expect(activityTime(1775379600000, now)?.toISOString()).toBe('2026-04-05T09:00:00.000Z')
    // A meeting booked for next week, a mistyped year: counted now, not "recent" until then.
    expect(activityTime('2026-04-13T09:00:00Z', now)?.getTime()).toBe(now)
    expect(activityTime('2062-04-05T09:00:00Z', now)?.getTime()).toBe(now)
    expect(activityTime('', now)).toBeUndefined()
    expect(activityTime('not a time', now)).toBeUndefined()
    expect(activityTime(undefined, now)).toBeUndefined()
  })
})

describe('text within a bound', () => {
  it('cutText keeps at most max units and never splits a surrogate pair', () => {
    expect(cutText('k'.repeat(256), 255)).toBe('k'.repeat(255))
    expect(cutText('short', 255)).toBe('short')
    // 'a' then 😀 (two units): cut at 2 would keep half of it.
    expect(cutText('a😀b', 2)).toBe('a')
    expect(cutText('a😀b', 3)).toBe('a😀')
  })

  it('boundedText drops NUL and lone surrogates, and ends a cut with an ellipsis, within max', () => {
    expect(boundedText('a\u0000b\ud800c', 10)).toBe('ab\ufffdc')
    expect(boundedText('abcdef', 4)).toBe('abc…')
    expect(boundedText('ab😀', 3)).toBe('ab…')
    expect(boundedText('abc', 3)).toBe('abc')
  })
})
