import { expect, it } from 'vitest'
import { runCampaign } from './campaign.ts'

it('sends the campaign to who may get it, holds the renewal for sales, stops the paused account', async () => {
  const lines: string[] = []
  const { report, released } = await runCampaign((l) => lines.push(l))
  expect(report.sent.map((r) => r.email)).toEqual(['omar@globex.example', 'li@umbrella.example'])
  expect(report.held.map((r) => r.email)).toEqual(['jane@acme.example', 'peter@initech.example'])
  expect(report.stopped.map((r) => [r.email, r.reasons[0]?.rule])).toEqual([
    ['sam@hooli.example', 'ticket-pause'],
  ])
  expect(released).toEqual({ sent: ['jane@acme.example'], dropped: ['peter@initech.example'], waiting: 0 })
  expect(lines[0]).toBe('sent to      omar@globex.example, li@umbrella.example')
}, 60_000)
