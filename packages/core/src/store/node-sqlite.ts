import { createRequire } from 'node:module'
import type * as sqlite from 'node:sqlite'

// Node 22 prints "ExperimentalWarning: SQLite is an experimental feature" to every process that loads
// node:sqlite. Remit's users did not choose that module, so Remit loads it with that one warning held
// back (every other warning, and later ones, still show). A static `import` would load it before any
// code could run, so it is loaded here, on first use.

/** Runs `load` with Node's experimental warning for SQLite held back. */
export function withoutSqliteWarning<T>(load: () => T): T {
  const emit = process.emitWarning
  process.emitWarning = function (this: unknown, warning: string | Error, ...rest: unknown[]) {
    const type = typeof rest[0] === 'string' ? rest[0] : (rest[0] as { type?: string } | undefined)?.type
    const message = typeof warning === 'string' ? warning : warning.message
    const name = typeof warning === 'string' ? type : warning.name
    if (name === 'ExperimentalWarning' && /\bSQLite\b/.test(message)) return
    return (emit as (...args: unknown[]) => void).call(process, warning, ...rest)
  } as typeof process.emitWarning
  try {
    return load()
  } finally {
    process.emitWarning = emit
  }
}

let loaded: typeof sqlite | undefined
/** `node:sqlite`, loaded once, quietly. */
export function nodeSqlite(): typeof sqlite {
  loaded ??= withoutSqliteWarning(() => createRequire(import.meta.url)('node:sqlite') as typeof sqlite)
  return loaded
}

/**
 * The same, as CommonJS source for a worker thread (`eval: true`), whose `process` is its own:
 * defines `DatabaseSync`.
 */
export const WORKER_SQLITE = `
const emit = process.emitWarning
process.emitWarning = (warning, ...rest) => {
  const message = typeof warning === 'string' ? warning : warning.message
  if (/\\bSQLite\\b/.test(message) && (rest[0] === 'ExperimentalWarning' || rest[0]?.type === 'ExperimentalWarning' || warning.name === 'ExperimentalWarning')) return
  return emit.call(process, warning, ...rest)
}
const { DatabaseSync } = require('node:sqlite')
process.emitWarning = emit
`
