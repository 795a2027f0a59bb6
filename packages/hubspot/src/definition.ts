import type { Policy } from '@remit/core'
import type { HubSpotConfig } from './config.ts'

// The "Check with Remit" custom workflow action as HubSpot's automation actions v4 API defines it
// (PublicActionDefinitionEgg; "Custom Workflow Actions", "Define your custom action"). The types are
// written from HubSpot's published schema rather than taken from @hubspot/api-client's models:
// those require `externalOptions` on input fields, which HubSpot's input-field schema does not have.

/** The input field holding the action kind (a dropdown filled from the policy). */
export const ACTION_FIELD = 'remit_action'

export type InputFieldType =
  | 'bool'
  | 'date'
  | 'datetime'
  | 'enumeration'
  | 'json'
  | 'number'
  | 'object_coordinates'
  | 'phone_number'
  | 'string'
export type FieldType =
  | 'booleancheckbox'
  | 'calculation_equation'
  | 'checkbox'
  | 'date'
  | 'file'
  | 'html'
  | 'number'
  | 'phonenumber'
  | 'radio'
  | 'select'
  | 'text'
  | 'textarea'

export interface HubSpotOption {
  label: string
  value: string
  description?: string
  displayOrder?: number
}

export interface InputFieldDefinition {
  isRequired: boolean
  typeDefinition: {
    name: string
    type: InputFieldType
    fieldType: FieldType
    options: HubSpotOption[]
    optionsUrl?: string
    helpText?: string
  }
  supportedValueTypes: ('STATIC_VALUE' | 'OBJECT_PROPERTY')[]
}

export interface OutputFieldDefinition {
  typeDefinition: { name: string; type: InputFieldType; fieldType: FieldType; options?: HubSpotOption[] }
}

export interface ActionLabels {
  actionName: string
  actionDescription?: string
  appDisplayName?: string
  actionCardContent?: string
  inputFieldLabels?: Record<string, string>
  inputFieldDescriptions?: Record<string, string>
  outputFieldLabels?: Record<string, string>
}

/** What `POST /automation/v4/actions/{appId}` takes. */
export interface ActionDefinition {
  actionUrl: string
  published: boolean
  objectTypes: string[]
  functions: never[]
  inputFields: InputFieldDefinition[]
  outputFields: OutputFieldDefinition[]
  objectRequestOptions: { properties: string[] }
  labels: Record<string, ActionLabels>
}

export interface DefinitionOptions {
  /** Where HubSpot POSTs executions (the server's /hubspot/action). */
  actionUrl: string
  /** Where HubSpot fetches the action-kind dropdown (the server's /hubspot/options). */
  optionsUrl: string
  policy: Policy
  /** hubspot.yaml: which record properties are facts and identity (HubSpot sends only those). */
  config?: HubSpotConfig
  objectTypes?: string[]
}

type Declared = Policy['attributes'][string]

/**
 * HubSpot pairs each field `type` with the `fieldType`s of CRM properties ("Property type and
 * fieldType values"): bool ↔ booleancheckbox, enumeration ↔ select/checkbox, number ↔ number,
 * string ↔ text/textarea, datetime ↔ date. A policy type maps onto one such pair.
 */
export function fieldTypeOf(
  t: Declared,
): Pick<InputFieldDefinition['typeDefinition'], 'type' | 'fieldType' | 'options' | 'helpText'> {
  const options = (t.enum ?? []).map((value, displayOrder) => ({ label: value, value, displayOrder }))
  switch (t.type) {
    case 'number':
      return { type: 'number', fieldType: 'number', options: [] }
    case 'boolean':
      return {
        type: 'bool',
        fieldType: 'booleancheckbox',
        options: [
          { label: 'Yes', value: 'true', displayOrder: 0 },
          { label: 'No', value: 'false', displayOrder: 1 },
        ],
      }
    case 'timestamp':
      return { type: 'datetime', fieldType: 'date', options: [] }
    case 'list':
      return options.length
        ? { type: 'enumeration', fieldType: 'checkbox', options }
        : { type: 'string', fieldType: 'text', options: [], helpText: 'Items separated by ;' }
    default:
      return options.length
        ? { type: 'enumeration', fieldType: 'select', options }
        : { type: 'string', fieldType: 'text', options: [] }
  }
}

/**
 * The enrolled record's properties the action needs — the facts hubspot.yaml maps, the account id
 * property, and the e-mail — and no more: HubSpot sends only the properties named here.
 */
export function requestedProperties(config: HubSpotConfig | undefined): string[] {
  const wanted = new Set<string>(['email'])
  for (const property of Object.values(config?.properties ?? {})) wanted.add(property)
  if (config?.account) wanted.add(config.account)
  return [...wanted].sort()
}

export function actionDefinition(o: DefinitionOptions): ActionDefinition {
  const attributes = Object.entries(o.policy.attributes)
  const verdicts = ['go', 'flag', 'stop'].map((v, displayOrder) => ({ label: v, value: v, displayOrder }))
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
        },
        supportedValueTypes: ['STATIC_VALUE'],
        isRequired: true,
      },
      ...attributes.map(
        ([name, t]): InputFieldDefinition => ({
          typeDefinition: { name, ...fieldTypeOf(t) },
          supportedValueTypes: ['STATIC_VALUE', 'OBJECT_PROPERTY'],
          isRequired: false,
        }),
      ),
    ],
    outputFields: [
      {
        typeDefinition: {
          name: 'remit_verdict',
          type: 'enumeration',
          fieldType: 'select',
          options: verdicts,
        },
      },
      { typeDefinition: { name: 'remit_reason', type: 'string', fieldType: 'textarea' } },
      { typeDefinition: { name: 'remit_retry_after', type: 'string', fieldType: 'text' } },
    ],
    objectRequestOptions: { properties: requestedProperties(o.config) },
    labels: {
      en: {
        actionName: 'Check with Remit',
        actionDescription:
          'Asks Remit whether this touch may go. Branch on "Remit verdict": send only when it is go.',
        appDisplayName: 'Remit',
        actionCardContent: 'Check with Remit: {{remit_action}}',
        inputFieldLabels: {
          [ACTION_FIELD]: 'What the next step does',
          ...Object.fromEntries(attributes.map(([n, t]) => [n, t.description ?? n])),
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
