import { copyFileSync, mkdtempSync, writeFileSync } from 'node:fs'
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { generateKey, keyLine, verifyWebhook } from '@remit/server'
import { startFakeSlack } from '@remit/slack/testing'
import { expect, it } from 'vitest'
import { startServe } from './serve-process.ts'

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))
const SECRET = 'whsec-serve-0123456789'

// `remit serve` with Slack's bot token and signing secret in the environment posts each flag to its
// team's channel and answers the buttons at /slack/interactivity; --webhooks sends each review event,
// signed. Slack here is the fake that keeps its contract (@remit/slack/testing).
// Each test starts `remit serve` processes (three in the second): 20 s was too short beside the
// whole suite on two cores.
it('remit serve posts flags to Slack, takes the approval from its button, and sends signed webhooks', {
  timeout: 60_000,
}, async () => {
  const slack = await startFakeSlack({ channels: ['C0SALES0001'] })
  const events: { type: string; verified: boolean }[] = []
  const hook = createServer(async (req, res) => {
    const chunks: Buffer[] = []
    for await (const c of req) chunks.push(c as Buffer)
    const body = Buffer.concat(chunks).toString()
    events.push({
      type: (JSON.parse(body) as { type: string }).type,
      verified: verifyWebhook(SECRET, req.headers, body),
    })
    res.writeHead(200).end()
  })
  await new Promise<void>((r) => hook.listen(0, '127.0.0.1', r))
  const dir = mkdtempSync(join(tmpdir(), 'remit-serve-slack-'))
  copyFileSync(new URL('../../../examples/seed-week/remit.yaml', import.meta.url), join(dir, 'remit.yaml'))
  const agentKey = generateKey()
  writeFileSync(
    join(dir, 'keys.yaml'),
    `${keyLine({ name: 'marketing', agent: 'marketing-agent' }, agentKey)}\n`,
  )
  writeFileSync(
    join(dir, 'slack.yaml'),
    'teams:\n  sales: { channel: C0SALES0001, members: [U0DANA00001] }\n',
  )
  writeFileSync(
    join(dir, 'webhooks.yaml'),
    `webhooks:\n  - { name: ops, url: "http://127.0.0.1:${(hook.address() as AddressInfo).port}/remit", secretEnv: OPS_WEBHOOK_SECRET }\n`,
  )
  const { url, process: child } = await startServe(
    [
      ...[
        '--policy',
        join(dir, 'remit.yaml'),
        '--store',
        join(dir, 'remit.db'),
        '--keys',
        join(dir, 'keys.yaml'),
      ],
      ...['--slack-config', join(dir, 'slack.yaml'), '--webhooks', join(dir, 'webhooks.yaml')],
    ],
    {
      env: {
        ...process.env,
        REMIT_SLACK_BOT_TOKEN: slack.token,
        REMIT_SLACK_SIGNING_SECRET: slack.signingSecret,
        REMIT_SLACK_API_URL: slack.apiUrl,
        OPS_WEBHOOK_SECRET: SECRET,
      },
    },
  )
  try {
    const res = await fetch(`${url}/v1/decisions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${agentKey}`, 'content-type': 'application/json' },
      body: JSON.stringify({
        action: { kind: 'email.positioning' },
        customer: { accountId: 'acme', facts: { lifecycle: 'renewal', tier: 'enterprise' } },
      }),
    })
    const decision = (await res.json()) as { verdict: string; reviewId: string }
    expect(decision.verdict).toBe('flag')
    for (let i = 0; i < 300 && !slack.messages.size; i++) await sleep(10)
    const message = [...slack.messages.values()][0]
    expect(message?.channel).toBe('C0SALES0001')
    const status = await slack.click(`${url}/slack/interactivity`, {
      message: message as NonNullable<typeof message>,
      actionId: 'remit_approve',
      user: 'U0DANA00001',
      username: 'dana',
    })
    expect(status).toBe(200)
    for (let i = 0; i < 300 && events.length < 2; i++) await sleep(10)
    expect(events).toEqual([
      { type: 'review.opened', verified: true },
      { type: 'review.approved', verified: true },
    ])
    expect(JSON.stringify(message?.blocks)).toContain('*Approved* by slack:dana')
  } finally {
    child.kill('SIGTERM')
    await slack.close()
    hook.close()
  }
})

it('remit serve stops before it starts (exit 2) when Slack or the webhooks are half configured', {
  timeout: 60_000,
}, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'remit-serve-slack-'))
  copyFileSync(new URL('../../../examples/seed-week/remit.yaml', import.meta.url), join(dir, 'remit.yaml'))
  writeFileSync(join(dir, 'keys.yaml'), '')
  writeFileSync(join(dir, 'slack.yaml'), 'teams:\n  legal: { channel: C0LEGAL0001 }\n')
  writeFileSync(
    join(dir, 'webhooks.yaml'),
    'webhooks:\n  - { name: ops, url: "https://hooks.example", secretEnv: UNSET_SECRET_X }\n',
  )
  const base = [
    '--policy',
    join(dir, 'remit.yaml'),
    '--store',
    join(dir, 'remit.db'),
    '--keys',
    join(dir, 'keys.yaml'),
  ]
  const env = { ...process.env, REMIT_SLACK_BOT_TOKEN: 'xoxb-1', REMIT_SLACK_SIGNING_SECRET: 's' }
  await expect(startServe(base, { env: { ...env, REMIT_SLACK_SIGNING_SECRET: '' } })).rejects.toThrow(
    /exited 2: .*set REMIT_SLACK_SIGNING_SECRET/s,
  )
  await expect(startServe([...base, '--slack-config', join(dir, 'slack.yaml')], { env })).rejects.toThrow(
    /exited 2: .*teams\.legal: not a team of the policy/s,
  )
  await expect(startServe([...base, '--webhooks', join(dir, 'webhooks.yaml')])).rejects.toThrow(
    /exited 2: .*set UNSET_SECRET_X/s,
  )
})
