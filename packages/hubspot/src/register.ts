import type { Client } from '@hubspot/api-client'
import type { ActionDefinition } from './definition.ts'
import { hubspotRequest } from './http.ts'

// Registers the action in the user's HubSpot app, once: the app's definitions are read page by page
// (the list is cursor-paged), and a definition already at the same action URL is updated in place.

export interface RegisterOptions {
  /**
   * A client allowed to manage the app's definitions: the developer API key
   * (`new Client({ developerApiKey })`) or a token with the `developers-write` scope.
   */
  hubspot: Client
  appId: number
  definition: ActionDefinition
}

/** Most definitions read before giving up: an app holds a handful; a cursor that never ends is a fault. */
const MAX_PAGES = 100

/** The id of the app's definition at `actionUrl`, reading every page; undefined when there is none. */
export async function findDefinition(
  hubspot: Client,
  appId: number,
  actionUrl: string,
): Promise<string | undefined> {
  let after: string | undefined
  for (let page = 0; page < MAX_PAGES; page++) {
    const { results, paging } = await hubspot.automation.actions.definitionsApi.getPage(appId, 100, after)
    const found = results.find((d) => d.actionUrl === actionUrl)
    if (found) return found.id
    after = paging?.next?.after
    if (!after) return undefined
  }
  throw new Error(`HubSpot listed more than ${MAX_PAGES} pages of definitions for app ${appId}`)
}

/** Creates the action, or updates the one already registered at the same action URL. */
export async function registerAction(o: RegisterOptions): Promise<{ id: string; created: boolean }> {
  const id = await findDefinition(o.hubspot, o.appId, o.definition.actionUrl)
  if (id) {
    // A PATCH takes every field of a definition but `functions` (PublicActionDefinitionPatch).
    const { functions: _functions, ...patch } = o.definition
    await hubspotRequest(o.hubspot, {
      method: 'PATCH',
      path: `/automation/v4/actions/${o.appId}/${encodeURIComponent(id)}`,
      body: patch,
    })
    return { id, created: false }
  }
  const created = (await hubspotRequest(o.hubspot, {
    method: 'POST',
    path: `/automation/v4/actions/${o.appId}`,
    body: o.definition,
  })) as { id?: unknown }
  if (typeof created?.id !== 'string') throw new Error('HubSpot created the definition but returned no id')
  return { id: created.id, created: true }
}
