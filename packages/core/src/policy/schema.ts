import { z } from 'zod'
import { parseDuration } from '../time/duration.ts'

// The policy file's shape (reference: this package's README). Types are derived from these schemas; the
// loader adds what zod cannot see: positions, cross-references, CEL type checks and warnings.

const ruleId = z
  .string()
  .regex(/^[A-Za-z0-9][A-Za-z0-9._-]*$/, 'expected a rule id of letters, digits, ".", "_" or "-"')
  .describe('The rule\'s id: letters, digits, ".", "_" or "-"; unique in the policy')
const name = z.string().min(1)
const duration = z.string().refine((s) => parseDuration(s) !== undefined, {
  message: 'expected a duration such as 72h, 30m, 1h30m or 7d',
})
const cel = z.string().trim().min(1, 'expected a CEL expression')
const oneOrMany = <T extends z.ZodType>(item: T) => z.union([item, z.array(item).min(1)])

export const valueTypes = ['string', 'number', 'boolean', 'timestamp', 'list'] as const
export type ValueType = (typeof valueTypes)[number]

const typedValue = z.strictObject({
  type: z.enum(valueTypes).describe('string, number, boolean, timestamp or list (of strings)'),
  enum: z
    .array(z.string())
    .min(1)
    .optional()
    .describe('For strings: the values allowed; a request with another is refused'),
  optional: z
    .boolean()
    .default(false)
    .describe(
      'The value may be absent (test it with has()); a rule reading an absent value that is not optional fails closed',
    ),
  description: z.string().optional().describe('Free text'),
})
/** `{ type: number }` or just `number`. */
const typedValueOrShorthand = z
  .union([
    z.enum(valueTypes).transform((type) => ({ type, optional: false }) as z.infer<typeof typedValue>),
    typedValue,
  ])
  .describe('A type (string, number, boolean, timestamp, list) or { type, enum, optional, description }')

export const teamSchema = z.strictObject({
  reviewCapacityPerDay: z
    .number()
    .int()
    .nonnegative()
    .optional()
    .describe('How many flags a day the team can answer: replays and the console compare the load with it'),
  description: z.string().optional().describe('Free text'),
})

export const agentSchema = z.strictObject({
  team: name.describe('The team the agent acts for (its permissions, its queue)'),
  tools: z
    .array(name)
    .default([])
    .describe(
      'The tools it acts through, e.g. hubspot:workflow/1001; a key bound to a tool decides as its agent; one tool, one agent',
    ),
  description: z.string().optional().describe('Free text'),
})

export const actionKindSchema = z.strictObject({
  channel: name.describe('The channel, e.g. email or phone; rules can scope by it'),
  outbound: z
    .boolean()
    .default(true)
    .describe('Whether it reaches out to the customer (default true); limits and scopes can select by it'),
  /** The kind of promise a go makes (discount, price): recorded in the ledger as a commitment. */
  commitment: name
    .optional()
    .describe('The kind of promise a go makes (e.g. discount), recorded in the ledger as a commitment'),
  /** How long a commitment stays outstanding; forever when absent. */
  commitmentLasts: duration
    .optional()
    .describe('How long that commitment stays outstanding, a duration such as 30d; forever when absent'),
  priority: z
    .number()
    .int()
    .nonnegative()
    .default(0)
    .describe(
      "How much it matters, a whole number from 0 (default); a limit's reserve keeps its last slots for actions of at least some priority",
    ),
  attributes: z
    .record(z.string(), typedValueOrShorthand)
    .default({})
    .describe(
      'What the action carries, by name, typed like facts (discountPct: number); undeclared attributes are refused',
    ),
  reviewerMayChange: z
    .array(name)
    .optional()
    .describe(
      'Attributes a reviewer may change when approving a flag of this kind (approve with changes: 20% lowered to 15%); the changed request is decided again and, if it goes, is what is released. Absent: a reviewer approves or rejects the request as asked',
    ),
  description: z.string().optional().describe('Free text'),
})

/** Which decisions a rule applies to; all given fields must match, absent fields match anything. */
const scope = {
  agent: oneOrMany(name).optional().describe('Scope: an agent, or a list of agents; absent means any'),
  team: oneOrMany(name).optional().describe('Scope: a team, or a list of teams; absent means any'),
  action: oneOrMany(name).optional().describe('Scope: an action kind, or a list of them; absent means any'),
  channel: oneOrMany(name).optional().describe('Scope: a channel, or a list of channels; absent means any'),
  outbound: z
    .boolean()
    .optional()
    .describe('Scope: outbound actions only (true) or inbound only (false); absent means both'),
}

export const ownershipSchema = z.strictObject({
  id: ruleId,
  when: cel.describe('CEL: the condition under which owner owns the customer'),
  owner: name.describe('The owning team'),
  then: z
    .enum(['flag', 'stop'])
    .default('flag')
    .describe("What happens to another team's action: flag (default, to the owner's queue) or stop"),
  message: z.string().optional().describe('The reason given'),
})

export const permissionSchema = z.strictObject({
  id: ruleId,
  ...scope,
  when: cel.optional().describe('CEL: a condition; absent means always'),
  message: z.string().optional().describe('The reason given'),
})

export const triggerSchema = z.strictObject({
  id: ruleId,
  ...scope,
  when: cel.describe('CEL: the condition'),
  then: z.enum(['flag', 'stop']).describe('flag or stop'),
  until: cel
    .optional()
    .describe('CEL: for a stop, a time expression when it lifts (a pause); the decision carries retryAfter'),
  notify: z
    .array(name)
    .default([])
    .describe("Names told when it matches (returned in the decision's notify)"),
  message: z.string().optional().describe('The reason given'),
})

export const stopSchema = z.strictObject({
  id: ruleId,
  ...scope,
  when: cel.optional().describe('CEL: the condition; absent means always (within the scope)'),
  message: z.string().optional().describe('The reason given'),
})

/** Calendar periods a limit may count in (`per: calendar-week`), in its `zone`; weeks start on Monday. */
export const calendarPeriods = [
  'calendar-day',
  'calendar-week',
  'calendar-month',
  'calendar-quarter',
] as const
export type CalendarPeriod = (typeof calendarPeriods)[number]

/** A limit's exemptions: the actions, selected like a scope, that it neither applies to nor counts. */
const except = z
  .strictObject({
    agent: oneOrMany(name).optional().describe('Exempt: an agent, or a list of agents'),
    team: oneOrMany(name).optional().describe('Exempt: a team, or a list of teams'),
    action: oneOrMany(name).optional().describe('Exempt: an action kind, or a list of them'),
    channel: oneOrMany(name).optional().describe('Exempt: a channel, or a list of channels'),
    outbound: z.boolean().optional().describe('Exempt: outbound actions (true) or inbound ones (false)'),
  })
  .refine((e) => Object.values(e).some((v) => v !== undefined), {
    message: 'expected at least one of agent, team, action, channel, outbound',
  })
  .describe(
    'Actions the limit neither applies to nor counts, selected like its scope (all given keys must match), e.g. { action: [receipt] }',
  )

/** Headroom a limit keeps for the actions that matter more: its last `slots` go only to priority ≥ `minPriority`. */
const reserve = z
  .strictObject({
    slots: z
      .number()
      .int()
      .positive()
      .describe('How many of the last of max are kept (with distinct: distinct values); fewer than max'),
    minPriority: z
      .number()
      .int()
      .nonnegative()
      .describe(
        'The priority an action kind needs to use them; lower ones see the limit full at max - slots',
      ),
  })
  .describe(
    'Headroom kept for higher priorities, e.g. { slots: 1, minPriority: 5 }: the last slot of max goes only to actions of priority 5 or more. Not with sum',
  )

export const limitSchema = z.strictObject({
  id: ruleId,
  ...scope,
  except: except.optional(),
  max: z
    .number()
    .int()
    .nonnegative()
    .describe(
      'How many touches the window may hold (with distinct: how many distinct values; with sum: the most the sum may reach)',
    ),
  per: z
    .string()
    .refine((s) => parseDuration(s) !== undefined || (calendarPeriods as readonly string[]).includes(s), {
      message:
        'expected a duration such as 72h, 30m, 1h30m or 7d, or calendar-day, calendar-week, calendar-month or calendar-quarter',
    })
    .describe(
      'The window: a rolling duration such as 24h or 7d, or a calendar period (calendar-day, calendar-week from Monday, calendar-month, calendar-quarter) in zone',
    ),
  zone: z
    .string()
    .optional()
    .describe(
      'The IANA zone (e.g. Europe/Paris) whose calendar a calendar period follows; required for them',
    ),
  distinct: name
    .optional()
    .describe(
      'Count the distinct values of this declared action attribute among the counted touches, not the touches',
    ),
  sum: name
    .optional()
    .describe(
      'A budget: the sum of this declared number attribute over the counted touches plus the action may not exceed max',
    ),
  scope: z
    .enum(['account', 'contact'])
    .default('account')
    .describe('Count per account (default) or per contact'),
  reserve: reserve.optional(),
  then: z
    .enum(['flag', 'stop'])
    .default('stop')
    .describe('stop (default; the decision carries retryAfter) or flag'),
  when: cel
    .optional()
    .describe(
      'CEL: a condition under which the limit applies; touches are counted whatever it says (to exempt actions from counting, use except)',
    ),
  message: z.string().optional().describe('The reason given'),
})

/**
 * A send window: when, in the customer's local time, the actions of its scope may happen. Outside
 * it they stop until it next opens. Days, hours and quiet hours are checked by the loader (with
 * positions and hints), so they are plain strings here.
 */
export const windowSchema = z.strictObject({
  id: ruleId,
  ...scope,
  except: except
    .optional()
    .describe('Actions the window does not hold back, selected like its scope, e.g. { action: [receipt] }'),
  days: oneOrMany(z.string())
    .optional()
    .describe(
      'The local days it is open: mon, tue, wed, thu, fri, sat, sun, or a range such as mon-fri; absent means every day',
    ),
  hours: oneOrMany(z.string())
    .optional()
    .describe(
      'The local hours it is open on those days, HH:MM-HH:MM (e.g. 08:00-20:00; 22:00-02:00 runs past midnight); absent means all day',
    ),
  quiet: oneOrMany(z.string())
    .optional()
    .describe('Instead of hours: the local hours it is shut every day, HH:MM-HH:MM (e.g. 21:00-09:00)'),
  zone: z
    .string()
    .optional()
    .describe(
      "Where the customer's time zone is read: customer.<fact>, a declared string fact holding an IANA zone",
    ),
  defaultZone: z
    .string()
    .optional()
    .describe(
      'The IANA zone (e.g. Europe/Paris) for customers without one; required when zone is absent or its fact is optional',
    ),
  message: z.string().optional().describe('The reason given'),
})

export const reviewSettingsSchema = z.strictObject({
  defaultTeam: name.describe('Where flags go when no owner is named'),
  expiresAfter: duration
    .default('72h')
    .describe('How long a flag waits for an answer, a duration (default 72h)'),
  onExpiry: z
    .literal('stop')
    .default('stop')
    .describe('stop (the only choice: an unanswered flag never goes)'),
})

export const policySchema = z.strictObject({
  version: z.literal(1).describe("The policy file format's version: 1"),
  teams: z
    .record(
      z.string(),
      teamSchema.nullish().transform((t) => t ?? {}),
    )
    .describe('The teams, by id'),
  agents: z.record(z.string(), agentSchema).describe('The agents, by id'),
  facts: z
    .record(z.string(), typedValueOrShorthand)
    .default({})
    .describe('What may be known of a customer, by name, typed (name: type or name: { type, … })'),
  actions: z.record(z.string(), actionKindSchema).describe('The kinds of action agents take, by kind'),
  ownership: z
    .array(ownershipSchema)
    .default([])
    .describe('Who owns a customer, in order: the first rule that matches'),
  permissions: z
    .array(permissionSchema)
    .default([])
    .describe("What a team's agents may do alone; an action no permission covers is flagged"),
  triggers: z.array(triggerSchema).default([]).describe('Conditions that flag, stop or pause an action'),
  stops: z.array(stopSchema).default([]).describe('What never happens; a stop wins over every approval'),
  limits: z.array(limitSchema).default([]).describe('At most max touches per window'),
  windows: z
    .array(windowSchema)
    .default([])
    .describe("Send windows and quiet hours: when, in the customer's local time, actions may happen"),
  review: reviewSettingsSchema.describe('Where flags go and how long they wait'),
  ledger: z
    .strictObject({
      /** How far back `touches` reaches in rules; limits reach at least their own `per`. */
      lookback: duration
        .default('30d')
        .describe(
          'How far back touches reaches in rules, a duration (default 30d); limits always see their own window',
        ),
    })
    .default({ lookback: '30d' })
    .describe('How far back rules see touches'),
})

export type PolicyDocument = z.infer<typeof policySchema>
export type TypedValue = z.infer<typeof typedValue>
export type ActionKindDocument = z.infer<typeof actionKindSchema>
export type OwnershipRule = z.infer<typeof ownershipSchema>
export type PermissionRule = z.infer<typeof permissionSchema>
export type TriggerRule = z.infer<typeof triggerSchema>
export type StopRule = z.infer<typeof stopSchema>
export type LimitRule = z.infer<typeof limitSchema>
export type WindowRule = z.infer<typeof windowSchema>
export type RuleSort = 'stop' | 'trigger' | 'limit' | 'window' | 'ownership' | 'permission'
export const scopeKeys = ['agent', 'team', 'action', 'channel', 'outbound'] as const
