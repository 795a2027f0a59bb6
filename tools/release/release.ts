import { type ExecFileOptions, type ExecFileSyncOptions, execFile, execFileSync } from 'node:child_process'
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { homedir, tmpdir } from 'node:os'
import { join } from 'node:path'
import { quickstart } from './quickstart.ts'
import { npmrcFor, startRegistry } from './registry.ts'
import { publishable, readJson, repoRoot } from './tarballs.ts'

// `pnpm release`: what a maintainer runs to publish Remit's packages to npm.
//   pnpm release             install, build and test; `changeset version` (versions and CHANGELOGs
//                            from .changeset/); commit; `changeset publish` (npm provenance when run
//                            in CI that can attest it); tag
//   pnpm release --dry-run   the same publish against a throwaway registry on 127.0.0.1, then
//                            installs from it into an empty folder and runs the quickstart, and
//                            `npx @remit/cli --version`; touches nothing in the repository or on npm

const sh = (cmd: string, args: string[], o: ExecFileSyncOptions = {}) =>
  execFileSync(cmd, args, { cwd: repoRoot, stdio: 'inherit', ...o })
const say = (line: string) => process.stderr.write(`release: ${line}\n`)
// The throwaway registry answers from this process: commands that talk to it must not block it.
// Each command has a deadline (default 2 minutes): one that hangs (a registry that never answers) is
// killed and named, with what it printed, rather than holding the release, or CI, without a word.
const shAsync = (cmd: string, args: string[], o: ExecFileOptions = {}) =>
  new Promise<string>((resolve, reject) =>
    execFile(
      cmd,
      args,
      { cwd: repoRoot, maxBuffer: 64 << 20, timeout: 120_000, killSignal: 'SIGKILL', ...o },
      (error, stdout, stderr) => {
        if (!error) return resolve(String(stdout))
        const hung = error.killed ? ` (killed after ${o.timeout ?? 120_000} ms without finishing)` : ''
        error.message =
          `${cmd} ${args.join(' ')}${hung}: ${error.message}\n${String(stdout)}\n${String(stderr)}`.trim()
        reject(Object.assign(error, { stdout, stderr }))
      },
    ),
  )

/**
 * The environment of a user's shell: this process's, without the npm and pnpm settings a package
 * script inherits from the pnpm that runs it (`npm_config_yes=` among them made npx wait for an
 * answer nobody gives), nor provenance, which only CI that publishes for real can attest.
 */
function userEnv(): NodeJS.ProcessEnv {
  return Object.fromEntries(
    Object.entries(process.env).filter(
      ([name]) =>
        !/^(npm|pnpm)_(config|package|lifecycle)_|^npm_(execpath|node_execpath|command)$/i.test(name),
    ),
  )
}

/** The npm user config this process's user has (`NPM_CONFIG_USERCONFIG`, else ~/.npmrc), or ''. */
function userNpmrc(): string {
  const file =
    process.env.NPM_CONFIG_USERCONFIG ?? process.env.npm_config_userconfig ?? join(homedir(), '.npmrc')
  return existsSync(file) ? readFileSync(file, 'utf8') : ''
}

/**
 * npm install, tried a second time if the first hangs or fails on the network: npm's registry is the
 * one thing here outside the machine. Prefers npm's cache for what it already has.
 */
async function npmInstall(dir: string, names: string[], env: NodeJS.ProcessEnv): Promise<void> {
  const args = ['install', '--no-audit', '--no-fund', '--prefer-offline', '--loglevel=error', ...names]
  try {
    await shAsync('npm', args, { cwd: dir, env })
  } catch (error) {
    const e = error as { killed?: boolean; stderr?: string }
    if (!e.killed && !/ETIMEDOUT|ECONNRESET|EAI_AGAIN|socket hang up|network/i.test(e.stderr ?? ''))
      throw error
    await shAsync('npm', args, { cwd: dir, env })
  }
}

/**
 * Publishes the repository's packages, as `changeset publish` does for a release, to a registry on
 * 127.0.0.1; installs them from it into an empty folder and runs the quickstart; checks `npx`.
 * Returns what was published and the quickstart's output.
 */
export interface DryRunFolders {
  /** Where every package was installed, with the quickstart's files. */
  app: string
  /** An empty folder whose .npmrc points @remit at the registry, for `npx`. */
  empty: string
  /** `npx @remit/cli …args` in `empty`: resolves to stdout, rejects with the exit code and stderr. */
  npx: (args: string[]) => Promise<string>
}

export async function dryRun(
  o: { log?: (line: string) => void; also?: (folders: DryRunFolders) => Promise<void> } = {},
) {
  const log = o.log ?? say
  const registry = await startRegistry()
  const work = mkdtempSync(join(tmpdir(), 'remit-release-'))
  try {
    const versions = await nextVersions(work)
    log(
      `changeset version would release: ${Object.entries(versions)
        .map(([n, v]) => `${n}@${v.version}`)
        .join(', ')}`,
    )
    // Only @remit/* goes to the throwaway registry; every other package comes from npm's.
    // The user's own npm settings (a CA file, a proxy, their cache) stay in force: only the @remit
    // scope's lines are added (without the CA file, a machine behind a TLS-inspecting proxy got
    // SELF_SIGNED_CERT_IN_CHAIN from npm's registry, retried in silence).
    const npmrc = join(work, 'npmrc')
    writeFileSync(npmrc, `${userNpmrc()}\n${npmrcFor(registry)}`)
    const env = { ...userEnv(), NPM_CONFIG_USERCONFIG: npmrc, NO_COLOR: '1' }
    log(`publishing to ${registry.url} with changeset publish --no-git-tag`)
    // Packs and publishes every package, one pnpm process each: minutes on a busy CI machine.
    await shAsync(join(repoRoot, 'node_modules/.bin/changeset'), ['publish', '--no-git-tag'], {
      env,
      timeout: 300_000,
    })
    const published = registry.published()
    const missing = publishable().filter((p) => !published[p.name]?.includes(p.version))
    if (missing.length) throw new Error(`not published: ${missing.map((p) => p.name).join(', ')}`)
    log(`published ${Object.keys(published).length} packages; installing them into an empty folder`)

    const app = join(work, 'app')
    mkdirSync(app)
    writeFileSync(join(app, '.npmrc'), npmrcFor(registry))
    writeFileSync(join(app, 'package.json'), '{ "name": "remit-user", "private": true, "type": "module" }\n')
    const wanted = ['@remit/cli', '@remit/sendgrid', '@sendgrid/mail', '@types/node', '@remit/hubspot']
    wanted.push(
      '@remit/salesforce',
      '@remit/client',
      '@remit/store-postgres',
      '@remit/server',
      '@remit/core',
      '@remit/mcp',
      '@remit/slack',
    )
    await npmInstall(app, wanted, env)
    const steps = await quickstart(app, { adapters: true })

    // npx from an empty folder: only @remit/cli, which must bring all it needs.
    const empty = join(work, 'empty')
    mkdirSync(empty)
    writeFileSync(join(empty, '.npmrc'), npmrcFor(registry))
    const npxCache = join(work, 'npx-cache')
    const npx = (args: string[]) =>
      shAsync('npx', ['--yes', '--prefer-offline', '--cache', npxCache, '@remit/cli', ...args], {
        cwd: empty,
        env,
      })
    const version = (await npx(['--version'])).trim()
    const cli = publishable().find((p) => p.name === '@remit/cli')
    if (version !== cli?.version) throw new Error(`npx @remit/cli --version printed "${version}"`)
    log(`npx @remit/cli --version: ${version}`)
    await o.also?.({ app, empty, npx })
    return { versions, published, steps, npxVersion: version }
  } finally {
    await registry.close()
    rmSync(work, { recursive: true, force: true })
  }
}

/**
 * What `changeset version` would make of the committed changesets, tried in a throwaway worktree of
 * HEAD: each package's next version and whether it got a CHANGELOG entry for it.
 */
async function nextVersions(work: string): Promise<Record<string, { version: string; changelog: boolean }>> {
  const tree = join(work, 'worktree')
  await shAsync('git', ['worktree', 'add', '--detach', tree, 'HEAD'])
  try {
    await shAsync(join(repoRoot, 'node_modules/.bin/changeset'), ['version'], { cwd: tree })
    return Object.fromEntries(
      publishable().map(({ name, dir }) => {
        const version = readJson(join(tree, dir, 'package.json')).version as string
        const log = join(tree, dir, 'CHANGELOG.md')
        return [
          name,
          { version, changelog: existsSync(log) && readFileSync(log, 'utf8').includes(`## ${version}`) },
        ]
      }),
    )
  } finally {
    await shAsync('git', ['worktree', 'remove', '--force', tree])
  }
}

async function release(): Promise<void> {
  const dirty = execFileSync('git', ['status', '--porcelain'], { cwd: repoRoot, encoding: 'utf8' }).trim()
  if (dirty) throw new Error('the working tree has changes: release from a clean checkout of main')
  const attested = Boolean(process.env.GITHUB_ACTIONS || process.env.GITLAB_CI)
  const noProvenance = process.argv.includes('--no-provenance')
  if (!attested && !noProvenance)
    throw new Error(
      'npm provenance is attested only by CI (GitHub Actions or GitLab CI with an id token); run the release there, or pass --no-provenance',
    )
  sh('pnpm', ['install', '--frozen-lockfile'])
  sh('pnpm', ['test'])
  sh(join(repoRoot, 'node_modules/.bin/changeset'), ['version'])
  sh('pnpm', ['install', '--lockfile-only'])
  sh('git', ['add', '-A'])
  sh('git', ['commit', '-m', 'Release: versions and CHANGELOGs from changesets'])
  sh('pnpm', ['build'])
  sh(join(repoRoot, 'node_modules/.bin/changeset'), ['publish'], {
    env: { ...process.env, ...(attested && !noProvenance ? { NPM_CONFIG_PROVENANCE: 'true' } : {}) },
  })
  say('published; push the release commit and its tags: git push --follow-tags')
}

if (import.meta.main) {
  const main = process.argv.includes('--dry-run') ? dryRun().then(() => undefined) : release()
  main.catch((error) => {
    say(`error: ${(error as Error).message}`)
    process.exit(1)
  })
}
