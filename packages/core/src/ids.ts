import { randomFillSync } from 'node:crypto'

/**
 * Time-ordered ids (48-bit ms clock, then 80 random bits, like UUIDv7): new rows land at the end of
 * each id index instead of on a random B-tree page, which keeps commits small. The 80 bits come from
 * the system's CSPRNG, so ids are unique across processes sharing a file and cannot be guessed from
 * one another. The random part is taken from a pool of 4 KiB turned into hex once per fill, and the
 * clock's hex is kept while the millisecond lasts: a crypto call or a hex conversion per id costs
 * more than the rest of the id.
 */
export function newId(prefix: string): string {
  if (poolOffset + RANDOM_CHARS > poolHex.length) {
    randomFillSync(pool)
    poolHex = pool.toString('hex')
    poolOffset = 0
  }
  // Two halves: V8 copies a piece shorter than 13 characters, where a longer one would be a view
  // keeping the pool's whole hex string alive as long as the id lives.
  const o = poolOffset
  const random = poolHex.slice(o, o + 10) + poolHex.slice(o + 10, o + RANDOM_CHARS)
  poolOffset += RANDOM_CHARS
  const now = Date.now()
  if (now !== clockMs) {
    clockMs = now
    clockHex = now.toString(16).padStart(12, '0')
  }
  return `${prefix}_${clockHex}${random}`
}

/** 80 random bits, as hex. */
const RANDOM_CHARS = 20
const pool = Buffer.alloc(4096)
let poolHex = ''
let poolOffset = 0
let clockMs = -1
let clockHex = ''
