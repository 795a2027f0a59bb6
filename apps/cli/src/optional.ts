import { UsageError } from './output.ts'

// The adapters and the PostgreSQL store are optional peers of @remit/cli, so `npm install @remit/cli`
// stays small: a command loads one only when it runs, and says which package to install when it is
// missing (from the npm registry, beside @remit/cli).

/** Whether `error` says that `name` itself (not one of its own dependencies) could not be found. */
function missing(error: unknown, name: string): boolean {
  const e = error as { code?: string; message?: string }
  return (
    (e?.code === 'ERR_MODULE_NOT_FOUND' || e?.code === 'MODULE_NOT_FOUND') &&
    new RegExp(`['"]${name.replace(/[/.]/g, '\\$&')}['"]`).test(e.message ?? '')
  )
}

/**
 * `load()` (an `import()` of `name`), or a usage error naming the package to install when it is not
 * installed. `purpose` says what needs it, e.g. "--store postgres://…".
 */
export async function optional<T>(name: string, purpose: string, load: () => Promise<T>): Promise<T> {
  try {
    return await load()
  } catch (error) {
    if (!missing(error, name)) throw error
    throw new UsageError(
      `${purpose} needs ${name}, which is not installed`,
      `npm install ${name}   (or: npx -p @remit/cli -p ${name} remit …)`,
    )
  }
}

/** `load()`, or undefined when `name` is not installed (for what a command offers only if it can). */
export async function ifInstalled<T>(name: string, load: () => Promise<T>): Promise<T | undefined> {
  try {
    return await load()
  } catch (error) {
    if (missing(error, name)) return undefined
    throw error
  }
}
