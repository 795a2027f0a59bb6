#!/usr/bin/env node
import { run } from './index.ts'

// A reader that stops reading (`remit decide … | head -1`) closes the pipe: that ends the output, as
// for any command-line tool, quietly — not as an unhandled EPIPE with a stack trace.
for (const stream of [process.stdout, process.stderr])
  stream.on('error', (error: NodeJS.ErrnoException) => {
    if (error.code === 'EPIPE') process.exit(process.exitCode ?? 0)
    throw error
  })

process.exitCode = await run(process.argv.slice(2))
