import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { AuthInfo, Connection } from '@salesforce/core'

// A local fake of the Salesforce REST endpoints Remit uses, from Salesforce's REST API docs:
// - Query: GET /services/data/vXX.X/query?q=SOQL
//   https://developer.salesforce.com/docs/atlas.en-us.api_rest.meta/api_rest/resources_query.htm
// - Create a record (also publishes a platform event): POST /services/data/vXX.X/sobjects/{Name}
//   https://developer.salesforce.com/docs/atlas.en-us.platform_events.meta/platform_events/platform_events_publish_api.htm
// - Deploy (REST): POST /services/data/vXX.X/metadata/deployRequest, GET …/deployRequest/{id}
//   https://developer.salesforce.com/docs/atlas.en-us.api_meta.meta/api_meta/meta_rest_deploy.htm
// - Credentials: POST|PUT /services/data/vXX.X/named-credentials/credential (Connect REST API)

export interface FakeOptions {
  /** Answer every call 401 INVALID_SESSION_ID. */
  expired?: boolean
  /** Components the next deploy reports as failed. */
  failures?: { componentType: string; fullName: string; problem: string }[]
}

export async function fakeSalesforce(o: FakeOptions = {}) {
  const queries: string[] = []
  const published: { object: string; body: Record<string, unknown> }[] = []
  const credentials: { method: string; body: Record<string, unknown> }[] = []
  const deploys: number[] = []
  const unknown: string[] = []
  type Row = Record<string, unknown>
  const tables = {
    Account: [] as Row[],
    Contact: [] as Row[],
    Case: [] as Row[],
    Opportunity: [] as Row[],
    Task: [] as Row[],
    Event: [] as Row[],
  }
  const byName = tables as Record<string, Row[]>
  const server = createServer(async (req, res) => {
    const chunks: Buffer[] = []
    for await (const c of req) chunks.push(c as Buffer)
    const raw = Buffer.concat(chunks)
    const url = new URL(req.url ?? '/', 'http://fake')
    const send = (status: number, body: unknown) => {
      res.writeHead(status, { 'content-type': 'application/json' })
      res.end(JSON.stringify(body))
    }
    if (o.expired)
      return send(401, [{ message: 'Session expired or invalid', errorCode: 'INVALID_SESSION_ID' }])
    if (url.pathname === '/services/data')
      return send(200, [{ version: '62.0', label: "Winter '25", url: '/services/data/v62.0' }])
    // https://help.salesforce.com/s/articleView?id=sf.remoteaccess_using_userinfo_endpoint.htm
    if (url.pathname === '/services/oauth2/userinfo') {
      return send(200, {
        preferred_username: 'integration@acme.example',
        user_id: '005000000000009AAA',
        organization_id: '00D000000000001AAA',
      })
    }
    const path = url.pathname.replace(/^\/services\/data\/v\d+\.\d+/, '')
    if (path === '/query') {
      const soql = url.searchParams.get('q') ?? ''
      queries.push(soql)
      if (/FROM Organization/.test(soql))
        return send(200, {
          totalSize: 1,
          done: true,
          records: [{ Name: 'Acme Corp', IsSandbox: false, OrganizationType: 'Developer Edition' }],
        })
      const from = /FROM (\w+)/.exec(soql)?.[1] as string
      const where = [...soql.matchAll(/(\w+) = '((?:[^'\\]|\\.)*)'/g)].map(([, f, v]) => [
        f as string,
        (v as string).replace(/\\(.)/g, '$1'),
      ])
      const records = (byName[from] ?? []).filter((r) => where.every(([f, v]) => r[f as string] === v))
      return send(200, {
        totalSize: records.length,
        done: true,
        records: records.map((r) => ({ attributes: { type: from }, ...r })),
      })
    }
    if (/^\/sobjects\/User\/\w+$/.test(path))
      return send(200, { Id: '005000000000009AAA', Username: 'integration@acme.example' })
    const sobject = /^\/sobjects\/(\w+)\/?$/.exec(path)
    if (sobject && req.method === 'POST') {
      published.push({ object: sobject[1] as string, body: JSON.parse(raw.toString()) })
      return send(201, { id: `e0${published.length}`, success: true, errors: [] })
    }
    if (path === '/metadata/deployRequest' && req.method === 'POST') {
      deploys.push(raw.length)
      return send(201, {
        id: '0Af000000000001AAA',
        deployResult: { id: '0Af000000000001AAA', done: false, status: 'Pending', success: false },
      })
    }
    if (path.startsWith('/metadata/deployRequest/')) {
      const failures = o.failures ?? []
      const successes = [
        'ExternalCredential',
        'NamedCredential',
        'ExternalServiceRegistration',
        'PermissionSet',
        'CustomObject',
      ]
      return send(200, {
        id: '0Af000000000001AAA',
        deployResult: {
          id: '0Af000000000001AAA',
          done: true,
          status: failures.length ? 'Failed' : 'Succeeded',
          success: failures.length === 0,
          numberComponentErrors: failures.length,
          details: {
            componentSuccesses: failures.length
              ? []
              : successes.map((t) => ({
                  componentType: t,
                  fullName: t === 'CustomObject' ? 'Remit_Review__e' : 'Remit_sales_agent',
                  success: true,
                  created: true,
                })),
            componentFailures: failures.map((f) => ({ ...f, success: false, problemType: 'Error' })),
          },
        },
      })
    }
    if (path === '/named-credentials/credential') {
      credentials.push({ method: req.method ?? '', body: JSON.parse(raw.toString()) })
      return send(req.method === 'POST' ? 201 : 200, { externalCredential: 'x', principalName: 'Remit' })
    }
    unknown.push(`${req.method} ${url.pathname}`)
    send(404, [{ message: `no fake for ${req.method} ${url.pathname}`, errorCode: 'NOT_FOUND' }])
  })
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
  const instanceUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
  return {
    instanceUrl,
    queries,
    published,
    credentials,
    deploys,
    tables,
    unknown,
    /** @salesforce/core's real Connection, built from an access token and an instance URL. */
    async connection(): Promise<Connection> {
      const authInfo = await AuthInfo.create({
        accessTokenOptions: { accessToken: '00D000000000001!token', instanceUrl, loginUrl: instanceUrl },
      })
      const connection = await Connection.create({ authInfo })
      connection.setApiVersion('62.0')
      return connection
    },
    close: () => new Promise((r) => server.close(r)),
  }
}
