import { copyFileSync, mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { signV3 } from '@remit/hubspot/testing'
import { generateKey, keyLine } from '@remit/server'
import { expect, it } from 'vitest'
import { fakeHubSpot } from '../../../packages/hubspot/test/fake-hubspot.ts'
import { install } from '../../../packages/hubspot/test/portal.ts'
import { startServe } from './serve-process.ts'

// `remit serve` with the app's client secret in the environment mounts HubSpot's action endpoint,
// mapping the enrolled contact's properties onto facts as hubspot.yaml says.
it('remit serve answers signed HubSpot executions when REMIT_HUBSPOT_CLIENT_SECRET is set', async () => {
  const fake = await fakeHubSpot({ clientId: 'app-client-id', clientSecret: 'shh' })
  const dir = mkdtempSync(join(tmpdir(), 'remit-serve-hubspot-'))
  copyFileSync(new URL('../../../examples/seed-week/remit.yaml', import.meta.url), join(dir, 'remit.yaml'))
  writeFileSync(join(dir, 'keys.yaml'), `${keyLine({ name: 'ops', admin: true }, generateKey())}\n`)
  writeFileSync(
    join(dir, 'hubspot.yaml'),
    'properties: { lifecycle: lifecyclestage, tier: tier }\naccount: account_id\n',
  )
  const { url, process: child } = await startServe(
    [
      '--policy',
      join(dir, 'remit.yaml'),
      '--store',
      join(dir, 'remit.db'),
      '--keys',
      join(dir, 'keys.yaml'),
      '--public-url',
      'https://remit.example.com',
      '--hubspot-config',
      join(dir, 'hubspot.yaml'),
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
    // The portal installs the app first: without an installation Remit answers stop (no flag there
    // could be completed).
    expect((await install(url, fake, 102670506)).status).toBe(200)
    const ask = async (lifecycle: string) => {
      const body = JSON.stringify({
        callbackId: `cb-${lifecycle}`,
        origin: { portalId: 102670506, actionDefinitionId: 10646377, actionDefinitionVersion: 1 },
        context: { source: 'WORKFLOWS', workflowId: 1001 },
        object: {
          objectId: 51,
          objectType: 'CONTACT',
          properties: {
            email: 'jane@acme.example',
            lifecyclestage: lifecycle,
            tier: 'enterprise',
            account_id: `acme-${lifecycle}`,
          },
        },
        inputFields: { remit_action: 'email.positioning' },
      })
      const headers = signV3(
        { method: 'POST', url: 'https://remit.example.com/hubspot/action', rawBody: body },
        'shh',
      )
      const res = await fetch(`${url}/hubspot/action`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...headers },
        body,
      })
      return ((await res.json()) as { outputFields: Record<string, string> }).outputFields
    }
    expect(await ask('customer')).toMatchObject({ hs_execution_state: 'SUCCESS', remit_verdict: 'go' })
    expect(await ask('renewal')).toMatchObject({ hs_execution_state: 'BLOCK', remit_verdict: 'flag' })
  } finally {
    child.kill('SIGTERM')
    await fake.close()
  }
})
