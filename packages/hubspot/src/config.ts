import { readFile } from 'node:fs/promises'
import { parse } from 'yaml'
import { z } from 'zod'

/**
 * hubspot.yaml (`remit serve --hubspot-config`): how HubSpot records become customers.
 *   properties: { lifecycle: lifecyclestage, tier: tier }   # facts from the enrolled object
 *   account: account_id                                       # property holding the shared account id
 *   context:                                                  # or read the CRM (needs the access token)
 *     properties: { tier: { property: tier, from: company } }
 *     ticketFact: lastTicketOpenedAt
 *     renewal: { pipeline: renewals, stages: [negotiation], fact: lifecycle, value: renewal }
 *     engagements: { team: sales, owners: ["900"], sinceHours: 72 }
 */
const mappedProperty = z.union([
  z.string(),
  z.strictObject({
    property: z.string(),
    from: z.enum(['contact', 'company']).optional(),
    values: z.record(z.string(), z.string()).optional(),
  }),
])

export const hubspotConfigSchema = z.strictObject({
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
})

export type HubSpotConfig = z.infer<typeof hubspotConfigSchema>

/** A hubspot.yaml that does not read or does not fit: the message names the file and the key. */
export class HubSpotConfigError extends Error {
  readonly code = 'HUBSPOT_CONFIG_INVALID'
  constructor(message: string) {
    super(message)
    this.name = 'HubSpotConfigError'
  }
}

/** Reads and checks a hubspot.yaml. */
export async function readHubSpotConfig(path: string): Promise<HubSpotConfig> {
  let raw: unknown
  try {
    raw = parse(await readFile(path, 'utf8')) ?? {}
  } catch (error) {
    throw new HubSpotConfigError(`${path}: ${(error as Error).message.split('\n')[0]}`)
  }
  const parsed = hubspotConfigSchema.safeParse(raw)
  if (!parsed.success) {
    const issue = parsed.error.issues[0]
    throw new HubSpotConfigError(`${path}: ${issue?.path.join('.') || '(file)'}: ${issue?.message}`)
  }
  return parsed.data
}
