import { readFileSync } from 'node:fs'

/** This package's version (one level above src/ and dist/ alike), reported to MCP peers. */
export const VERSION = (
  JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string }
).version
