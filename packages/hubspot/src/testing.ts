import type { Client } from '@hubspot/api-client'
import type { HubSpotClients } from './oauth.ts'

// `@remit/hubspot/testing`: sign a request as HubSpot would, to test your own Remit endpoint (or a
// fake of HubSpot) without HubSpot. Not for production code.
export { signV2, signV3 } from './signature.ts'

/** One client for every portal (a test double of HubSpot): no install, no token refresh. */
export function singleClient(client: Client): HubSpotClients {
  return { call: (_portalId, run) => run(client) }
}
