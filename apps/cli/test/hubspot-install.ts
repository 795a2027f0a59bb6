import type { FakeHubSpot } from '../../../packages/hubspot/test/fake-hubspot.ts'

/** A portal installs the app from a running `remit serve`: its install page, HubSpot's consent, the callback. */
export async function installHubSpot(url: string, fake: FakeHubSpot, portalId: number): Promise<number> {
  const start = await fetch(`${url}/hubspot/install`, { redirect: 'manual' })
  const authorize = new URL(start.headers.get('location') as string)
  const code = fake.authorize({
    portalId,
    scopes: (authorize.searchParams.get('scope') as string).split(' '),
    redirectUri: authorize.searchParams.get('redirect_uri') as string,
  })
  const state = encodeURIComponent(authorize.searchParams.get('state') as string)
  return (await fetch(`${url}/hubspot/oauth/callback?code=${code}&state=${state}`)).status
}
