import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { expect, it } from 'vitest'
import { readHubSpotConfig } from '../src/index.ts'

const file = (text: string) => {
  const path = join(mkdtempSync(join(tmpdir(), 'remit-hubspot-yaml-')), 'hubspot.yaml')
  writeFileSync(path, text)
  return path
}

it('reads hubspot.yaml: property mapping, shared account id, CRM lookups', async () => {
  const config = await readHubSpotConfig(
    file(
      'properties: { lifecycle: lifecyclestage }\naccount: account_id\ncontext:\n  ticketFact: lastTicketOpenedAt\n',
    ),
  )
  expect(config).toEqual({
    properties: { lifecycle: 'lifecyclestage' },
    account: 'account_id',
    context: { ticketFact: 'lastTicketOpenedAt' },
  })
})

it('names the file and the key of a hubspot.yaml that does not fit, or does not parse', async () => {
  const path = file('properties: { lifecycle: lifecyclestage }\ncontext: { ticketFacts: x }\n')
  await expect(readHubSpotConfig(path)).rejects.toThrow(`${path}: context: Unrecognized key: "ticketFacts"`)
  await expect(readHubSpotConfig(file('properties: {'))).rejects.toMatchObject({
    code: 'HUBSPOT_CONFIG_INVALID',
  })
})
