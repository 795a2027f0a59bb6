import { expect, it } from 'vitest'
import { ifInstalled, optional } from '../src/optional.ts'
import { UsageError } from '../src/output.ts'

// Adapters are optional peers of @remit/cli: a command that needs a missing one says what to install.

it('a missing optional package is a usage error naming the package to install', async () => {
  const error = await optional(
    '@remit/not-installed',
    '--store postgres://…',
    () =>
      // @ts-expect-error: the point is that it does not exist
      import('@remit/not-installed'),
  ).catch((e) => e)
  expect(error).toBeInstanceOf(UsageError)
  expect(error.message).toBe('--store postgres://… needs @remit/not-installed, which is not installed')
  expect(error.hint).toMatch(/^npm install @remit\/not-installed/)
})

it('a missing package that an installed one needs is not blamed on the installed one', async () => {
  const inner = Object.assign(
    new Error("Cannot find package 'pg' imported from …/store-postgres/dist/index.js"),
    {
      code: 'ERR_MODULE_NOT_FOUND',
    },
  )
  await expect(optional('@remit/store-postgres', '--store', () => Promise.reject(inner))).rejects.toBe(inner)
})

it('an installed optional package loads, and ifInstalled tells absent from broken', async () => {
  expect((await optional('commander', 'x', () => import('commander'))).Command).toBeTypeOf('function')
  // @ts-expect-error: it does not exist
  expect(await ifInstalled('@remit/not-installed', () => import('@remit/not-installed'))).toBeUndefined()
  const broken = new SyntaxError('Unexpected token')
  await expect(ifInstalled('@remit/salesforce', () => Promise.reject(broken))).rejects.toBe(broken)
})
