import { readFile } from 'node:fs/promises'
import { parse } from 'yaml'
import { z } from 'zod'

/**
 * hubspot.yaml (`remit serve --hubspot-config`): the app, and how HubSpot records become customers.
 *   appId: 4242                                               # the HubSpot app (for `remit hubspot register`)
 *   publicUrl: https://remit.example.com                      # where HubSpot reaches this server
 *   portals: [102670506]                                      # the only portals served (default: any that installs)
 *   properties: { lifecycle: lifecyclestage, tier: tier }   # facts from the enrolled object
 *   account: account_id                                       # property holding the shared account id
 *   context:                                                  # or read the CRM (needs the access token)
 *     properties: { tier: { property: tier, from: company } }
 *     ticketFact: lastTicketOpenedAt
 *     renewal: { pipeline: renewals, stages: [negotiation], fact: lifecycle, value: renewal }
 *     engagements: { team: sales, owners: ["900"], sinceHours: 72 }
 *   activity:                                                 # reps' calls, meetings, e-mails, sequences
 *     owners: { "900": sales, "901": support }                # HubSpot owner id → Remit team
 */
const mappedProperty = z.union([
  z.string(),
  z.strictObject({
    property: z.string(),
    from: z.enum(['contact', 'company']).optional(),
    values: z.record(z.string(), z.string()).optional(),
  }),
])

export const activityKinds = ['calls', 'meetings', 'emails', 'sequences'] as const

export const hubspotConfigSchema = z.strictObject({
  appId: z.number().int().positive().optional(),
  portals: z.array(z.number().int().positive()).min(1).optional(),
  publicUrl: z.url({ protocol: /^https?$/ }).optional(),
  properties: z.record(z.string(), z.string()).optional(),
  account: z.string().optional(),
  context: z
    .strictObject({
      properties: z.record(z.string(), mappedProperty).optional(),
      ticketFact: z.string().optional(),
      closedTicketStages: z.array(z.string()).optional(),
      renewal: z
        .strictObject({
          pipeline: z.string().optional(),
          stages: z.array(z.string()),
          fact: z.string(),
          value: z.union([z.string(), z.boolean()]),
        })
        .optional(),
      engagements: z
        .strictObject({
          team: z.string(),
          owners: z.array(z.string()).optional(),
          sinceHours: z.number().optional(),
        })
        .optional(),
      cacheMs: z.number().optional(),
    })
    .optional(),
  activity: z
    .strictObject({
      owners: z.record(z.string(), z.string()),
      kinds: z.array(z.enum(activityKinds)).optional(),
      everySeconds: z.number().int().min(10).optional(),
      firstLookbackHours: z.number().positive().optional(),
    })
    .optional(),
})

export type HubSpotConfig = z.infer<typeof hubspotConfigSchema>

/**
 * The scopes an install must grant for this configuration: completing callbacks needs `automation`;
 * reading the CRM (context, activity) needs the read scope of each object read.
 */
export function requiredScopes(config: HubSpotConfig | undefined): string[] {
  const scopes = new Set(['automation'])
  if (config?.context || config?.activity) {
    scopes.add('crm.objects.contacts.read')
    scopes.add('crm.objects.companies.read')
  }
  if (config?.context?.ticketFact) scopes.add('tickets')
  if (config?.context?.renewal) scopes.add('crm.objects.deals.read')
  return [...scopes].sort()
}

/** A hubspot.yaml that does not read or does not fit: the message names the file and the key. */
export class HubSpotConfigError extends Error {
  readonly code = 'HUBSPOT_CONFIG_INVALID'
  constructor(message: string, options?: ErrorOptions) {
    super(message, options)
    this.name = 'HubSpotConfigError'
  }
}

/** Reads and checks a hubspot.yaml. */
export async function readHubSpotConfig(path: string): Promise<HubSpotConfig> {
  let raw: unknown
  try {
    raw = parse(await readFile(path, 'utf8')) ?? {}
  } catch (error) {
    // The cause keeps the file's own error (ENOENT, EACCES) for callers that word those themselves.
    throw new HubSpotConfigError(`${path}: ${(error as Error).message.split('\n')[0]}`, { cause: error })
  }
  const parsed = hubspotConfigSchema.safeParse(raw)
  if (!parsed.success) {
    // Every problem, one per line, each naming the file and the key.
    throw new HubSpotConfigError(
      parsed.error.issues
        .map((issue) => `${path}: ${issue.path.join('.') || '(file)'}: ${issue.message}`)
        .join('\n'),
    )
  }
  return parsed.data
}
