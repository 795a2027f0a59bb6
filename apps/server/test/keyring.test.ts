import { expect, it } from 'vitest'
import { generateKey, hashKey, KeyRing } from '../src/keys.ts'

// A caller's key is hashed once, not on every request: accepted keys are remembered — only while
// they are in service, and never more than a bounded number of them.

const entry = (name: string, key: string) => ({ name, sha256: hashKey(key), agent: 'sales-agent' })

it('a remembered key stops working the moment the keys are replaced without it', () => {
  const key = generateKey()
  const ring = new KeyRing([entry('a', key)])
  expect(ring.authenticate(`Bearer ${key}`)?.name).toBe('a')
  expect(ring.authenticate(`Bearer ${key}`)?.name).toBe('a') // from memory
  ring.replace([entry('b', generateKey())])
  expect(ring.authenticate(`Bearer ${key}`)).toBeUndefined()
})

it('a refused key is never remembered, and a key added later is accepted', () => {
  const key = generateKey()
  const ring = new KeyRing([])
  expect(ring.authenticate(`Bearer ${key}`)).toBeUndefined()
  ring.add(entry('late', key))
  expect(ring.authenticate(`Bearer ${key}`)?.name).toBe('late')
})

it('past its bound the oldest keys are forgotten, and still accepted by their hash', () => {
  const keys = Array.from({ length: 1100 }, () => generateKey())
  const ring = new KeyRing(keys.map((k, i) => entry(`k${i}`, k)))
  for (const k of keys) expect(ring.authenticate(`Bearer ${k}`)).toBeDefined()
  expect(ring.authenticate(`Bearer ${keys[0]}`)?.name).toBe('k0')
  expect(ring.authenticate(`Bearer ${keys[1099]}`)?.name).toBe('k1099')
})
