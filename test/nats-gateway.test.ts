/**
 * The scale-out set-up end to end: real nats-server, real gateway processes (the standalone binary), and the
 * `eventsource` npm client behind a tiny "load balancer" (its fetch picks the live instance).
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { request } from 'node:http'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { EventSource } from 'eventsource'
import { connect, type NatsConnection } from 'nats'
import { NatsServer, natsAvailable } from './helpers/nats-server.js'
import { startGateway } from './helpers/gateway.js'
import { waitUntil } from './helpers/wait.js'
import { parseEventId } from '../src/bus/types.js'

const enabled = natsAvailable()
const ROOT = fileURLToPath(new URL('..', import.meta.url))
const TOKEN = 'nats-gateway-test-token-0123456789'

interface GatewayProc { child: ChildProcess, url: string, out: () => string }
const procs: ChildProcess[] = []
process.once('exit', () => { for (const c of procs) c.kill('SIGKILL') })

async function spawnGateway (env: Record<string, string>): Promise<GatewayProc> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'bin/sse-gateway.ts'], {
    cwd: ROOT,
    env: { PATH: process.env.PATH, SSE_PORT: '0', SSE_LOG_LEVEL: 'warn', SSE_RETRY_MS: '100', SSE_PUBLISH_TOKEN: TOKEN, ...env },
    stdio: ['ignore', 'pipe', 'pipe']
  })
  procs.push(child)
  let out = ''
  child.stdout!.on('data', d => { out += d })
  child.stderr!.on('data', d => { out += d })
  await waitUntil(() => /listening on (http:\/\/\S+)/.test(out) || child.exitCode !== null, 20_000, 'gateway start-up')
  const m = /listening on (http:\/\/\S+)/.exec(out)
  if (m === null) throw new Error(`gateway did not start: ${out}`)
  return { child, url: m[1], out: () => out }
}

async function killProc (p: GatewayProc): Promise<void> {
  if (p.child.exitCode !== null || p.child.signalCode !== null) return
  const gone = new Promise(resolve => p.child.once('exit', resolve))
  p.child.kill('SIGKILL')
  await gone
}

interface Got { id: string, type: string, data: string }

/** EventSource whose requests go wherever `target()` says (a load balancer in front of the instances). */
function balancedClient (path: string, target: () => string, headers: Record<string, string> = {}) {
  const got: Got[] = []
  const sentLastIds: Array<string | null> = []
  const es = new EventSource(`http://balancer${path}`, {
    fetch: async (input, init) => {
      const u = new URL(String(input))
      const h = { ...(init?.headers as Record<string, string>), ...headers }
      sentLastIds.push(h['last-event-id'] ?? h['Last-Event-ID'] ?? null)
      return await fetch(`${target()}${u.pathname}${u.search}`, { ...init, headers: h })
    }
  })
  const rec = (e: MessageEvent): void => { got.push({ id: e.lastEventId, type: e.type, data: e.data }) }
  es.onmessage = rec
  es.addEventListener('reset', rec)
  return { es, got, sentLastIds, data: () => got.filter(g => g.type === 'message').map(g => g.data) }
}

describe.skipIf(!enabled)('gateway instances on NATS JetStream', () => {
  let nats: NatsServer
  let nc: NatsConnection
  const gateways: GatewayProc[] = []
  beforeAll(async () => {
    nats = await NatsServer.start()
    nc = await connect({ servers: nats.url, maxReconnectAttempts: -1, reconnectTimeWait: 100 })
  })
  afterAll(async () => {
    for (const g of gateways) await killProc(g)
    await nc?.close()
    await nats?.dispose()
  })

  const jsEnv = (): Record<string, string> => ({
    SSE_NATS_URL: nats.url,
    SSE_JETSTREAM_STREAM: 'DASH',
    SSE_JETSTREAM_SUBJECTS: 'dash.>',
    SSE_JETSTREAM_CREATE: 'true',
    SSE_JETSTREAM_HEARTBEAT_MS: '1000',
    SSE_NATS_RECONNECT_WAIT_MS: '100',
    SSE_NATS_RECONNECT_JITTER_MS: '100'
  })

  async function publishAll (from: number, to: number, pace = 0): Promise<void> {
    const js = nc.jetstream({ timeout: 2000 })
    for (let i = from; i < to; i++) {
      for (let attempt = 0; ; attempt++) {
        try { await js.publish('dash.orders', new TextEncoder().encode(JSON.stringify({ n: i })), { msgID: `o-${i}` }); break } catch (err) {
          if (attempt > 100) throw err
          await new Promise(resolve => setTimeout(resolve, 100))
        }
      }
      if (pace > 0) await new Promise(resolve => setTimeout(resolve, pace))
    }
  }

  it('exits with one line naming the stream when it is missing and creation is off', async () => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'bin/sse-gateway.ts'], {
      cwd: ROOT, env: { PATH: process.env.PATH, SSE_PORT: '0', SSE_LOG_LEVEL: 'silent', SSE_NATS_URL: nats.url, SSE_JETSTREAM_STREAM: 'ABSENT' }, stdio: ['ignore', 'pipe', 'pipe']
    })
    procs.push(child)
    let err = ''
    child.stderr!.on('data', d => { err += d })
    const code = await new Promise(resolve => child.once('exit', resolve))
    expect(code).toBe(2)
    expect(err.trim().split('\n')).toHaveLength(1)
    expect(err).toContain('"ABSENT"')
  })

  it('a client reads from A, A is killed, it resumes on B with its Last-Event-ID: exactly the published sequence', async () => {
    const a = await spawnGateway(jsEnv())
    const b = await spawnGateway(jsEnv())
    gateways.push(a, b)
    expect(a.out()).toContain('bus: jetstream')
    let upstream = a.url
    const c = balancedClient('/events?topic=dash.orders', () => upstream)
    try {
      await waitUntil(() => c.es.readyState === EventSource.OPEN, 10_000, 'stream open')
      const total = 300
      const publishing = publishAll(0, total, 2)
      await waitUntil(() => c.data().length >= 80, 10_000, '80 events through A')
      upstream = b.url // the balancer sends new connections to B from now on
      await killProc(a)
      await publishing
      await waitUntil(() => c.data().length >= total, 20_000, `${total} events`)
      await new Promise(resolve => setTimeout(resolve, 200))
      expect(c.data().map(d => JSON.parse(d).n)).toEqual(Array.from({ length: total }, (_, i) => i))
      const seqs = c.got.filter(g => g.type === 'message').map(g => parseEventId(g.id)?.seq)
      expect(seqs).toEqual(Array.from({ length: total }, (_, i) => i + 1))
      // It really reconnected with a cursor, and no reset was needed.
      expect(c.sentLastIds.filter(x => x !== null).length).toBeGreaterThanOrEqual(1)
      expect(c.got.filter(g => g.type === 'reset')).toEqual([])
      const midId = c.got[149].id
      c.es.close()

      // Purged stream: a cursor whose successors were purged gets `reset` (truncated), then live events again.
      await nc.jetstreamManager().then(async m => await m.streams.purge('DASH'))
      await publishAll(total, total + 1)
      const r = balancedClient('/events?topic=dash.orders', () => b.url, { 'last-event-id': midId })
      try {
        await waitUntil(() => r.got.some(g => g.type === 'reset'), 10_000, 'reset after purge')
        const reset = JSON.parse(r.got.find(g => g.type === 'reset')!.data)
        expect(reset.reason).toBe('truncated')
        expect(parseEventId(reset.cursor)).toBeDefined()
        await publishAll(total + 1, total + 2)
        await waitUntil(() => r.data().length >= 1, 10_000, 'live after reset')
        expect(r.data().map(d => JSON.parse(d).n)).toEqual([total + 1])
      } finally {
        r.es.close()
      }
    } finally {
      c.es.close()
    }
  }, 60_000)

  it('POST /events/publish goes into JetStream: the id is the stream sequence, Nats-Msg-Id de-duplicates, other instances relay it', async () => {
    const a = await spawnGateway(jsEnv())
    const b = await spawnGateway(jsEnv())
    gateways.push(a, b)
    const c = balancedClient('/events?topic=dash.http', () => a.url)
    c.es.addEventListener('note', e => { c.got.push({ id: (e as MessageEvent).lastEventId, type: 'note', data: (e as MessageEvent).data }) })
    try {
      await waitUntil(() => c.es.readyState === EventSource.OPEN, 10_000, 'stream open')
      const post = async (body: unknown): Promise<{ status: number, body: any }> => {
        const res = await fetch(`${b.url}/events/publish`, {
          method: 'POST',
          headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' },
          body: JSON.stringify(body)
        })
        return { status: res.status, body: await res.json() }
      }
      const first = await post({ subject: 'dash.http', data: { hello: 1 }, event: 'note', msgId: 'http-1' })
      expect(first.status).toBe(200)
      const again = await post({ subject: 'dash.http', data: { hello: 1 }, event: 'note', msgId: 'http-1' })
      expect(again.body).toEqual({ id: first.body.id, duplicate: true })
      const info = await (await nc.jetstreamManager()).streams.info('DASH')
      expect(parseEventId(first.body.id)?.seq).toBe(info.state.last_seq)
      await waitUntil(() => c.got.length >= 1, 10_000, 'the event on the other instance')
      await new Promise(resolve => setTimeout(resolve, 200))
      expect(c.got).toEqual([{ id: first.body.id, type: 'note', data: JSON.stringify({ hello: 1 }) }])
      const outside = await post({ subject: 'elsewhere.x', data: 'x' })
      expect(outside.status).toBe(503)
      expect(outside.body.error.code).toBe('SSE_ERR_PUBLISH_FAILED')
    } finally {
      c.es.close()
    }
  }, 60_000)

  it('keeps the stream open across a nats-server kill -9 and restart, 0 lost, 0 duplicated', async () => {
    const g = await spawnGateway(jsEnv())
    gateways.push(g)
    const start = (await (await fetch(`${g.url}/events/cursor`)).json() as { cursor: string }).cursor
    const base = parseEventId(start)!.seq
    const c = balancedClient('/events?topic=dash.orders', () => g.url)
    let opens = 0
    c.es.addEventListener('open', () => { opens++ })
    try {
      await waitUntil(() => c.es.readyState === EventSource.OPEN, 10_000, 'stream open')
      await publishAll(1000, 1050)
      await waitUntil(() => c.data().length >= 50)
      await nats.kill('SIGKILL')
      await nats.restart()
      await publishAll(1050, 1100)
      await waitUntil(() => c.data().length >= 100, 20_000, '100 events')
      await new Promise(resolve => setTimeout(resolve, 200))
      expect(c.data().map(d => JSON.parse(d).n)).toEqual(Array.from({ length: 100 }, (_, i) => 1000 + i))
      expect(c.got.map(x => parseEventId(x.id)?.seq)).toEqual(Array.from({ length: 100 }, (_, i) => base + i + 1))
      expect(opens).toBe(1) // the SSE connection itself never dropped
    } finally {
      c.es.close()
    }
  }, 60_000)
})

describe.skipIf(!enabled)('gateway on core NATS', () => {
  it('1,000 connections on one topic hold one NATS subscription', async () => {
    const nats = await NatsServer.start({ jetstream: false })
    const gw = await startGateway({ nats: { servers: [nats.url], name: 'fanout-gw' }, maxConnections: 5000, maxConnectionsPerUser: 5000 })
    const sockets: Array<{ destroy: () => void }> = []
    try {
      const u = new URL(gw.url)
      const open = async (): Promise<void> => await new Promise((resolve, reject) => {
        const req = request({ host: u.hostname, port: u.port, path: '/events?topic=fleet.status', agent: false })
        req.on('response', res => { sockets.push(res.socket); res.once('data', () => resolve()); res.on('error', () => {}) })
        req.on('error', reject)
        req.end()
      })
      for (let i = 0; i < 1000; i += 100) await Promise.all(Array.from({ length: 100 }, open))
      const subs = async (): Promise<number> => {
        const c = await nats.monitor<{ connections: Array<{ name?: string, subscriptions: number, subscriptions_list?: string[] }> }>('/connz?subs=1')
        return c.connections.find(x => x.name === 'fanout-gw')?.subscriptions ?? -1
      }
      await waitUntil(async () => await subs() === 1, 5000, 'one subscription')
      const conn = (await nats.monitor<{ connections: Array<{ name?: string, subscriptions_list?: string[] }> }>('/connz?subs=1')).connections.find(x => x.name === 'fanout-gw')
      expect(conn?.subscriptions_list).toEqual(['fleet.status'])
      expect(gw.app.sseGateway.size).toBe(1000)
      for (const s of sockets.splice(0)) s.destroy()
      await waitUntil(async () => await subs() === 0, 10_000, 'subscription released')
    } finally {
      for (const s of sockets) s.destroy()
      await gw.close()
      await nats.dispose()
    }
  }, 60_000)
})
