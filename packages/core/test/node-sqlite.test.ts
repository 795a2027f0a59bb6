import { expect, it } from 'vitest'
import { withoutSqliteWarning } from '../src/store/node-sqlite.ts'

// Node 22 warns that node:sqlite is experimental in every process that loads it; Remit's users did
// not choose it, so that one warning is held back while Remit loads the module — and only that one.

it("holds back Node's experimental warning for SQLite while loading it", async () => {
  const seen: string[] = []
  const listener = (w: Error) => seen.push(w.message)
  process.on('warning', listener)
  try {
    withoutSqliteWarning(() => {
      process.emitWarning(
        'SQLite is an experimental feature and might change at any time',
        'ExperimentalWarning',
      )
      process.emitWarning('SQLite is an experimental feature', { type: 'ExperimentalWarning' })
    })
    await new Promise((resolve) => setImmediate(resolve)) // warnings are emitted on the next tick
  } finally {
    process.off('warning', listener)
  }
  expect(seen).toEqual([])
})

it('lets every other warning through, during the load and after it', async () => {
  const seen: string[] = []
  const listener = (w: Error) => seen.push(`${w.name}: ${w.message}`)
  process.on('warning', listener)
  try {
    withoutSqliteWarning(() => {
      process.emitWarning('VM modules are an experimental feature', 'ExperimentalWarning')
      process.emitWarning('SQLite handle left open', 'Warning')
    })
    process.emitWarning('SQLite is an experimental feature', 'ExperimentalWarning')
    await new Promise((resolve) => setImmediate(resolve))
  } finally {
    process.off('warning', listener)
  }
  expect(seen).toEqual([
    'ExperimentalWarning: VM modules are an experimental feature',
    'Warning: SQLite handle left open',
    'ExperimentalWarning: SQLite is an experimental feature',
  ])
})
