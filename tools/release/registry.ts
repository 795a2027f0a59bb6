import { createHash } from 'node:crypto'
import { createServer, type IncomingMessage, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'

// A throwaway npm registry on 127.0.0.1 for release dry runs: `npm publish`/`pnpm publish` put
// packages in it, `npm install`/`npx` get them back, as from registry.npmjs.org. It holds only what
// was published to it (in memory); an `.npmrc` points one scope (@remit) at it, so every other
// package still comes from the real registry. It keeps the registry's rules that a release can
// break: a version is published once (403 after), the tarball must match the integrity its manifest
// declares, publishing needs a token, and a name it does not hold is a 404.

interface Stored {
  packument: { name: string; 'dist-tags': Record<string, string>; versions: Record<string, Manifest> }
  tarballs: Map<string, Buffer>
}
interface Manifest {
  name: string
  version: string
  dist: { tarball: string; shasum?: string; integrity?: string }
  [key: string]: unknown
}

export interface LocalRegistry {
  url: string
  /** The token its `.npmrc` line carries: `//127.0.0.1:PORT/:_authToken=<token>`. */
  token: string
  /** Names and versions published so far. */
  published(): Record<string, string[]>
  close(): Promise<void>
}

const body = (req: IncomingMessage) =>
  new Promise<Buffer>((resolve, reject) => {
    const chunks: Buffer[] = []
    req.on('data', (c: Buffer) => chunks.push(c))
    req.on('end', () => resolve(Buffer.concat(chunks)))
    req.on('error', reject)
  })

export async function startRegistry(): Promise<LocalRegistry> {
  const store = new Map<string, Stored>()
  const token = createHash('sha256').update(String(Math.random())).digest('hex').slice(0, 32)
  let url = ''
  const server: Server = createServer(async (req, res) => {
    const send = (status: number, json: unknown) => {
      res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(json))
    }
    try {
      const path = decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname).slice(1)
      const tarball = /^(@[^/]+\/[^/]+|[^@/][^/]*)\/-\/([^/]+\.tgz)$/.exec(path)
      if (req.method === 'GET' && tarball) {
        const bytes = store.get(tarball[1] as string)?.tarballs.get(tarball[2] as string)
        if (!bytes) return send(404, { error: 'not found' })
        return res.writeHead(200, { 'content-type': 'application/octet-stream' }).end(bytes)
      }
      if (req.method === 'GET') {
        const stored = store.get(path)
        return stored ? send(200, stored.packument) : send(404, { error: 'not found' })
      }
      if (req.method === 'PUT' && /^(@[^/]+\/[^/]+|[^@/][^/]*)$/.test(path)) {
        if (req.headers.authorization !== `Bearer ${token}`)
          return send(401, { error: 'publishing needs the registry token (npm ERR! code E401)' })
        const doc = JSON.parse((await body(req)).toString('utf8')) as {
          name: string
          'dist-tags'?: Record<string, string>
          versions: Record<string, Manifest>
          _attachments?: Record<string, { data: string }>
        }
        if (doc.name !== path) return send(400, { error: `name ${doc.name} does not match the URL ${path}` })
        const stored = store.get(path) ?? {
          packument: { name: path, 'dist-tags': {}, versions: {} },
          tarballs: new Map<string, Buffer>(),
        }
        for (const [version, manifest] of Object.entries(doc.versions)) {
          if (stored.packument.versions[version])
            return send(403, {
              error: `You cannot publish over the previously published version ${version}.`,
            })
          const [file, attachment] = Object.entries(doc._attachments ?? {})[0] ?? []
          if (!file || !attachment) return send(400, { error: 'no tarball attached' })
          const bytes = Buffer.from(attachment.data, 'base64')
          const integrity = `sha512-${createHash('sha512').update(bytes).digest('base64')}`
          if (manifest.dist.integrity && manifest.dist.integrity !== integrity)
            return send(400, { error: `the tarball of ${path}@${version} does not match its integrity` })
          const name = file.split('/').at(-1) as string
          stored.tarballs.set(name, bytes)
          stored.packument.versions[version] = {
            ...manifest,
            dist: { ...manifest.dist, integrity, tarball: `${url}${path}/-/${name}` },
          }
        }
        Object.assign(stored.packument['dist-tags'], doc['dist-tags'] ?? {})
        store.set(path, stored)
        return send(201, { ok: true })
      }
      send(405, { error: `${req.method} is not supported here` })
    } catch (error) {
      send(400, { error: String(error) })
    }
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`
  return {
    url,
    token,
    published: () =>
      Object.fromEntries([...store].map(([name, s]) => [name, Object.keys(s.packument.versions)])),
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  }
}

/** The `.npmrc` lines that send `scope` to the registry (and only it) and authenticate to it. */
export function npmrcFor(registry: LocalRegistry, scope = '@remit'): string {
  const host = registry.url.replace(/^http:/, '')
  return `${scope}:registry=${registry.url}\n${host}:_authToken=${registry.token}\n`
}
