// Run by calendar-limits.test.ts in a child process whose TZ is set: prints, as JSON, every way the
// calendar limits disagreed with the cases.
import { calendarErrors } from './calendar-limits.cases.ts'

process.stdout.write(
  JSON.stringify({ zone: Intl.DateTimeFormat().resolvedOptions().timeZone, wrong: calendarErrors() }),
)
