import { execFileSync } from 'node:child_process'
import { mkdtempSync, readdirSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'
import { expect, it } from 'vitest'

// What npm users get is the tarball, not this folder: the console must be inside it and be found
// relative to wherever the package is installed (before, `remit serve` from npm answered 404 at
// /console/ — it looked for the console by a path inside the repository).

it('the packed @remit/server carries the built console and finds it where it is unpacked', async () => {
  const out = mkdtempSync(join(tmpdir(), 'remit-pack-'))
  const pkg = fileURLToPath(new URL('../', import.meta.url))
  const pnpm = fileURLToPath(new URL('../../../.tools/pnpm/node_modules/.bin/pnpm', import.meta.url))
  // What `prepack` does, but for the build: this package's dist is built already (turbo builds it
  // before its tests), and rebuilding it here would pull it from under the other packages' tests.
  execFileSync(
    pnpm,
    ['--dir', '../console', 'exec', 'vite', 'build', '--outDir', '../server/console', '--emptyOutDir'],
    {
      cwd: pkg,
      stdio: 'pipe',
    },
  )
  try {
    execFileSync(pnpm, ['pack', '--config.ignore-scripts=true', '--pack-destination', out], {
      cwd: pkg,
      stdio: 'pipe',
    })
  } finally {
    rmSync(join(pkg, 'console'), { recursive: true, force: true })
  }
  const tarball = readdirSync(out).find((f) => f.endsWith('.tgz')) as string
  const listing = execFileSync('tar', ['-tzf', join(out, tarball)], { encoding: 'utf8' }).split('\n')
  expect(listing).toContain('package/console/index.html')
  expect(listing).toContain('package/dist/console.js')
  expect(listing.some((f) => f.startsWith('package/src/'))).toBe(false)
  // Unpacked elsewhere, the package's own code finds its console.
  execFileSync('tar', ['-xzf', join(out, tarball), '-C', out])
  const { bundledConsoleDir } = await import(pathToFileURL(join(out, 'package/dist/console.js')).href)
  expect(bundledConsoleDir()).toBe(join(out, 'package/console/'))
}, 120_000)
