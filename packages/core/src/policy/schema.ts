import { z } from 'zod'
import { parseDuration } from '../time/duration.ts'

// The policy file's shape (reference: this package's README). Types are derived from these schemas; the
// loader adds what zod cannot see: positions, cross-references, CEL type checks and warnings.

const ruleId = z
  .string()
  .regex(/^[A-Za-z0-9][A-Za-z0-9._-]*$/, 'expected a rule id of letters, digits, ".", "_" or "-"')
const name = z.string().min(1)
const duration = z.string().refine((s) => parseDuration(s) !== undefined, {
  message: 'expected a duration such as 72h, 30m, 1h30m or 7d',
})
const cel = z.string().trim().min(1, 'expected a CEL expression')
const oneOrMany = <T extends z.ZodType>(item: T) => z.union([item, z.array(item).min(1)])

export const valueTypes = ['string', 'number', 'boolean', 'timestamp', 'list'] as const
export type ValueType = (typeof valueTypes)[number]

const typedValue = z.strictObject({
  type: z.enum(valueTypes),
  enum: z.array(z.string()).min(1).optional(),
  optional: z.boolean().default(false),
  description: z.string().optional(),
})
/** `{ type: number }` or just `number`. */
const typedValueOrShorthand = z.union([
  z.enum(valueTypes).transform((type) => ({ type, optional: false }) as z.infer<typeof typedValue>),
  typedValue,
])

export const teamSchema = z.strictObject({
  reviewCapacityPerDay: z.number().int().nonnegative().optional(),
  description: z.string().optional(),
})

export const agentSchema = z.strictObject({
  team: name,
  tools: z.array(name).default([]),
  description: z.string().optional(),
})

export const actionKindSchema = z.strictObject({
  channel: name,
  outbound: z.boolean().default(true),
  /** The kind of promise a go makes (discount, price): recorded in the ledger as a commitment. */
  commitment: name.optional(),
  /** How long a commitment stays outstanding; forever when absent. */
  commitmentLasts: duration.optional(),
  attributes: z.record(z.string(), typedValueOrShorthand).default({}),
  description: z.string().optional(),
})

/** Which decisions a rule applies to; all given fields must match, absent fields match anything. */
const scope = {
  agent: oneOrMany(name).optional(),
  team: oneOrMany(name).optional(),
  action: oneOrMany(name).optional(),
  channel: oneOrMany(name).optional(),
  outbound: z.boolean().optional(),
}

export const ownershipSchema = z.strictObject({
  id: ruleId,
  when: cel,
  owner: name,
  then: z.enum(['flag', 'stop']).default('flag'),
  message: z.string().optional(),
})

export const permissionSchema = z.strictObject({
  id: ruleId,
  ...scope,
  when: cel.optional(),
  message: z.string().optional(),
})

export const triggerSchema = z.strictObject({
  id: ruleId,
  ...scope,
  when: cel,
  then: z.enum(['flag', 'stop']),
  until: cel.optional(),
  notify: z.array(name).default([]),
  message: z.string().optional(),
})

export const stopSchema = z.strictObject({
  id: ruleId,
  ...scope,
  when: cel.optional(),
  message: z.string().optional(),
})

export const limitSchema = z.strictObject({
  id: ruleId,
  ...scope,
  max: z.number().int().nonnegative(),
  per: duration,
  scope: z.enum(['account', 'contact']).default('account'),
  then: z.enum(['flag', 'stop']).default('stop'),
  when: cel.optional(),
  message: z.string().optional(),
})

export const reviewSettingsSchema = z.strictObject({
  defaultTeam: name,
  expiresAfter: duration.default('72h'),
  onExpiry: z.literal('stop').default('stop'),
})

export const policySchema = z.strictObject({
  version: z.literal(1),
  teams: z.record(
    z.string(),
    teamSchema.nullish().transform((t) => t ?? {}),
  ),
  agents: z.record(z.string(), agentSchema),
  facts: z.record(z.string(), typedValueOrShorthand).default({}),
  actions: z.record(z.string(), actionKindSchema),
  ownership: z.array(ownershipSchema).default([]),
  permissions: z.array(permissionSchema).default([]),
  triggers: z.array(triggerSchema).default([]),
  stops: z.array(stopSchema).default([]),
  limits: z.array(limitSchema).default([]),
  review: reviewSettingsSchema,
  ledger: z
    .strictObject({
      /** How far back `touches` reaches in rules; limits reach at least their own `per`. */
      lookback: duration.default('30d'),
    })
    .default({ lookback: '30d' }),
})

export type PolicyDocument = z.infer<typeof policySchema>
export type TypedValue = z.infer<typeof typedValue>
export type ActionKindDocument = z.infer<typeof actionKindSchema>
export type OwnershipRule = z.infer<typeof ownershipSchema>
export type PermissionRule = z.infer<typeof permissionSchema>
export type TriggerRule = z.infer<typeof triggerSchema>
export type StopRule = z.infer<typeof stopSchema>
export type LimitRule = z.infer<typeof limitSchema>
export type RuleSort = 'stop' | 'trigger' | 'limit' | 'ownership' | 'permission'
export const scopeKeys = ['agent', 'team', 'action', 'channel', 'outbound'] as const
