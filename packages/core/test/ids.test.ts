import { expect, it } from 'vitest'
import { newId } from '../src/ids.ts'

it('makes ids of a prefix, a 48-bit millisecond clock and 80 random bits, all in hex', () => {
  const before = Date.now()
  const id = newId('dec')
  const after = Date.now()
  expect(id).toMatch(/^dec_[0-9a-f]{32}$/)
  const at = Number.parseInt(id.slice(4, 16), 16)
  expect(at).toBeGreaterThanOrEqual(before)
  expect(at).toBeLessThanOrEqual(after)
})

it('never repeats an id, across many refills of its random pool', () => {
  // 4 KiB of random bytes make 409 ids: 20,000 ids refill the pool about fifty times.
  const ids = Array.from({ length: 20_000 }, () => newId('tch'))
  expect(new Set(ids).size).toBe(ids.length)
  // …and no two share their random part, even within one millisecond.
  expect(new Set(ids.map((id) => id.slice(16))).size).toBe(ids.length)
})

it('orders ids made in later milliseconds after earlier ones', async () => {
  const first = newId('dec')
  await new Promise((resolve) => setTimeout(resolve, 5))
  expect(newId('dec') > first).toBe(true)
})
