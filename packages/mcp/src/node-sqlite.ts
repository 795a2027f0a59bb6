import { createRequire } from 'node:module'
import type * as sqlite from 'node:sqlite'

// Node 22 prints "ExperimentalWarning: SQLite is an experimental feature" to every process that loads
// node:sqlite; the gateway's users did not choose it, so it is loaded on first use with that one warning
// held back (every other warning still shows). @remit/core does the same for its store but keeps
// that helper internal, as @remit/sendgrid carries these few lines too.
let loaded: typeof sqlite | undefined
export function nodeSqlite(): typeof sqlite {
  if (loaded) return loaded
  const emit = process.emitWarning
  process.emitWarning = function (this: unknown, warning: string | Error, ...rest: unknown[]) {
    const type = typeof rest[0] === 'string' ? rest[0] : (rest[0] as { type?: string } | undefined)?.type
    const experimental = (typeof warning === 'string' ? type : warning.name) === 'ExperimentalWarning'
    if (experimental && /\bSQLite\b/.test(typeof warning === 'string' ? warning : warning.message)) return
    return (emit as (...args: unknown[]) => void).call(process, warning, ...rest)
  } as typeof process.emitWarning
  try {
    loaded = createRequire(import.meta.url)('node:sqlite') as typeof sqlite
    return loaded
  } finally {
    process.emitWarning = emit
  }
}
