import { execFileSync } from 'node:child_process'
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'

// What users get is what `npm pack` makes: these helpers pack every publishable package of the
// repository and install tarballs into an empty folder with npm, as a user would (no workspace
// links). Used by the tarball test (tools/release/test) and `node tools/release/sizes.ts`.

export const repoRoot = fileURLToPath(new URL('../../', import.meta.url))

export interface Publishable {
  name: string
  version: string
  /** Folder relative to the repository's root, e.g. packages/core. */
  dir: string
}

/** The workspace packages npm would publish (not private), in a stable order. */
export function publishable(): Publishable[] {
  return ['packages', 'apps'].flatMap((parent) =>
    readdirSync(join(repoRoot, parent))
      .sort()
      .map((name) => ({
        dir: `${parent}/${name}`,
        pkg: readJson(join(repoRoot, parent, name, 'package.json')),
      }))
      .filter(({ pkg }) => !pkg.private)
      .map(({ dir, pkg }) => ({ name: pkg.name as string, version: pkg.version as string, dir })),
  )
}

/**
 * Packs every publishable package into `dest` with pnpm (which rewrites `workspace:` ranges and
 * runs prepack, as `pnpm publish` does). Returns name → tarball path.
 */
export function packAll(dest: string): Map<string, string> {
  mkdirSync(dest, { recursive: true })
  const tarballs = new Map<string, string>()
  for (const { name, dir } of publishable()) {
    const out = execFileSync('pnpm', ['pack', '--pack-destination', dest], {
      cwd: join(repoRoot, dir),
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    const file = out.trim().split('\n').at(-1) as string
    tarballs.set(name, file.startsWith('/') ? file : join(dest, file))
  }
  return tarballs
}

/**
 * Makes `dir` an empty npm project whose @remit/* packages resolve to `tarballs` (npm `overrides`,
 * so a package's dependency on another @remit package gets the packed one, never the registry's),
 * then `npm install`s `wanted` (package names; others than @remit/* come from the registry) into it.
 */
export function installFromTarballs(dir: string, tarballs: Map<string, string>, wanted: string[]): void {
  mkdirSync(dir, { recursive: true })
  const spec = (name: string) => (tarballs.has(name) ? `file:${tarballs.get(name)}` : 'latest')
  const dependencies = Object.fromEntries(wanted.map((name) => [name, spec(name)]))
  // npm refuses an override that differs from a direct dependency's spec; `$name` means "the same".
  const overrides = Object.fromEntries(
    [...tarballs.keys()].map((name) => [name, name in dependencies ? `$${name}` : spec(name)]),
  )
  const pkg = { name: 'remit-user', private: true, type: 'module', dependencies, overrides }
  writeFileSync(join(dir, 'package.json'), `${JSON.stringify(pkg, null, 2)}\n`)
  execFileSync('npm', ['install', '--no-audit', '--no-fund', '--loglevel=error'], {
    cwd: dir,
    stdio: ['ignore', 'pipe', 'pipe'],
  })
}

// biome-ignore lint/suspicious/noExplicitAny: package.json fields, read where their shape is known
export function readJson(file: string): Record<string, any> {
  return JSON.parse(readFileSync(file, 'utf8'))
}
