import { execFileSync } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { installFromTarballs, packAll, publishable } from './tarballs.ts'

// Install size of every package as a user gets it: `npm install <package>` into an empty folder
// (with npm's default of installing peer dependencies), from this checkout's tarballs.
//   node tools/release/sizes.ts [--from <dir of tarballs>]
const from = process.argv.indexOf('--from')
const work = mkdtempSync(join(tmpdir(), 'remit-sizes-'))
try {
  const tarballs = from > 0 ? fromDir(process.argv[from + 1] as string) : packAll(join(work, 'tarballs'))
  console.log('| package | packages installed | on disk |\n| --- | ---: | ---: |')
  for (const { name } of publishable()) {
    const dir = join(work, name.replace('/', '-'))
    installFromTarballs(dir, tarballs, [name])
    const bytes = Number(
      execFileSync('du', ['-sb', join(dir, 'node_modules')], { encoding: 'utf8' }).split('\t')[0],
    )
    const count =
      execFileSync('npm', ['ls', '--all', '--parseable'], { cwd: dir, encoding: 'utf8' }).trim().split('\n')
        .length - 1
    const size = bytes < 1e6 ? `${Math.round(bytes / 1e3)} kB` : `${(bytes / 1e6).toFixed(1)} MB`
    console.log(`| ${name} | ${count} | ${size} |`)
  }
} finally {
  rmSync(work, { recursive: true, force: true })
}

function fromDir(dir: string): Map<string, string> {
  const names = publishable().map(({ name }) => name)
  return new Map(
    names.map((name) => [name, join(dir, `${name.replace('@', '').replace('/', '-')}-0.1.0.tgz`)]),
  )
}
