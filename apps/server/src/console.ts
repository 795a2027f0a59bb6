import { existsSync } from 'node:fs'
import { fileURLToPath } from 'node:url'

/**
 * The console's built files shipped inside this package (`console/`, beside `dist/`, put there when
 * the package is packed), found relative to the installed package wherever npm put it; undefined in
 * a source checkout, where the console is built in its own folder.
 */
export function bundledConsoleDir(): string | undefined {
  const dir = fileURLToPath(new URL('../console/', import.meta.url))
  return existsSync(`${dir}index.html`) ? dir : undefined
}
