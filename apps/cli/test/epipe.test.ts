import { spawn } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { expect, it } from 'vitest'

// `remit explain … | head -1`: the reader closes the pipe, and remit ends quietly, as command-line
// tools do — not with an unhandled EPIPE and a stack trace.

const bin = fileURLToPath(new URL('../src/bin.ts', import.meta.url))
const seed = fileURLToPath(new URL('../../../examples/seed-week/remit.yaml', import.meta.url))

it('a closed stdout ends the command quietly', async () => {
  const args = ['explain', '--policy', seed, '--agent', 'sales-agent', '--action', 'offer.discount']
  const child = spawn(process.execPath, [bin, ...args, '--attr', 'discountPct=10', '--account', 'acme'], {
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  child.stdout.destroy() // the reader is gone before remit writes a line
  let stderr = ''
  child.stderr.on('data', (chunk) => (stderr += chunk))
  const code = await new Promise((resolve) => child.on('close', resolve))
  expect(stderr).not.toMatch(/EPIPE|Error/)
  expect(code).toBe(0)
})
