import { randomFillSync } from 'node:crypto'

/**
 * Time-ordered ids (48-bit ms clock, then 80 random bits, like UUIDv7): new rows land at the end of
 * each id index instead of on a random B-tree page, which keeps commits small. The random part comes
 * from a pool filled 4 KiB at a time (a crypto call per id costs more than the rest of the id).
 */
export function newId(prefix: string): string {
  if (poolOffset + 10 > pool.length) {
    randomFillSync(pool)
    poolOffset = 0
  }
  const random = pool.toString('hex', poolOffset, poolOffset + 10)
  poolOffset += 10
  return `${prefix}_${Date.now().toString(16).padStart(12, '0')}${random}`
}
const pool = Buffer.alloc(4096)
let poolOffset = pool.length
