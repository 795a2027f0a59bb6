import { randomBytes } from 'node:crypto'
import { expect, it } from 'vitest'
import { runReadme, savedFile, typecheckReadme } from '../../../tools/readme/check.ts'
import { sql, url } from './database.ts'

// The README is what a new user follows, in an empty folder that holds the policy of @remit/core's
// README: its TypeScript compiles against the package, and it runs as written against a fresh
// database — the role and database its own step makes. They are renamed for the run (and the
// superuser's psql is the test cluster's), so CI never touches a real `remit` role or database.

const readme = new URL('../README.md', import.meta.url)
const policy = savedFile(new URL('../../core/README.md', import.meta.url), 'remit.yaml')

it("the README's TypeScript type-checks against the package, imported by its name", async () => {
  expect(await typecheckReadme(readme)).toBeGreaterThan(0)
}, 60_000)

it('the README works as written: its role and database, then its example decides go on them', async () => {
  const name = `remit_readme_${randomBytes(4).toString('hex')}`
  const { host } = new URL(url)
  const drop = () =>
    sql(async (client) => {
      await client.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`)
      await client.query(`DROP ROLE IF EXISTS ${name}`)
    })
  try {
    const session = await runReadme(readme, {
      files: { 'remit.yaml': policy },
      replace: [
        ['psql -h 127.0.0.1 -U postgres', `psql '${url}'`],
        [/\b(ROLE|DATABASE|OWNER) remit\b/g, `$1 ${name}`],
        ["PASSWORD 'remit'", `PASSWORD '${name}'`],
        ['postgres://remit:remit@127.0.0.1:5432/remit', `postgres://${name}:${name}@${host}/${name}`],
      ],
    })
    try {
      expect(session.done.map((b) => `${b.lang} ${b.as}`)).toEqual(['sh install', 'sh ran', 'ts ran'])
      expect(session.output.get(session.done.at(-1)?.line ?? 0)).toMatch(/^go \[ 'sales-discount' \]/)
    } finally {
      await session.close()
    }
  } finally {
    await drop()
  }
}, 60_000)
