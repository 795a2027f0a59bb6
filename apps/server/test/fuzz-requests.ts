// Hostile requests to every route the server serves, with every kind of key: the generator and sender
// that test/fuzz.test.ts (fixed seed, shrinking) and bench/fuzz.bench.ts (random seed, counting) share.
import { randomBytes } from 'node:crypto'
import { openSqliteStore, type Policy, type Store } from '@remit/core'
import fc from 'fast-check'
import type { Harness } from './helpers.ts'

type TypedValue = Policy['facts'][string]
// biome-ignore lint/suspicious/noExplicitAny: JSON Schema from /openapi.json, walked freely
type JsonSchema = any

/** One request as fast-check generates and shrinks it; `@dec3`, `@rev0`… name ids made earlier in the run. */
export interface FuzzRequest {
  method: string
  /** The route pattern it aims at (the path may not match it: junk params can miss every route). */
  route: string
  path: string
  query: string
  /** A key of the harness by role, a console session, none, or a raw Authorization header. */
  auth: string
  contentType: string | undefined
  /** JSON or other text, or bytes (as latin1) that need not be UTF-8. */
  body: string | { bytes: string } | undefined
}

export interface FuzzAnswer {
  /** 0: no answer (the request threw or took longer than 10 s). */
  status: number
  body: string
  url: string
  /** The server's error lines for this request: message and stack. */
  errors: string[]
}

export interface FuzzTarget {
  routes: { method: string; url: string }[]
  request: fc.Arbitrary<FuzzRequest>
  send(request: FuzzRequest): Promise<FuzzAnswer>
  /** Requests sent per route pattern. */
  sent: Map<string, number>
}

const KEY_ROLES = ['marketing', 'sales', 'support', 'salesReviewer', 'supportReviewer', 'admin'] as const
const POOLS = ['dec', 'rev', 'tch'] as const
const ANSWER_TIMEOUT_MS = 10_000

// Raw JSON tokens spliced into a body after JSON.stringify: numbers JSON.stringify cannot write, and
// nesting deeper than a generator would build.
const RAW_START = '\u0001'
const RAW_END = '\u0002'
const raw = (text: string) => `${RAW_START}${text}${RAW_END}`
const spliceRaw = (json: string) =>
  json.replace(/"\\u0001((?:[^"\\]|\\.)*?)\\u0002"/g, (_, text: string) => JSON.parse(`"${text}"`) as string)
const deepArray = (depth: number) => `${'['.repeat(depth)}${']'.repeat(depth)}`
const deepObject = (depth: number) => `${'{"a":'.repeat(depth)}1${'}'.repeat(depth)}`

const edgeStrings = [
  '',
  ' ',
  '\t\n',
  '\u0000',
  'a\u0000b',
  '\ud800',
  '\udfff',
  'x\ud800y',
  '\udc00\ud800',
  '\ufeff',
  '\u202e',
  '😀',
  'é',
  '__proto__',
  'constructor',
  'prototype',
  'toString',
  'hasOwnProperty',
  "'; DROP TABLE remit_decisions; --",
  '"',
  '\\',
  '%',
  '%00',
  '%zz',
  '../../etc/passwd',
  '<script>alert(1)</script>',
  '{{x}}',
  'NaN',
  'Infinity',
  '-0',
  '1e308',
  '1e999',
  '-1',
  '0',
  '9007199254740993',
  'true',
  'null',
  '.*',
  '(a+)+$',
  '1969-12-31T23:59:59Z',
  '1970-01-01T00:00:00Z',
  '0000-01-01T00:00:00Z',
  '0001-01-01T00:00:00Z',
  '9999-12-31T23:59:59Z',
  '9999-12-31T23:59:59-23:59',
  '+275760-09-13T00:00:00.000Z',
  '-271821-04-20T00:00:00.000Z',
  '+010000-01-01T00:00:00.000Z',
  '2024-02-30T00:00:00Z',
  'x'.repeat(101),
  'x'.repeat(257),
  'x'.repeat(4097),
  'x'.repeat(70_000),
]

const hostileString: fc.Arbitrary<string> = fc.oneof(
  fc.constantFrom(...edgeStrings),
  fc.string({ unit: 'binary', maxLength: 40 }),
  fc.string({ unit: 'grapheme', maxLength: 40 }),
  fc.string({
    unit: fc.constantFrom('\ud800', '\udc00', '\u0000', 'a', '😀', '.', '_', '-', ' '),
    maxLength: 20,
  }),
)

const hostileNumber = fc.oneof(
  fc.constantFrom(1e308, -1e308, -0, 0, 5e-324, 2 ** 53 + 2, -(2 ** 53) - 2, 0.1, 15, 15.000001, -1, 1e21),
  fc.double({ noNaN: true, noDefaultInfinity: true }),
  fc.integer(),
  fc.constantFrom('1e999', '-1e999', '-0', '1E+400', '1e-400', '123456789012345678901234567890').map(raw),
)

/** Nesting depths, most near the limits a parser or schema might set, some far beyond. */
const depth = (max: number) => fc.oneof(fc.integer({ min: 1, max: 70 }), fc.integer({ min: 1, max }))

const hostileKey = fc.oneof(
  hostileString,
  // Field names of ours: a stranger by a known name meets code a random name never reaches.
  fc.constantFrom(
    'id',
    'kind',
    'action',
    'customer',
    'facts',
    'accountId',
    'at',
    'note',
    'status',
    'a.b',
    'A_1',
  ),
)

/** Any JSON, small or deep or wide, with hostile strings and numbers throughout. */
const hostileJson: fc.Arbitrary<unknown> = fc.oneof(
  {
    weight: 16,
    arbitrary: fc.letrec((tie) => ({
      value: fc.oneof(
        { depthSize: 'small' },
        fc.constant(null),
        fc.boolean(),
        hostileNumber,
        hostileString,
        fc.array(tie('value'), { maxLength: 5 }),
        fc.dictionary(hostileKey, tie('value'), { maxKeys: 5 }),
      ),
    })).value,
  },
  {
    weight: 1,
    arbitrary: fc
      .integer({ min: 0, max: 3000 })
      .map((n) => Object.fromEntries(Array.from({ length: n }, (_, i) => [`f${i}`, i]))),
  },
  {
    weight: 1,
    arbitrary: fc.integer({ min: 0, max: 5000 }).map((n) => Array.from({ length: n }, (_, i) => `s${i}`)),
  },
  { weight: 1, arbitrary: depth(30_000).map((n) => raw(deepArray(n))) },
  { weight: 1, arbitrary: depth(12_000).map((n) => raw(deepObject(n))) },
)

/** A field's value now and then replaced by garbage: near the edges of what is valid, not pure noise. */
const mutate = <T>(valid: fc.Arbitrary<T>): fc.Arbitrary<unknown> =>
  fc.oneof({ weight: 25, arbitrary: valid }, { weight: 1, arbitrary: hostileJson })

/** An object with, now and then, a key dropped or a key added. */
const mutateObject = (object: fc.Arbitrary<Record<string, unknown>>): fc.Arbitrary<unknown> =>
  fc.oneof(
    { weight: 30, arbitrary: object },
    {
      weight: 1,
      arbitrary: fc.tuple(object, hostileKey, hostileJson).map(([o, k, v]) => ({ ...o, [k]: v })),
    },
    {
      weight: 1,
      arbitrary: fc.tuple(object, fc.nat()).map(([o, i]) => {
        const keys = Object.keys(o)
        if (!keys.length) return o
        const { [keys[i % keys.length] as string]: _dropped, ...rest } = o
        return rest
      }),
    },
  )

const nearNow = (ms: number) =>
  fc.integer({ min: -ms, max: ms }).map((offset) => new Date(Date.now() + offset).toISOString())
/** Times near now and at every edge: 1970, 9999, beyond JS Date, impossible dates, offsets. */
const time = fc.oneof(
  { weight: 8, arbitrary: nearNow(600_000) },
  {
    weight: 2,
    arbitrary: fc
      .date({
        min: new Date('1970-01-01T00:00:00Z'),
        max: new Date('9999-12-31T23:59:59Z'),
        noInvalidDate: true,
      })
      .map((d) => d.toISOString()),
  },
  {
    weight: 1,
    arbitrary: fc
      .date({ min: new Date(-8.64e15), max: new Date(8.64e15), noInvalidDate: true })
      .map((d) => d.toISOString()),
  },
  {
    weight: 1,
    arbitrary: fc
      .tuple(
        fc.integer({ min: 0, max: 9999 }),
        fc.integer({ min: 1, max: 12 }),
        fc.integer({ min: 1, max: 31 }),
        fc.constantFrom('Z', '+23:59', '-23:59', '+05:30', ''),
      )
      .map(
        ([y, m, d, offset]) =>
          `${String(y).padStart(4, '0')}-${String(m).padStart(2, '0')}-${String(d).padStart(2, '0')}T12:00:00${offset}`,
      ),
  },
  {
    weight: 3,
    arbitrary: fc.constantFrom(
      ...edgeStrings.filter((s) => /^[-+\d]/.test(s)),
      'now',
      '2026-04-09',
      '2026-04-09T10:00:00',
    ),
  },
)

const poolRef = (pool: (typeof POOLS)[number]) => fc.nat({ max: 50 }).map((i) => `@${pool}${i}`)

/** Percent-encodes UTF-16, a lone surrogate as the three bytes WTF-8 gives it (not valid UTF-8). */
function encode(s: string): string {
  let out = ''
  for (const char of s) {
    const code = char.codePointAt(0) as number
    out +=
      code >= 0xd800 && code <= 0xdfff
        ? `%${(0xe0 | (code >> 12)).toString(16)}%${(0x80 | ((code >> 6) & 0x3f)).toString(16)}%${(0x80 | (code & 0x3f)).toString(16)}`
        : encodeURIComponent(char)
  }
  return out
}

/** The routes the server serves, from Fastify's own table (so a new route is fuzzed without a word here). */
function servedRoutes(h: Harness): { method: string; url: string }[] {
  const routes: { method: string; url: string }[] = []
  const parents: string[] = []
  for (const line of h.server.app.printRoutes({ commonPrefix: false }).split('\n')) {
    const m = /^((?:│ {3}| {4})*)[├└]── (.*?)(?: \(([^)]*)\))?$/.exec(line)
    if (!m) continue
    const depth = (m[1] as string).length / 4
    parents.length = depth
    const url = `${parents.join('')}${m[2]}`
    parents.push(m[2] as string)
    for (const method of m[3]?.split(', ') ?? []) routes.push({ method, url })
  }
  return routes
}

/** Generates values that satisfy a JSON Schema, the policy's names where a field has a known name. */
function fromSchema(schema: JsonSchema, name: string | undefined, g: GenContext): fc.Arbitrary<unknown> {
  if (schema?.$ref) return fromSchema(g.components[schema.$ref.split('/').at(-1)], name, g)
  if (schema?.enum) return fc.constantFrom(...schema.enum)
  const named = name ? g.named[name] : undefined
  if (named) return named
  if (schema?.anyOf || schema?.oneOf)
    return fc.oneof(...(schema.anyOf ?? schema.oneOf).map((s: JsonSchema) => fromSchema(s, name, g)))
  switch (schema?.type) {
    case 'string':
      if (schema.format === 'date-time') return time
      if (schema.format === 'email') return g.named.email as fc.Arbitrary<unknown>
      return fc.string({ minLength: schema.minLength ?? 0, maxLength: Math.min(schema.maxLength ?? 30, 30) })
    case 'boolean':
      return fc.boolean()
    case 'integer':
    case 'number':
      return fc.integer({ min: schema.minimum ?? -10, max: Math.min(schema.maximum ?? 1000, 1e6) })
    case 'array':
      return fc.array(fromSchema(schema.items, undefined, g), {
        minLength: schema.minItems ?? 0,
        maxLength: 4,
      })
    case 'object': {
      const properties = Object.fromEntries(
        Object.entries(schema.properties ?? {}).map(([key, s]) => [key, mutate(fromSchema(s, key, g))]),
      )
      return mutateObject(
        fc.record(properties, { requiredKeys: schema.required ?? [] }) as fc.Arbitrary<
          Record<string, unknown>
        >,
      )
    }
    default:
      return hostileJson
  }
}

interface GenContext {
  components: Record<string, JsonSchema>
  /** Field names whose values should come from the policy, the harness or the ids made so far. */
  named: Record<string, fc.Arbitrary<unknown>>
}

function typedValue(declared: TypedValue): fc.Arbitrary<unknown> {
  switch (declared.type) {
    case 'string':
      return declared.enum ? fc.constantFrom(...declared.enum) : fc.string({ maxLength: 20 })
    case 'number':
      return hostileNumber
    case 'boolean':
      return fc.boolean()
    case 'timestamp':
      // The ends of what JS Date holds, more often than `time` has them: rules add durations to facts.
      return fc.oneof(
        { weight: 3, arbitrary: time },
        {
          weight: 1,
          arbitrary: fc.constantFrom('+275760-09-12T12:00:00.000Z', '-271821-04-20T12:00:00.000Z'),
        },
      )
    case 'list':
      return fc.array(fc.string({ maxLength: 10 }), { maxLength: 5 })
  }
}

function policyContext(h: Harness, components: Record<string, JsonSchema>): GenContext {
  const policy = h.server.remit.policy
  const kinds = [...policy.actions.keys()]
  const teams = [...policy.teams.keys()]
  const action = fc.oneof(
    ...[...policy.actions.values()].map((kind) => {
      const attributes = Object.entries(kind.attributes ?? {})
      const fields: Record<string, fc.Arbitrary<unknown>> = { kind: fc.constant(kind.kind) }
      for (const [attribute, declared] of attributes) fields[attribute] = mutate(typedValue(declared))
      const required = ['kind', ...attributes.filter(([, declared]) => !declared.optional).map(([n]) => n)]
      return mutateObject(
        fc.record(fields, { requiredKeys: required }) as fc.Arbitrary<Record<string, unknown>>,
      )
    }),
  )
  const facts = mutateObject(
    fc.record(Object.fromEntries(Object.entries(policy.facts).map(([n, t]) => [n, mutate(typedValue(t))])), {
      requiredKeys: [],
    }),
  )
  const account = fc.oneof(
    { weight: 8, arbitrary: fc.constantFrom('acme', 'globex', 'initech', 'jane@acme.example') },
    { weight: 1, arbitrary: hostileString },
  )
  return {
    components,
    named: {
      action: fc.oneof({ weight: 8, arbitrary: action }, { weight: 1, arbitrary: hostileJson }),
      facts: fc.oneof({ weight: 8, arbitrary: facts }, { weight: 1, arbitrary: hostileJson }),
      accountId: account,
      contactId: fc.constantFrom('acme-jane', 'globex-omar', ' acme-jane '),
      email: fc.constantFrom('jane@acme.example', 'omar@globex.example', 'JANE@ACME.EXAMPLE'),
      agent: fc.constantFrom(...policy.agents.keys(), 'nobody', 'marketing'),
      tool: fc.constantFrom(...policy.tools.keys(), 'nothing:1'),
      team: fc.constantFrom(...teams, 'nobody'),
      reviewer: fc.constantFrom(...teams, 'nobody'),
      kind: fc.constantFrom(...kinds, 'call', 'meeting', 'email.manual'),
      ids: fc.array(poolRef('rev'), { minLength: 1, maxLength: 5 }),
      key: fc.constantFrom(...KEY_ROLES.map((role) => h.key[role]), 'rk_unknown'),
      q: account,
      idempotencyKey: fc.oneof(
        { weight: 4, arbitrary: fc.constantFrom('retry-1', 'retry-2') },
        { weight: 1, arbitrary: hostileString },
      ),
      // An agent's `at` must lie near the server's clock: mostly so, or the decision is never made.
      at: fc.oneof({ weight: 6, arbitrary: nearNow(200_000) }, { weight: 1, arbitrary: time }),
      rule: fc.constantFrom(...policy.rules.map((r) => r.id), 'nothing'),
      limit: fc.oneof(
        { weight: 4, arbitrary: fc.integer({ min: 1, max: 100 }) },
        fc.integer({ min: 0, max: 6000 }),
      ),
    },
  }
}

/**
 * Query strings: the route's own parameters (valid-ish), strangers (some named as the path's
 * parameters, to shadow them), repeats, and undecodable junk.
 */
function queryString(
  parameters: { name: string; schema: JsonSchema }[],
  pathParameters: string[],
  g: GenContext,
): fc.Arbitrary<string> {
  const value = (p?: { name: string; schema: JsonSchema }) =>
    fc.oneof(
      { weight: 28, arbitrary: p ? fromSchema(p.schema, p.name, g) : fc.constant('x') },
      { weight: 1, arbitrary: hostileJson },
      { weight: 1, arbitrary: fc.constantFrom('1e308', '-0', 'NaN', '0x10', ' 5', '5.5', '', '[]', '{}') },
    )
  const own = fc
    .record(Object.fromEntries(parameters.map((p) => [p.name, value(p)])), { requiredKeys: [] })
    .map((o) => Object.entries(o))
  const strangers = fc.oneof(
    { weight: 6, arbitrary: fc.constant([]) },
    {
      weight: 1,
      arbitrary: fc.array(
        fc.tuple(
          pathParameters.length ? fc.oneof(hostileKey, fc.constantFrom(...pathParameters)) : hostileKey,
          value(),
        ),
        { minLength: 1, maxLength: 3 },
      ),
    },
  )
  const pairs = fc.tuple(own, strangers).map(([a, b]) => [...a, ...b])
  const text = (v: unknown) => (typeof v === 'string' ? v : (JSON.stringify(v) ?? ''))
  return fc.oneof(
    {
      weight: 8,
      arbitrary: pairs.map((list) =>
        list.length ? `?${list.map(([k, v]) => `${encode(k)}=${encode(text(v))}`).join('&')}` : '',
      ),
    },
    {
      weight: 1,
      arbitrary: fc.constantFrom(
        '?',
        '?&&',
        '?=',
        '?a',
        '?%',
        '?since=%ff',
        '?limit=%ED%A0%80',
        '?a[b]=1',
        '?__proto__=1',
        '?limit=1&limit=2',
      ),
    },
  )
}

/** Path parameters: ids made earlier in the run (of the kind the path names), and junk both encoded and raw. */
function pathFor(url: string): fc.Arbitrary<string> {
  const segments = url.split('/')
  const junk = fc.constantFrom('%', '%zz', '%ff', '%ED%A0%80', '%00', '..', '.', '', 'a/b', 'x'.repeat(2000))
  const param = (after: string) => {
    const pool = POOLS.find((p) => after.startsWith({ dec: 'decision', rev: 'review', tch: 'touch' }[p]))
    return fc.oneof(
      { weight: 12, arbitrary: pool ? poolRef(pool) : fc.constantFrom('acme', 'globex', 'initech') },
      { weight: 2, arbitrary: fc.oneof(...POOLS.map(poolRef), fc.constantFrom('acme', 'dec_x', 'rev_x')) },
      { weight: 3, arbitrary: hostileString.map(encode) },
      { weight: 1, arbitrary: junk },
    )
  }
  return fc
    .tuple(...segments.map((s, i) => (s.startsWith(':') ? param(segments[i - 1] ?? '') : fc.constant(s))))
    .map((parts) => parts.join('/'))
}

const contentType = fc.oneof(
  { weight: 24, arbitrary: fc.constant('application/json') },
  {
    weight: 3,
    arbitrary: fc.constantFrom(
      'application/json; charset=utf-8',
      'Application/JSON',
      'application/json; charset=latin1',
      'text/plain',
      'application/x-www-form-urlencoded',
      'multipart/form-data; boundary=x',
      'application/jsonx',
      '',
      undefined,
    ),
  },
  {
    weight: 1,
    arbitrary: fc.string({
      unit: fc.integer({ min: 0x20, max: 0x7e }).map((c) => String.fromCharCode(c)),
      maxLength: 30,
    }),
  },
)

/** Header values a real client could send: visible ASCII and latin1 (Node refuses the rest). */
const headerText = fc.string({
  unit: fc
    .oneof(fc.integer({ min: 0x20, max: 0x7e }), fc.integer({ min: 0xa0, max: 0xff }))
    .map((c) => String.fromCharCode(c)),
  maxLength: 60,
})

/** Keys: mostly of a role the route admits (else little gets past authorization), else any. */
const authFor = (admitted: readonly string[]) =>
  fc.oneof(
    ...(admitted.length ? [{ weight: 16, arbitrary: fc.constantFrom(...admitted) }] : []),
    { weight: 4, arbitrary: fc.constantFrom(...KEY_ROLES) },
    { weight: 1, arbitrary: fc.constant('none') },
    {
      weight: 1,
      arbitrary: fc.constantFrom('session:admin', 'session:salesReviewer', 'session-without-csrf:admin'),
    },
    {
      weight: 1,
      arbitrary: fc
        .oneof(
          fc.constantFrom(
            'Bearer',
            'Bearer ',
            'Basic abc',
            'bearer rk_x',
            `Bearer ${'k'.repeat(5000)}`,
            'Bearer rk_\u00ff',
          ),
          headerText.map((text) => `Bearer ${text}`),
          headerText,
        )
        .map((header) => `header:${header}`),
    },
  )

function bodyFor(schema: JsonSchema | undefined, g: GenContext): fc.Arbitrary<FuzzRequest['body']> {
  const json = (value: fc.Arbitrary<unknown>) => value.map((v) => spliceRaw(JSON.stringify(v) ?? 'null'))
  return fc.oneof(
    ...(schema ? [{ weight: 24, arbitrary: json(fromSchema(schema, undefined, g)) }] : []),
    { weight: 3, arbitrary: json(hostileJson) },
    {
      weight: 1,
      arbitrary: fc.oneof(
        hostileString,
        fc.constantFrom(
          '{',
          '{"a":',
          '[1,]',
          '{"a":1,"a":2}',
          '{"__proto__":{"x":1}}',
          '\u0000{}',
          '{}\u0000',
          '"\\ud800"',
          '{"a":"\\u0000"}',
        ),
      ),
    },
    {
      weight: 1,
      arbitrary: fc.uint8Array({ maxLength: 50 }).map((b) => ({ bytes: Buffer.from(b).toString('latin1') })),
    },
    { weight: 2, arbitrary: fc.constant(undefined) },
  )
}

/** The generator and sender for one harness: every served route, described where /openapi.json knows it. */
export async function fuzzTarget(h: Harness): Promise<FuzzTarget> {
  await h.server.app.ready()
  const routes = servedRoutes(h).filter((r) => r.method !== 'HEAD')
  const document = JSON.parse((await h.server.app.inject({ method: 'GET', url: '/openapi.json' })).body)
  const g = policyContext(h, document.components.schemas)
  const operation = (r: { method: string; url: string }) =>
    document.paths[r.url.replace(/:(\w+)/g, '{$1}')]?.[r.method.toLowerCase()] ?? {}
  // Which roles each route admits, asked of the server itself: a refused role is a 403 before any body is read.
  const admitted = await Promise.all(
    routes.map(async (r) => {
      const roles = []
      for (const role of KEY_ROLES) {
        const res = await h.server.app.inject({
          method: r.method as 'GET',
          url: r.url.replace(/:\w+/g, 'x'),
          headers: { authorization: `Bearer ${h.key[role]}` },
        })
        if (!(res.statusCode === 403 && /^an? \w+ key may not/.test(JSON.parse(res.body).error?.message)))
          roles.push(role)
      }
      return roles
    }),
  )
  const perRoute = routes.map((r, i) => {
    const op = operation(r)
    const query = (op.parameters ?? []).filter((p: { in: string }) => p.in === 'query')
    const schema = op.requestBody?.content?.['application/json']?.schema
    const method =
      r.method === 'GET'
        ? fc.oneof(
            { weight: 12, arbitrary: fc.constant('GET') },
            { weight: 1, arbitrary: fc.constantFrom('HEAD', 'POST', 'PUT', 'DELETE', 'OPTIONS') },
          )
        : fc.oneof(
            { weight: 12, arbitrary: fc.constant(r.method) },
            { weight: 1, arbitrary: fc.constantFrom('GET', 'PUT', 'PATCH', 'DELETE') },
          )
    return fc.record({
      method,
      route: fc.constant(`${r.method} ${r.url}`),
      path: pathFor(r.url),
      query: queryString(
        query,
        [...r.url.matchAll(/:(\w+)/g)].map((m) => m[1] as string),
        g,
      ),
      auth: authFor(admitted[i] as string[]),
      contentType,
      body: bodyFor(schema, g),
    })
  })
  const pools: Record<string, string[]> = { dec: [], rev: [], tch: [] }
  const sessions = new Map<string, { cookie: string; csrf: string }>()
  const sent = new Map<string, number>()

  const signIn = async (role: 'admin' | 'salesReviewer') => {
    const res = await h.server.app.inject({
      method: 'POST',
      url: '/v1/console/session',
      payload: { key: h.key[role] },
    })
    const cookie = String(res.headers['set-cookie'] ?? '').split(';')[0] as string
    sessions.set(role, { cookie, csrf: JSON.parse(res.body).csrf })
  }
  const resolve = (text: string) =>
    text.replace(/@(dec|rev|tch)(\d+)/g, (ref, pool: string, i: string) => {
      const ids = pools[pool] as string[]
      return ids.length ? (ids[Number(i) % ids.length] as string) : ref
    })
  const harvest = (text: string) => {
    for (const [, id, pool] of text.matchAll(/"((dec|rev|tch)_[0-9a-f]{20,40})"/g)) {
      const ids = pools[pool as string] as string[]
      if (!ids.includes(id as string)) ids.push(id as string)
      if (ids.length > 200) ids.shift()
    }
  }

  const send = async (r: FuzzRequest): Promise<FuzzAnswer> => {
    sent.set(r.route, (sent.get(r.route) ?? 0) + 1)
    const headers: Record<string, string> = {}
    if (r.auth.startsWith('header:')) headers.authorization = r.auth.slice('header:'.length)
    else if (r.auth.startsWith('session')) {
      const role = r.auth.split(':')[1] as 'admin' | 'salesReviewer'
      if (!sessions.has(role)) await signIn(role)
      const session = sessions.get(role) as { cookie: string; csrf: string }
      headers.cookie = session.cookie
      if (!r.auth.startsWith('session-without-csrf')) headers['x-csrf-token'] = session.csrf
    } else if (r.auth !== 'none')
      headers.authorization = `Bearer ${h.key[r.auth as (typeof KEY_ROLES)[number]]}`
    if (r.contentType !== undefined) headers['content-type'] = r.contentType
    const url = `${resolve(r.path)}${r.query}`
    const payload =
      r.body === undefined
        ? undefined
        : typeof r.body === 'string'
          ? resolve(r.body)
          : Buffer.from(r.body.bytes, 'latin1')
    const logged = h.logs.length
    let status = 0
    let body = ''
    try {
      const res = await Promise.race([
        h.server.app.inject({
          method: r.method as 'GET',
          url,
          headers,
          ...(payload === undefined ? {} : { payload }),
        }),
        new Promise<never>((_, reject) =>
          setTimeout(
            () => reject(new Error(`no answer within ${ANSWER_TIMEOUT_MS / 1000} s`)),
            ANSWER_TIMEOUT_MS,
          ).unref(),
        ),
      ])
      status = res.statusCode
      body = res.body
    } catch (error) {
      body = String((error as Error).stack ?? error)
    }
    if (status < 300) harvest(body)
    // A signed-out session is signed in again, so the console stays fuzzed with a live session too.
    if (r.route.endsWith('/logout') && r.auth.startsWith('session')) sessions.clear()
    const errors = h.logs
      .slice(logged)
      .map((line) => {
        try {
          return JSON.parse(line) as { level: number; msg: string; err?: { stack?: string } }
        } catch {
          return { level: 50, msg: line }
        }
      })
      .filter((entry) => entry.level >= 50 && entry.msg !== 'request')
      .map((entry) => `${entry.msg}: ${entry.err?.stack ?? ''}`)
    return { status, body, url, errors }
  }

  return { routes, request: fc.oneof(...perRoute), send, sent }
}

/** A failing request as a report: what was sent, what came back, what the server logged. */
export function describeFailure(r: FuzzRequest, answer: FuzzAnswer): string {
  const body =
    r.body === undefined
      ? '(none)'
      : typeof r.body === 'string'
        ? r.body
        : `bytes ${Buffer.from(r.body.bytes, 'latin1').toString('hex')}`
  return [
    `${r.method} ${answer.url}  (route ${r.route})  → ${answer.status || 'no answer'}`,
    `auth: ${r.auth}; content-type: ${r.contentType ?? '(none)'}`,
    `body: ${body.length > 2000 ? `${body.slice(0, 2000)}… (${body.length} chars)` : body}`,
    `answer: ${answer.body.slice(0, 1000)}`,
    ...answer.errors.map((e) => `log: ${e.split('\n').slice(0, 8).join('\n     ')}`),
  ].join('\n')
}

export async function openStore(
  name: 'sqlite' | 'postgres',
): Promise<{ store: Store; drop: () => Promise<void> }> {
  if (name === 'sqlite') return { store: openSqliteStore(':memory:'), drop: async () => {} }
  const url = process.env.REMIT_TEST_POSTGRES ?? 'postgres://postgres@127.0.0.1:5432/test'
  const schema = `remit_fz_${randomBytes(5).toString('hex')}`
  const { openPostgresStore } = await import('@remit/store-postgres')
  const { default: pg } = await import('pg')
  return {
    store: await openPostgresStore(url, { schema }),
    drop: async () => {
      const client = new pg.Client(url)
      await client.connect()
      await client.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`)
      await client.end()
    },
  }
}
