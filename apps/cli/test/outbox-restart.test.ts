import { copyFileSync, mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { signV3 } from '@remit/hubspot/testing'
import { generateKey, keyLine } from '@remit/server'
import { afterEach, expect, it } from 'vitest'
import { fakeHubSpot } from '../../../packages/hubspot/test/fake-hubspot.ts'
import { install } from '../../../packages/hubspot/test/portal.ts'
import { type ServeProcess, startServe } from './serve-process.ts'

// Work owed to a vendor survives the process: a review answered while HubSpot is down, then
// `kill -9`, then a restart on the same store — the blocked workflow's callback is completed, once.
let running: ServeProcess | undefined
afterEach(() => running?.process.kill('SIGKILL'))

it('kill -9 after a review is answered, restart: the callback is delivered exactly once at HubSpot', async () => {
  // The callback was not issued through the fake's own execute(): it takes any id, once.
  const fake = await fakeHubSpot({
    clientId: 'app-client-id',
    clientSecret: 'shh',
    requireAuth: true,
    strictCallbacks: false,
  })
  const dir = mkdtempSync(join(tmpdir(), 'remit-outbox-'))
  copyFileSync(new URL('../../../examples/seed-week/remit.yaml', import.meta.url), join(dir, 'remit.yaml'))
  const reviewer = generateKey()
  writeFileSync(join(dir, 'keys.yaml'), `${keyLine({ name: 'sales', reviewer: 'sales' }, reviewer)}\n`)
  writeFileSync(
    join(dir, 'hubspot.yaml'),
    'properties: { lifecycle: lifecyclestage, tier: tier }\naccount: account_id\n',
  )
  const serve = () =>
    startServe(
      [
        ...[
          '--policy',
          join(dir, 'remit.yaml'),
          '--store',
          join(dir, 'remit.db'),
          '--keys',
          join(dir, 'keys.yaml'),
        ],
        ...['--public-url', 'https://remit.example.com', '--hubspot-config', join(dir, 'hubspot.yaml')],
      ],
      {
        env: {
          ...process.env,
          REMIT_HUBSPOT_CLIENT_ID: 'app-client-id',
          REMIT_HUBSPOT_CLIENT_SECRET: 'shh',
          REMIT_SECRET_KEY: Buffer.alloc(32, 7).toString('base64'),
          REMIT_HUBSPOT_API_URL: fake.url,
        },
      },
    )
  try {
    running = await serve()
    // The portal installs the app: Remit keeps its refresh token (sealed) in the store.
    expect((await install(running.url, fake, 102670506)).status).toBe(200)
    const body = JSON.stringify({
      callbackId: 'cb-renewal',
      origin: { portalId: 102670506, actionDefinitionId: 10646377, actionDefinitionVersion: 1 },
      context: { source: 'WORKFLOWS', workflowId: 1001 },
      object: {
        objectId: 51,
        objectType: 'CONTACT',
        properties: { lifecyclestage: 'renewal', tier: 'enterprise', account_id: 'acme' },
      },
      inputFields: { remit_action: 'email.positioning' },
    })
    const headers = signV3(
      { method: 'POST', url: 'https://remit.example.com/hubspot/action', rawBody: body },
      'shh',
    )
    const blocked = await fetch(`${running.url}/hubspot/action`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...headers },
      body,
    })
    expect(((await blocked.json()) as { outputFields: Record<string, string> }).outputFields).toMatchObject({
      hs_execution_state: 'BLOCK',
    })
    // HubSpot is down when sales approves: the completion fails and stays in the outbox.
    fake.failCompletions(1_000)
    const auth = { authorization: `Bearer ${reviewer}` }
    const reviews = (await (
      await fetch(`${running.url}/v1/reviews?status=pending`, { headers: auth })
    ).json()) as {
      reviews: { id: string }[]
    }
    const approved = await fetch(`${running.url}/v1/reviews/${reviews.reviews[0]?.id}/approve`, {
      method: 'POST',
      headers: auth,
    })
    expect(approved.status).toBe(200)
    expect(fake.completions()).toEqual([])
    running.process.kill('SIGKILL')
    await new Promise((resolve) => running?.process.once('exit', resolve))
    // HubSpot is back; Remit restarts on the same store and catches up.
    fake.failCompletions(0)
    running = await serve()
    for (let i = 0; i < 100 && fake.completions().length === 0; i++)
      await new Promise((r) => setTimeout(r, 100))
    expect(fake.completions()).toEqual([
      { callbackId: 'cb-renewal', outputFields: expect.objectContaining({ remit_verdict: 'go' }) },
    ])
    await new Promise((r) => setTimeout(r, 1500))
    expect(fake.completions()).toHaveLength(1)
  } finally {
    running?.process.kill('SIGKILL')
    await fake.close()
  }
}, 60_000)
