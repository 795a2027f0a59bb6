// An open-loop load generator: requests leave on a fixed clock (request i at start + i/rate),
// whether or not earlier ones have been answered, and each latency is measured from the time the
// request was *scheduled*, not the time it was sent, so a slow server cannot hide its queue
// (coordinated omission).
//
// Why not autocannon's overallRate: autocannon (9.x, lib/httpClient.js) gives each connection
// rate/connections requests per one-second window and sends them back to back, each after the
// previous response; when the window's quota is spent the connection pauses until the next second.
// So it is a closed loop with a per-second cap: bursts at the start of every second, and when the
// server is slow a connection simply sends less (no request waits for a busy connection, so none
// is late). Its correction (recordValueWithExpectedInterval with Math.ceil(1 / rate), a rate in
// requests per second, so an "interval" of 1 ms) does not restore the missing samples either.
//
// Here: keep-alive HTTP/1.1 connections on raw sockets (node:http's client costs several times
// more CPU a request, and on two cores that made the generator, not the server, the bottleneck),
// `connections` of them opened before the clock starts, one request at a time on each, used in
// turn. A request scheduled while every connection is busy waits in a queue, and that wait counts in
// its latency. The clock ticks every millisecond and sends everything due (≈5 requests a tick at
// 5,000/s); the lag between schedule and send is reported, so a generator that cannot keep up is
// seen, not hidden.
import { connect, type Socket } from 'node:net'
import { percentile } from '../../../packages/core/bench/table.ts'

export interface OpenLoopOptions {
  url: string | string[]
  path: string
  headers: Record<string, string>
  /** The body of request i (called when it is sent). */
  body: (i: number) => string
  rate: number
  seconds: number
  connections?: number
  /** How long to wait after the last send for answers still out (default 10 s). */
  drainSeconds?: number
  onResponse?: (status: number, body: string, i: number) => void
}

export interface OpenLoopResult {
  offered: number
  scheduled: number
  ok: number
  non2xx: number
  errors: number
  unanswered: number
  /** Answers per second over the scheduled window (the last answer's time, if later). */
  achieved: number
  /** Latency from the scheduled time, ms, over 2xx answers. */
  p50: number
  p99: number
  max: number
  /** How late the generator itself sent: p99 and max of (sent − scheduled), ms. */
  sendLagP99: number
  sendLagMax: number
}

interface Pending {
  i: number
  scheduled: number
  head: string
  body: string
}

// One target's connections: an idle queue (first in, first out, so every connection stays in use and
// none sits idle long enough for the server's keep-alive timeout) and a queue of requests waiting.
class Pool {
  private readonly idle: Conn[] = []
  private readonly waiting: Pending[] = []
  private waitingHead = 0
  readonly all: Conn[] = []
  closing = false
  readonly host: string
  readonly port: number
  readonly answer: (p: Pending, status: number, body: string) => void
  readonly fail: (p: Pending) => void
  constructor(
    host: string,
    port: number,
    answer: (p: Pending, status: number, body: string) => void,
    fail: (p: Pending) => void,
  ) {
    this.host = host
    this.port = port
    this.answer = answer
    this.fail = fail
  }
  async open(n: number) {
    await Promise.all(Array.from({ length: n }, () => this.add()))
  }
  private add(): Promise<void> {
    const c = new Conn(this)
    this.all.push(c)
    return c.ready.then(() => this.release(c))
  }
  send(p: Pending) {
    const c = this.idle.shift()
    if (c) c.send(p)
    else this.waiting.push(p)
  }
  release(c: Conn) {
    if (this.waitingHead < this.waiting.length) {
      const p = this.waiting[this.waitingHead++] as Pending
      if (this.waitingHead > 4096 && this.waitingHead * 2 > this.waiting.length) {
        this.waiting.splice(0, this.waitingHead)
        this.waitingHead = 0
      }
      c.send(p)
    } else this.idle.push(c)
  }
  lost(c: Conn) {
    const at = this.idle.indexOf(c)
    if (at >= 0) this.idle.splice(at, 1)
    this.all.splice(this.all.indexOf(c), 1)
    if (!this.closing) void this.add()
  }
  close() {
    this.closing = true
    for (const c of this.all) c.socket.destroy()
  }
}

class Conn {
  readonly socket: Socket
  readonly ready: Promise<void>
  private current: Pending | null = null
  private chunks: Buffer[] = []
  private length = 0
  private readonly pool: Pool
  constructor(pool: Pool) {
    this.pool = pool
    this.socket = connect({ host: pool.host, port: pool.port, noDelay: true })
    this.ready = new Promise((resolve, reject) => {
      this.socket.once('connect', () => resolve())
      this.socket.once('error', reject)
    })
    this.socket.on('data', (chunk: Buffer) => this.data(chunk))
    this.socket.on('error', () => {})
    this.socket.on('close', () => {
      const p = this.current
      this.current = null
      if (p) this.pool.fail(p)
      this.pool.lost(this)
    })
  }
  send(p: Pending) {
    this.current = p
    this.socket.write(p.head + p.body)
  }
  private data(chunk: Buffer) {
    this.chunks.push(chunk)
    this.length += chunk.length
    const all = this.chunks.length === 1 ? chunk : Buffer.concat(this.chunks, this.length)
    const end = all.indexOf('\r\n\r\n')
    if (end < 0) return
    const head = all.toString('latin1', 0, end)
    const cl = /\r\ncontent-length:\s*(\d+)/i.exec(head)
    let bodyEnd: number
    if (cl) {
      bodyEnd = end + 4 + Number(cl[1])
      if (all.length < bodyEnd) return this.keep(all)
    } else if (/\r\ntransfer-encoding:\s*chunked/i.test(head)) {
      const last = all.indexOf('\r\n0\r\n\r\n', end)
      if (last < 0) return this.keep(all)
      bodyEnd = last + 7
    } else bodyEnd = all.length
    const status = Number(head.slice(9, 12))
    const body = all.toString('utf8', end + 4, bodyEnd)
    this.chunks = []
    this.length = 0
    const p = this.current as Pending
    this.current = null
    this.pool.answer(p, status, body)
    this.pool.release(this)
  }
  private keep(all: Buffer) {
    this.chunks = [all]
  }
}

export async function openLoop(o: OpenLoopOptions): Promise<OpenLoopResult> {
  const targets = (Array.isArray(o.url) ? o.url : [o.url]).map((u) => new URL(u))
  const perTarget = Math.ceil((o.connections ?? 128) / targets.length)
  const n = Math.round(o.rate * o.seconds)
  const interval = 1000 / o.rate
  const latency = new Float64Array(n).fill(Number.NaN)
  const lag = new Float64Array(n)
  let ok = 0
  let non2xx = 0
  let errors = 0
  let settled = 0
  let lastAnswer = 0
  let allSettled: () => void = () => {}
  const done = new Promise<void>((resolve) => {
    allSettled = resolve
  })
  const settle = () => {
    if (++settled === n) allSettled()
  }
  const answer = (p: Pending, status: number, body: string) => {
    const now = performance.now()
    lastAnswer = now
    if (status >= 200 && status < 300) {
      ok++
      latency[p.i] = now - p.scheduled
    } else non2xx++
    o.onResponse?.(status, body, p.i)
    settle()
  }
  const fail = () => {
    errors++
    settle()
  }
  const pools = targets.map((t) => new Pool(t.hostname, Number(t.port || 80), answer, fail))
  await Promise.all(pools.map((p) => p.open(perTarget)))
  const fixed = Object.entries(o.headers)
    .map(([k, v]) => `${k}: ${v}\r\n`)
    .join('')
  const heads = targets.map((t) => `POST ${o.path} HTTP/1.1\r\nhost: ${t.host}\r\n${fixed}content-length: `)

  const start = performance.now() + 20
  let sent = 0
  await new Promise<void>((resolve) => {
    const tick = () => {
      const now = performance.now()
      while (sent < n && start + sent * interval <= now) {
        const i = sent++
        const scheduled = start + i * interval
        const body = o.body(i)
        const t = i % targets.length
        lag[i] = performance.now() - scheduled
        ;(pools[t] as Pool).send({
          i,
          scheduled,
          head: `${heads[t]}${Buffer.byteLength(body)}\r\n\r\n`,
          body,
        })
      }
      if (sent < n) setTimeout(tick, 1)
      else resolve()
    }
    setTimeout(tick, 20)
  })
  const drain = setTimeout(allSettled, (o.drainSeconds ?? 10) * 1000)
  await done
  clearTimeout(drain)
  for (const p of pools) p.close()

  const answered = latency.filter((x) => !Number.isNaN(x))
  const window = Math.max(n * interval, lastAnswer - start) / 1000
  return {
    offered: o.rate,
    scheduled: n,
    ok,
    non2xx,
    errors,
    unanswered: n - settled,
    achieved: ok / window,
    p50: answered.length ? percentile(answered, 0.5) : Number.NaN,
    p99: answered.length ? percentile(answered, 0.99) : Number.NaN,
    max: answered.length ? answered.reduce((a, b) => Math.max(a, b)) : Number.NaN,
    sendLagP99: percentile(lag, 0.99),
    sendLagMax: lag.reduce((a, b) => Math.max(a, b), 0),
  }
}
