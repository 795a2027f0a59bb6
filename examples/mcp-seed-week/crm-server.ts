// A fake CRM's MCP server (stdio): the tools an agent acts through. Each call that reaches it is
// appended to $CRM_LOG as one JSON line: what the customers actually received.
import { appendFileSync } from 'node:fs'
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js'
import { StdioServerTransport } from '@modelcontextprotocol/sdk/server/stdio.js'
import { z } from 'zod'

const customer = z.object({
  accountId: z.string(),
  contactId: z.string(),
  email: z.string(),
  lifecycle: z.string(),
  tier: z.string(),
  renewalValue: z.number().optional(),
  lastTicketOpenedAt: z.string().optional(),
})
const server = new McpServer({ name: 'fake-crm', version: '1.0.0' })
const tools: Record<string, [string, z.ZodRawShape]> = {
  send_positioning_email: ['Send the premium positioning e-mail', { customer }],
  send_cold_email: ['Send the cold-prospect e-mail', { customer }],
  create_offer: ['Offer a discount', { customer, discountPct: z.number() }],
  enroll_in_sequence: ['Enroll the contact in the win-back sequence', { customer }],
  lookup_account: ['Read an account', { accountId: z.string() }],
}
for (const [name, [description, inputSchema]] of Object.entries(tools))
  server.registerTool(name, { description, inputSchema }, async (args) => {
    if (process.env.CRM_LOG) appendFileSync(process.env.CRM_LOG, `${JSON.stringify({ tool: name, args })}\n`)
    return { content: [{ type: 'text', text: `${name}: done` }] }
  })
await server.connect(new StdioServerTransport())
