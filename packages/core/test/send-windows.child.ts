// Run by send-windows.test.ts in a child process whose TZ is set: prints every window case's result.
import { runWindowCases } from './send-windows.cases.ts'

process.stdout.write(
  JSON.stringify({ zone: Intl.DateTimeFormat().resolvedOptions().timeZone, results: runWindowCases() }),
)
