// Run by local-time.test.ts in a child process whose TZ is set: reads the local time of each case
// through a policy's conditions and prints, as JSON, every condition that disagreed with the case.
import { type ActionKind, type Agent, evaluate, loadPolicy } from '../src/index.ts'
import { LOCAL_TIME_CASES, localTimePolicy } from './local-time.cases.ts'

const policy = loadPolicy(localTimePolicy())
const wrong: string[] = []
LOCAL_TIME_CASES.forEach((c, i) => {
  const evaluation = evaluate(policy, {
    agent: policy.agents.get('mkt') as Agent,
    action: policy.actions.get('email.positioning') as ActionKind,
    attributes: {},
    customer: { accountId: 'acme', facts: {} },
    now: new Date(c.instant),
    touches: [],
    commitments: [],
  })
  for (const r of evaluation.reasons)
    if (r.rule.startsWith(`c${i}-`)) wrong.push(`${c.instant} ${c.zone}: ${r.message}`)
})
process.stdout.write(
  JSON.stringify({ tz: process.env.TZ, zone: Intl.DateTimeFormat().resolvedOptions().timeZone, wrong }),
)
