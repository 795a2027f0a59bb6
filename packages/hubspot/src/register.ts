import type { Client } from '@hubspot/api-client'
import type { Policy } from '@remit/core'
import { ACTION_FIELD } from './action.ts'

// Registers (or updates) the "Check with Remit" custom action in the user's HubSpot app:
// https://developers.hubspot.com/docs/api/automation/custom-workflow-actions#define-your-custom-action

export interface RegisterOptions {
  /** A client with the developer API key (`new Client({ developerApiKey })`). */
  hubspot: Client
  appId: number
  /** Where HubSpot POSTs executions (the server's /hubspot/action). */
  actionUrl: string
  /** Where HubSpot fetches the action-kind dropdown (the server's /hubspot/options). */
  optionsUrl: string
  policy: Policy
  objectTypes?: string[]
}

export function actionDefinition(o: Omit<RegisterOptions, 'hubspot' | 'appId'>) {
  const attributes = Object.entries(o.policy.attributes)
  return {
    actionUrl: o.actionUrl,
    published: true,
    objectTypes: o.objectTypes ?? ['CONTACT', 'COMPANY'],
    functions: [],
    inputFields: [
      {
        typeDefinition: {
          name: ACTION_FIELD,
          type: 'enumeration',
          fieldType: 'select',
          optionsUrl: o.optionsUrl,
          options: [],
          externalOptions: true,
        },
        supportedValueTypes: ['STATIC_VALUE'],
        isRequired: true,
      },
      ...attributes.map(([name, t]) => ({
        typeDefinition: {
          name,
          type: t.type === 'number' ? 'number' : t.type === 'boolean' ? 'bool' : 'string',
          fieldType: t.type === 'number' ? 'number' : 'text',
          options: [],
          externalOptions: false,
        },
        supportedValueTypes: ['STATIC_VALUE', 'OBJECT_PROPERTY'],
        isRequired: false,
      })),
    ],
    outputFields: [
      {
        typeDefinition: {
          name: 'remit_verdict',
          type: 'enumeration',
          options: ['go', 'flag', 'stop'].map((v) => ({
            label: v,
            value: v,
            displayOrder: 0,
            hidden: false,
          })),
          externalOptions: false,
        },
        supportedValueTypes: ['STATIC_VALUE'],
      },
      {
        typeDefinition: { name: 'remit_reason', type: 'string', options: [], externalOptions: false },
        supportedValueTypes: ['STATIC_VALUE'],
      },
      {
        typeDefinition: { name: 'remit_retry_after', type: 'string', options: [], externalOptions: false },
        supportedValueTypes: ['STATIC_VALUE'],
      },
    ],
    labels: {
      en: {
        actionName: 'Check with Remit',
        actionDescription:
          'Asks Remit whether this touch may go. Branch on "Remit verdict": send only when it is go.',
        appDisplayName: 'Remit',
        actionCardContent: 'Check with Remit: {{remit_action}}',
        inputFieldLabels: {
          [ACTION_FIELD]: 'What the next step does',
          ...Object.fromEntries(attributes.map(([n]) => [n, n])),
        },
        outputFieldLabels: {
          remit_verdict: 'Remit verdict',
          remit_reason: 'Remit reason',
          remit_retry_after: 'Retry after',
        },
      },
    },
  }
}

/** Creates the action, or updates the one already registered at the same action URL. */
export async function registerAction(o: RegisterOptions): Promise<{ id: string; created: boolean }> {
  const definition = actionDefinition(o)
  const existing = (await o.hubspot.automation.actions.definitionsApi.getPage(o.appId)).results.find(
    (d) => d.actionUrl === o.actionUrl,
  )
  if (existing) {
    await o.hubspot.automation.actions.definitionsApi.update(existing.id, o.appId, definition as never)
    return { id: existing.id, created: false }
  }
  const created = await o.hubspot.automation.actions.definitionsApi.create(o.appId, definition as never)
  return { id: created.id, created: true }
}
