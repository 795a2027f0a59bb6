import { mkdirSync, mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { expect, it, vi } from 'vitest'
import { run } from '../src/index.ts'

// @remit/salesforce installed without its optional deploy libraries: deploy must say SDK_MISSING
// (what to install) before it asks for the org's login, not NO_ORG first.

const sf = vi.hoisted(() => {
  class SalesforceError extends Error {
    readonly code: string
    readonly hint: string
    constructor(code: string, message: string, hint: string) {
      super(message)
      this.name = 'SalesforceError'
      this.code = code
      this.hint = hint
    }
  }
  return {
    SalesforceError,
    requireDeployLibraries: async () => {
      throw new SalesforceError(
        'SDK_MISSING',
        "deploying needs Salesforce's deploy libraries, which are not installed",
        'npm install @salesforce/source-deploy-retrieve @salesforce/kit',
      )
    },
    connectionFor: vi.fn(async (alias: string) => {
      throw new SalesforceError('NO_ORG', `no usable Salesforce login for "${alias}"`, 'log in')
    }),
    deployPackage: vi.fn(),
  }
})
vi.mock('@remit/salesforce', () => sf)

it('salesforce deploy without the deploy libraries: SDK_MISSING before any login is asked for', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'remit-sf-'))
  mkdirSync(join(dir, 'force-app/main/default/externalCredentials'), { recursive: true })
  const err: string[] = []
  const code = await run(['salesforce', 'deploy', '--target-org', 'acme', '--dir', dir], {
    out: () => {},
    err: (l) => err.push(l),
    color: false,
  })
  expect(code).toBe(3)
  expect(err.join('\n')).toBe(
    "error: deploying needs Salesforce's deploy libraries, which are not installed (SDK_MISSING)\n  hint: npm install @salesforce/source-deploy-retrieve @salesforce/kit",
  )
  expect(sf.connectionFor).not.toHaveBeenCalled()
  expect(sf.deployPackage).not.toHaveBeenCalled()
})
