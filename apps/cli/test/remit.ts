import { run } from '../src/index.ts'

/** Runs `remit` in this process with these arguments: its exit code and what it printed, uncoloured. */
export async function remit(...argv: string[]): Promise<{ code: number; out: string; err: string }> {
  const out: string[] = []
  const err: string[] = []
  const code = await run(argv, { out: (l) => out.push(l), err: (l) => err.push(l), color: false })
  return { code, out: out.join('\n'), err: err.join('\n') }
}
