import { readFileSync, writeFileSync } from 'node:fs'
import { expect, it } from 'vitest'
import { harness } from './helpers.ts'

// docs/http-api.md is made from the server's own OpenAPI document (itself made from the route table
// the server serves), so it cannot drift. REMIT_WRITE_DOCS=1 rewrites it.
it('the HTTP API page lists every operation the server serves, as /openapi.json describes it', async () => {
  const h = await harness()
  try {
    const doc = (await h.call('GET', '/openapi.json')).body as {
      paths: Record<
        string,
        Record<
          string,
          {
            operationId: string
            summary: string
            description?: string
            security: unknown[]
            responses: Record<string, unknown>
          }
        >
      >
    }
    const rows: string[] = []
    for (const [path, operations] of Object.entries(doc.paths)) {
      for (const [method, op] of Object.entries(operations)) {
        const codes = Object.keys(op.responses).join(', ')
        rows.push(
          `| \`${method.toUpperCase()} ${path}\` | ${op.security.length ? 'key' : 'none'} | ${op.summary} | ${codes} |`,
        )
      }
    }
    const page = `# The HTTP API

Made from the server's own OpenAPI document (\`GET /openapi.json\`, generated from the route table the
server serves): a test fails when this page and the server disagree (\`REMIT_WRITE_DOCS=1\` rewrites it). Which key
may call what: [SECURITY.md](../SECURITY.md) and [apps/server](../apps/server/README.md). Every error
is \`{ "error": { "code", "message", "path"?, "hint"? } }\`.

| operation | key | what | answers |
| --- | --- | --- | --- |
${rows.join('\n')}
`
    const file = new URL('../../../docs/http-api.md', import.meta.url)
    if (process.env.REMIT_WRITE_DOCS) writeFileSync(file, page)
    expect(readFileSync(file, 'utf8')).toBe(page)
  } finally {
    await h.server.close()
  }
})
