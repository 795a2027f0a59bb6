import { type ChildProcess, spawn } from 'node:child_process'
import { fileURLToPath } from 'node:url'

// `remit serve` in a process of its own, as an operator runs it. From source (Node runs the
// TypeScript), so tests need no build of this package; benchmarks pass the built one.
const source = fileURLToPath(new URL('../src/bin.ts', import.meta.url))

export interface ServeProcess {
  url: string
  process: ChildProcess
}

export function startServe(
  args: string[],
  o: { env?: NodeJS.ProcessEnv; bin?: string } = {},
): Promise<ServeProcess> {
  const child = spawn(
    process.execPath,
    [o.bin ?? source, 'serve', '--port', '0', '--no-watch', '--log-level', 'error', ...args],
    {
      stdio: ['ignore', 'ignore', 'pipe'],
      ...(o.env ? { env: o.env } : {}),
    },
  )
  return new Promise((resolve, reject) => {
    let err = ''
    child.stderr?.on('data', (chunk) => {
      err += chunk
      const url = /serving (http:\/\/\S+)/.exec(err)?.[1]
      if (url) resolve({ url, process: child })
    })
    child.once('exit', (code) => reject(new Error(`remit serve exited ${code}: ${err}`)))
  })
}
