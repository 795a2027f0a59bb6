import { z } from 'zod'

// mcp.yaml: which MCP tools are actions Remit decides, and where each call's arguments say who the
// customer is and what the action carries. The types below are derived from this schema.

/** An argument's name (`to`) or a simple JSONPath into the arguments (`$.customer.email`). */
const argument = z.string().trim().min(1).describe('an argument name, or a JSONPath like $.customer.email')

export const customerMappingSchema = z
  .strictObject({
    accountId: argument.optional(),
    contactId: argument.optional(),
    email: argument.optional(),
  })
  .describe('where the call names the customer: at least one of accountId, contactId, email')

/** A fact from an argument, or one every call of the tool carries (`{ value: renewal }`). */
export const factMappingSchema = z.union([argument, z.strictObject({ value: z.unknown() })])

export const toolMappingSchema = z
  .strictObject({
    action: z.string().trim().min(1).optional().describe('the action kind, from the policy'),
    passthrough: z
      .boolean()
      .optional()
      .describe('true: an unmapped tool that may be called ungated (no decision, nothing recorded)'),
    customer: customerMappingSchema.optional(),
    attributes: z.record(z.string(), argument).optional(),
    facts: z.record(z.string(), factMappingSchema).optional(),
  })
  .describe('one tool: an action Remit decides, or passthrough: true')

export const toolMapSchema = z.strictObject({
  version: z.literal(1),
  tools: z.record(z.string(), toolMappingSchema),
})

export type ToolMapDocument = z.infer<typeof toolMapSchema>
export type ToolMappingDocument = z.infer<typeof toolMappingSchema>

/** Keys each level of the file knows, for "did you mean" on an unknown one. */
export const KNOWN_KEYS = {
  root: Object.keys(toolMapSchema.shape),
  tool: Object.keys(toolMappingSchema.shape),
  customer: Object.keys(customerMappingSchema.shape),
} as const
