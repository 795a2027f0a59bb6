import { existsSync, readdirSync } from 'node:fs'
import { join } from 'node:path'
import { expect, it } from 'vitest'
import { dryRun } from '../release.ts'
import { publishable } from '../tarballs.ts'

// What a user's first hour depends on: the packages as npm gets them. `changeset version` runs in a
// throwaway worktree (versions and CHANGELOGs from the changesets); `changeset publish` (the
// release's own command) publishes every package to a registry on 127.0.0.1; npm installs them from
// it into an empty folder, with no workspace links; the quickstart runs there (validate, decide,
// serve with the console, the SendGrid gate through tsc against the real SDK, every package
// imported); and `npx @remit/cli` works from an empty folder.

it('published packages install from a registry and run the quickstart; npx @remit/cli works', async () => {
  const report = await dryRun({
    log: () => {},
    also: async ({ app, npx }) => {
      // Every tarball carries what npm shows and nothing of the repository's own.
      for (const { name } of publishable()) {
        const dir = join(app, 'node_modules', name)
        expect(existsSync(join(dir, 'LICENSE')), `${name}: LICENSE`).toBe(true)
        expect(existsSync(join(dir, 'README.md')), `${name}: README.md`).toBe(true)
        expect(
          readdirSync(dir).filter((f) => ['src', 'test', 'bench', 'tsconfig.json'].includes(f)),
          name,
        ).toEqual([])
      }
      expect(existsSync(join(app, 'node_modules/@remit/server/console/index.html'))).toBe(true)
      // @remit/cli alone stays lean: the PostgreSQL store is an optional peer, named when needed.
      const error = await npx(['serve', '--store', 'postgres://nobody@127.0.0.1:1/none']).catch((e) => e)
      expect(error.code).toBe(2)
      expect(error.stderr).toContain(
        '--store postgres://… needs @remit/store-postgres, which is not installed',
      )
      expect(error.stderr).toContain('npm install @remit/store-postgres')
    },
  })
  expect(Object.keys(report.published).sort()).toEqual(
    publishable()
      .map((p) => p.name)
      .sort(),
  )
  // The release's versions and CHANGELOGs come from the changesets: a package that a pending changeset
  // bumps gets a CHANGELOG entry for its new version (right after a release there may be none).
  for (const { name, version } of publishable()) {
    const next = report.versions[name]
    expect(next, name).toBeDefined()
    if (next?.version !== version)
      expect(next?.changelog, `${name}: CHANGELOG.md has ${next?.version}`).toBe(true)
  }
  expect(report.steps.validate).toMatch(/valid/)
  expect(report.steps.decide).toMatch(/^FLAG/m)
  expect(report.steps.serve).toMatch(/^console 200/)
  expect(report.steps.gate).toBe('no complaints')
  expect(report.steps.imports?.trim().split('\n')).toHaveLength(9)
  expect(report.npxVersion).toBe(publishable().find((p) => p.name === '@remit/cli')?.version)
}, 600_000)
