import { readdirSync, readFileSync } from 'node:fs'
import { Ajv } from 'ajv'
import { describe, expect, it } from 'vitest'
import { codeBlocks } from '../../../tools/readme/examples.ts'
import { benchPolicy } from '../bench/policy.ts'
import { policyJsonSchema } from '../src/index.ts'
import { policySchema } from '../src/policy/schema.ts'
import { PolicySource } from '../src/policy/source.ts'

// remit.schema.json is what editors check remit.yaml against (the YAML language server). It is made
// from the zod schema, so it must accept every policy the loader's schema accepts, refuse what is
// plainly wrong, and never drift from the zod schema it was made from.

const root = new URL('../../../', import.meta.url)
const shipped = JSON.parse(readFileSync(new URL('../remit.schema.json', import.meta.url), 'utf8'))
const validate = new Ajv({ allErrors: true }).compile(shipped)
const MODELINE = '# yaml-language-server: $schema=./node_modules/@remit/core/remit.schema.json'

/** What the loader's zod schema sees: the YAML as plain data. */
const data = (text: string) => new PolicySource(text, '<policy>').doc.toJS()
const errors = () => (validate.errors ?? []).map((e) => `${e.instancePath} ${e.message}`).join('\n')

/** Every file under `dir` (a URL ending in /) whose name passes `keep`, outside node_modules and builds. */
function files(dir: URL, keep: (name: string) => boolean): URL[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    if (entry.isDirectory()) {
      return ['node_modules', 'dist', '.turbo', '.readme-example'].includes(entry.name)
        ? []
        : files(new URL(`${entry.name}/`, dir), keep)
    }
    return keep(entry.name) ? [new URL(entry.name, dir)] : []
  })
}
const name = (url: URL) => url.pathname.slice(root.pathname.length)
/** A policy starts `version:`; an MCP gateway's mcp.yaml does too, and maps `tools:` at the top. */
const isPolicy = (text: string) => /^version:/m.test(text) && !/^tools:/m.test(text)

const examplePolicies = files(new URL('examples/', root), (n) => /\.ya?ml$/.test(n)).filter((url) =>
  isPolicy(readFileSync(url, 'utf8')),
)
const markdown = [
  new URL('README.md', root),
  ...['packages/', 'apps/', 'examples/', 'docs/'].flatMap((dir) =>
    files(new URL(dir, root), (n) => n.endsWith('.md')),
  ),
]
const readmePolicies = markdown.flatMap((url) =>
  codeBlocks(url)
    .filter((b) => b.lang === 'yaml' && isPolicy(b.code))
    .map((b) => ({ where: `${name(url)}:${b.line}`, text: b.code })),
)
/** Policies written into tests and benches as template literals (without substitutions). */
const fixtures = ['packages/', 'apps/', 'examples/']
  .flatMap((dir) => files(new URL(dir, root), (n) => n.endsWith('.ts')))
  .flatMap((url) =>
    [...readFileSync(url, 'utf8').matchAll(/`(version: 1\n[^`$]*)`/g)].map((m) => ({
      where: name(url),
      text: m[1] as string,
    })),
  )

describe('remit.schema.json accepts every policy Remit accepts', () => {
  it('the example policies', () => {
    expect(examplePolicies.map(name)).toEqual(
      expect.arrayContaining(['examples/seed-week/remit.yaml', 'examples/synthetic-month/remit.yaml']),
    )
    for (const url of examplePolicies) {
      const doc = data(readFileSync(url, 'utf8'))
      expect(policySchema.safeParse(doc).success, name(url)).toBe(true)
      expect(validate(doc), `${name(url)}\n${errors()}`).toBe(true)
    }
  })

  it('the policies in READMEs and docs', () => {
    expect(
      readmePolicies.some((p) => p.where.startsWith('README.md:')),
      'the README tour',
    ).toBe(true)
    for (const { where, text } of readmePolicies) {
      expect(policySchema.safeParse(data(text)).success, where).toBe(true)
      expect(validate(data(text)), `${where}\n${errors()}`).toBe(true)
    }
  })

  it("the tests' and benches' policies that the zod schema accepts", () => {
    const accepted = [...fixtures, { where: 'bench/policy.ts', text: benchPolicy() }].filter(
      ({ text }) => policySchema.safeParse(data(text)).success,
    )
    expect(accepted.length).toBeGreaterThanOrEqual(5)
    for (const { where, text } of accepted) expect(validate(data(text)), `${where}\n${errors()}`).toBe(true)
  })

  it('what only the loader refuses: durations, CEL, names that refer to nothing', () => {
    const seed = readFileSync(new URL('examples/seed-week/remit.yaml', root), 'utf8')
    const loose = data(seed)
    loose.limits[0].per = 'a fortnight'
    loose.triggers[0].when = 'customer.lifecycle =='
    loose.agents['marketing-agent'].team = 'nobody'
    expect(policySchema.safeParse(loose).success).toBe(false)
    expect(validate(loose), errors()).toBe(true)
  })
})

describe('remit.schema.json refuses obvious mistakes', () => {
  const seed = readFileSync(new URL('examples/seed-week/remit.yaml', root), 'utf8')
  const mistakes: [string, (doc: Record<string, unknown>) => void, string][] = [
    [
      'an unknown top-level key',
      (d) => Object.assign(d, { rules: [] }),
      'must NOT have additional properties',
    ],
    [
      'a count that is not a number',
      (d) => Object.assign((d.limits as object[])[0] as object, { max: 'three' }),
      '/limits/0/max must be integer',
    ],
    [
      'a misspelled key',
      (d) => {
        d.permisions = d.permissions
        delete d.permissions
      },
      'must NOT have additional properties',
    ],
    [
      'an unknown key in a rule',
      (d) => Object.assign((d.triggers as object[])[0] as object, { than: 'stop' }),
      '/triggers/0 must NOT have additional properties',
    ],
    [
      'a value outside its enum',
      (d) => Object.assign((d.limits as object[])[0] as object, { then: 'block' }),
      '/limits/0/then must be equal to one of the allowed values',
    ],
    ['a missing required key', (d) => delete d.review, "must have required property 'review'"],
  ]
  for (const [what, mistake, error] of mistakes) {
    it(what, () => {
      const doc = data(seed)
      mistake(doc)
      expect(policySchema.safeParse(doc).success, 'the zod schema refuses it too').toBe(false)
      expect(validate(doc)).toBe(false)
      expect(errors()).toContain(error)
    })
  }
})

describe('remit.schema.json is the zod schema, shipped', () => {
  it('matches what the zod schema makes now (regenerate: node packages/core/scripts/schema.ts)', () => {
    expect(JSON.stringify(shipped)).toBe(JSON.stringify(policyJsonSchema()))
  })

  it('is a draft-07 schema, what the YAML language server reads, with an $id and a title', () => {
    expect(shipped).toMatchObject({
      $schema: 'http://json-schema.org/draft-07/schema#',
      $id: 'urn:remit:policy:remit.schema.json',
      title: expect.any(String),
      description: expect.stringContaining('remit validate'),
    })
  })

  it('describes every key, for editors’ hover and completion', () => {
    const undescribed: string[] = []
    const walk = (node: Record<string, unknown> | undefined, path: string) => {
      if (!node || typeof node !== 'object') return
      for (const [key, child] of Object.entries(
        (node.properties ?? {}) as Record<string, Record<string, unknown>>,
      )) {
        if (typeof child.description !== 'string') undescribed.push(`${path}.${key}`)
        walk(child, `${path}.${key}`)
      }
      for (const alt of (node.anyOf ?? []) as Record<string, unknown>[]) walk(alt, path)
      walk(node.items as Record<string, unknown>, `${path}[]`)
      walk(node.additionalProperties as Record<string, unknown>, `${path}.*`)
    }
    walk(shipped, '')
    expect(undescribed).toEqual([])
  })

  it('is in the package: exported and in its files', () => {
    const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8'))
    expect(pkg.exports['./remit.schema.json']).toBe('./remit.schema.json')
    expect(pkg.files).toContain('remit.schema.json')
  })

  // The modeline is read relative to the policy: it finds the schema where a project that installs
  // @remit/core has it, as the seed week's example package does.
  it('is where the documented modeline points, and the seed week’s policy uses that modeline', () => {
    expect(readFileSync(new URL('docs/policy.md', root), 'utf8')).toContain(MODELINE)
    const seed = new URL('examples/seed-week/remit.yaml', root)
    expect(readFileSync(seed, 'utf8').split('\n')[0]).toBe(MODELINE)
    const example = JSON.parse(readFileSync(new URL('package.json', seed), 'utf8'))
    expect(example.dependencies['@remit/core']).toBeDefined()
  })
})
