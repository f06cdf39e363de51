/**
 * Issue 7: /healthz, /readyz (bus state, draining), /metrics (prom-client, per-app registry, scrape-time reads),
 * the in-flight publish cap, and fastify.close() with streams held open by clients that never read.
 */
import { connect, type Socket } from 'node:net'
import { afterEach, describe, expect, it } from 'vitest'
import { MemoryBus } from '../src/bus/memory.js'
import { GatewayError } from '../src/errors.js'
import type { BusHealth, PublishAck, PublishInput } from '../src/bus/types.js'
import { PUBLISH_TOKEN, rawGet, recordingClient, startGateway, type TestGateway } from './helpers/gateway.js'
import { rawStream, until } from './helpers/child-gateway.js'

const open: Array<{ close: () => unknown }> = []
afterEach(async () => { for (const o of open.splice(0).reverse()) await o.close() })

async function gw (opts: Parameters<typeof startGateway>[0] = {}): Promise<TestGateway> {
  const g = await startGateway(opts)
  open.push(g)
  return g
}

/** A real MemoryBus whose readiness and publish latency a test can steer. */
class SteerableBus extends MemoryBus {
  ready = true
  publishDelayMs = 0
  inFlight = 0
  maxInFlight = 0
  override health (): BusHealth {
    const h = super.health()
    return this.ready ? h : { ready: false, state: 'reconnecting' }
  }

  override async publish (msg: PublishInput): Promise<PublishAck> {
    this.maxInFlight = Math.max(this.maxInFlight, ++this.inFlight)
    try {
      if (this.publishDelayMs > 0) await new Promise(resolve => setTimeout(resolve, this.publishDelayMs))
      return await super.publish(msg)
    } finally {
      this.inFlight--
    }
  }
}

async function metricValue (url: string, line: string): Promise<number> {
  const text = await (await fetch(`${url}/metrics`)).text()
  const found = text.split('\n').find(l => l.startsWith(line + ' '))
  if (found === undefined) throw new Error(`metric ${line} not found`)
  return Number(found.slice(line.length + 1))
}

/** Opens a raw stream and never reads from it (pause() stops reading; the kernel buffers fill up). */
async function stuckStream (url: string, path: string): Promise<Socket> {
  const u = new URL(url)
  const s = connect(Number(u.port), u.hostname)
  await new Promise<void>((resolve, reject) => { s.once('connect', resolve); s.once('error', reject) })
  s.on('error', () => {})
  s.write(`GET ${path} HTTP/1.1\r\nHost: ${u.host}\r\n\r\n`)
  s.pause()
  return s
}

describe('health probes', () => {
  it('/healthz is 200; /readyz is 200 while the bus is ready and 503 SSE_ERR_BUS_UNAVAILABLE when not', async () => {
    const bus = new SteerableBus({ history: { maxEvents: 100, maxBytes: 1 << 20 } })
    const g = await gw({ bus })
    expect((await fetch(`${g.url}/healthz`)).status).toBe(200)
    let res = await fetch(`${g.url}/readyz`)
    expect(res.status).toBe(200)
    expect(await res.json()).toMatchObject({ status: 'ready', bus: { kind: 'memory', state: 'connected', ready: true } })
    bus.ready = false
    res = await fetch(`${g.url}/readyz`)
    expect(res.status).toBe(503)
    expect(await res.json()).toMatchObject({ error: { code: 'SSE_ERR_BUS_UNAVAILABLE' }, bus: { state: 'reconnecting', ready: false } })
    expect((await fetch(`${g.url}/healthz`)).status).toBe(200)
    // A stream request meanwhile gets the retry-later answer, never a terminal status.
    const raw = await rawGet(g.url, '/events?topic=a.b')
    expect(raw).toMatch(/^HTTP\/1.1 200/)
    expect(raw).toContain('event: unavailable')
    expect(raw).toContain('SSE_ERR_BUS_UNAVAILABLE')
    bus.ready = true
    expect((await fetch(`${g.url}/readyz`)).status).toBe(200)
  })

  it('drain: /readyz turns 503 SSE_ERR_DRAINING at once, new streams get busy-retry, open ones get retry: and a clean end', async () => {
    const g = await gw({ retryMs: 1000 })
    const clients = Array.from({ length: 20 }, () => recordingClient(`${g.url}/events?topic=t.x`))
    for (const c of clients) open.push(c)
    await Promise.all(clients.map(async c => await c.until(() => c.opens.length === 1)))
    // A raw stream too, to see the bytes the drain writes.
    const raw = rawGet(g.url, '/events?topic=t.x', {}, 3000)
    await new Promise(resolve => setTimeout(resolve, 100))
    const drained = g.app.sseGateway.drain(1000)
    const ready = await fetch(`${g.url}/readyz`)
    expect(ready.status).toBe(503)
    expect(await ready.json()).toMatchObject({ error: { code: 'SSE_ERR_DRAINING' } })
    const late = await rawGet(g.url, '/events?topic=t.x')
    expect(late).toMatch(/^HTTP\/1.1 200/)
    expect(late).toContain('SSE_ERR_DRAINING')
    const started = Date.now()
    await drained
    // Batches spread over the window, not all at once, and not beyond it.
    expect(Date.now() - started).toBeGreaterThan(300)
    expect(Date.now() - started).toBeLessThan(2000)
    const text = await raw
    // The response head's retry:, then the drain's own jittered retry: (±50% of 1000), then the end of stream.
    const retries = [...text.matchAll(/^retry: (\d+)$/gm)].map(m => Number(m[1]))
    expect(retries.length).toBe(2)
    expect(retries[1]).toBeGreaterThanOrEqual(500)
    expect(retries[1]).toBeLessThanOrEqual(1500)
    expect(g.app.sseGateway.stats.closed.drain).toBe(21)
    expect(g.app.sseGateway.size).toBe(0)
    // The late raw request, plus any recording client whose jittered retry already came round during the window.
    expect(await metricValue(g.url, 'sse_streams_rejected_total{code="SSE_ERR_DRAINING"}')).toBeGreaterThanOrEqual(1)
  })
})

describe('metrics', () => {
  it('reports streams, events, bytes, replays, resets and auth counters from the core at scrape time', async () => {
    const g = await gw()
    const text = await (await fetch(`${g.url}/metrics`)).text()
    expect(text).toContain('# TYPE sse_streams_open gauge')
    expect(text).toContain('# TYPE sse_auth_dashboard_latency_seconds histogram')
    // Node's default metrics: event-loop lag, RSS, fds.
    expect(text).toMatch(/^nodejs_eventloop_lag_p99_seconds /m)
    expect(text).toMatch(/^process_resident_memory_bytes /m)

    const c = recordingClient(`${g.url}/events?topic=m.a`)
    open.push(c)
    await c.until(() => c.opens.length === 1)
    expect(await metricValue(g.url, 'sse_streams_open')).toBe(1)
    for (let i = 0; i < 3; i++) expect((await g.publish('m.a', { i })).status).toBe(200)
    expect((await g.publish('m.unwatched', 1)).status).toBe(200)
    await c.until(() => c.received.length === 3)
    expect(await metricValue(g.url, 'sse_bus_events_received_total')).toBe(4)
    expect(await metricValue(g.url, 'sse_events_delivered_total')).toBe(3)
    expect(await metricValue(g.url, 'sse_bus_events_unmatched_total')).toBe(1)
    expect(await metricValue(g.url, 'sse_publish_total')).toBe(4)
    expect(await metricValue(g.url, 'sse_bytes_written_total')).toBeGreaterThan(30)
    c.close()
    const raw = await rawGet(g.url, '/events?topic=m.a&lastEventId=nonsense')
    expect(raw).toContain('event: reset')
    await new Promise(resolve => setTimeout(resolve, 50))
    expect(await metricValue(g.url, 'sse_replays_total')).toBe(1)
    expect(await metricValue(g.url, 'sse_resets_total{reason="malformed"}')).toBe(1)
    expect(await metricValue(g.url, 'sse_streams_closed_total{reason="client"}')).toBe(2)
    expect(await metricValue(g.url, 'sse_streams_open')).toBe(0)

    // The seam the auth strategy calls.
    const auth = g.app.sseGateway.authMetrics
    auth.cacheHit(); auth.cacheHit(); auth.cacheMiss()
    auth.dashboardCall(3, 'ok'); auth.dashboardCall(700, 'denied'); auth.dashboardCall(5000, 'unavailable')
    expect(await metricValue(g.url, 'sse_auth_cache_hits_total')).toBe(2)
    expect(await metricValue(g.url, 'sse_auth_cache_misses_total')).toBe(1)
    expect(await metricValue(g.url, 'sse_auth_dashboard_calls_total{outcome="denied"}')).toBe(1)
    expect(await metricValue(g.url, 'sse_auth_dashboard_latency_seconds_bucket{le="0.005"}')).toBe(1)
    expect(await metricValue(g.url, 'sse_auth_dashboard_latency_seconds_bucket{le="1"}')).toBe(2)
    expect(await metricValue(g.url, 'sse_auth_dashboard_latency_seconds_bucket{le="+Inf"}')).toBe(3)
    expect(await metricValue(g.url, 'sse_auth_dashboard_latency_seconds_count')).toBe(3)
  })

  it('keeps one registry per app: two gateways in one process do not collide', async () => {
    const a = await gw()
    const b = await gw()
    const c = recordingClient(`${a.url}/events?topic=x.y`)
    open.push(c)
    await c.until(() => c.opens.length === 1)
    expect(await metricValue(a.url, 'sse_streams_open')).toBe(1)
    expect(await metricValue(b.url, 'sse_streams_open')).toBe(0)
  })
})

describe('maximum stream age (RELIABILITY #17)', () => {
  it('rotates streams with a jittered retry: and the EventSource resumes with Last-Event-ID: 0 lost, 0 duplicated', async () => {
    const g = await gw({ maxStreamAgeMs: 800, retryMs: 100 })
    const c = recordingClient(`${g.url}/events?topic=age.x`)
    open.push(c)
    await c.until(() => c.opens.length === 1)
    let n = 0
    const started = Date.now()
    while (Date.now() - started < 3500) {
      expect((await g.publish('age.x', { n })).status).toBe(200)
      n++
      await new Promise(resolve => setTimeout(resolve, 20))
    }
    await c.until(() => c.data().length >= n, 5000)
    expect(g.app.sseGateway.stats.closed.max_age).toBeGreaterThanOrEqual(2)
    expect(c.opens.length).toBeGreaterThanOrEqual(3)
    expect(c.data().map(d => (JSON.parse(d) as { n: number }).n)).toEqual(Array.from({ length: n }, (_, i) => i))
  })
})

describe('per-user cap', () => {
  it('a burst of 500 streams from one user: maxConnectionsPerUser open, the rest 200 + busy SSE_ERR_BUSY_USER; other users unaffected', async () => {
    const g = await gw({
      maxConnectionsPerUser: 20,
      authenticate: async req => ({ user: String(req.headers['x-user'] ?? 'nobody') })
    })
    const port = Number(new URL(g.url).port)
    // Hold every socket open until all are answered, so no slot is freed and reused mid-burst.
    const streams = Array.from({ length: 500 }, () => rawStream(port, '/events?topic=u.x', { headers: { 'x-user': 'alice' } }))
    open.push({ close: () => { for (const st of streams) st.socket.destroy() } })
    await until(() => streams.every(st => st.retries.length >= 1), 15_000, 'every answer')
    await until(() => streams.filter(st => st.ended !== undefined).length >= 480, 5000, 'the refusals to end')
    const busy = streams.filter(st => st.events.some(e => e.event === 'busy'))
    expect(busy).toHaveLength(480)
    for (const st of busy) {
      expect(st.head).toMatch(/^HTTP\/1.1 200/)
      expect(JSON.parse(st.events[0].data).code).toBe('SSE_ERR_BUSY_USER')
    }
    expect(streams.filter(st => st.ended === undefined)).toHaveLength(20)
    expect(await metricValue(g.url, 'sse_streams_rejected_total{code="SSE_ERR_BUSY_USER"}')).toBe(480)
    // Another user is not affected while alice is at her cap.
    const bob = await rawGet(g.url, '/events?topic=u.x', { 'x-user': 'bob' })
    expect(bob).toMatch(/^HTTP\/1.1 200/)
    expect(bob).not.toContain('event: busy')
  })
})

describe('publish flood', () => {
  it('beyond maxPublishInFlight answers 503 SSE_ERR_PUBLISH_BUSY with Retry-After; accepted events all arrive', async () => {
    const bus = new SteerableBus({ history: { maxEvents: 10_000, maxBytes: 16 << 20 } })
    bus.publishDelayMs = 500
    const g = await gw({ bus, maxPublishInFlight: 8 })
    const c = recordingClient(`${g.url}/events?topic=flood.x`)
    open.push(c)
    await c.until(() => c.opens.length === 1)
    const results = await Promise.all(Array.from({ length: 200 }, async (_, i) => {
      const res = await fetch(`${g.url}/events/publish`, {
        method: 'POST',
        headers: { authorization: `Bearer ${PUBLISH_TOKEN}`, 'content-type': 'application/json' },
        body: JSON.stringify({ subject: 'flood.x', data: { i } })
      })
      return { status: res.status, retryAfter: res.headers.get('retry-after'), body: await res.json() as any }
    }))
    const ok = results.filter(r => r.status === 200)
    const busy = results.filter(r => r.status === 503)
    expect(ok.length + busy.length).toBe(200)
    expect(ok.length).toBeGreaterThanOrEqual(8)
    expect(busy.length).toBeGreaterThan(0)
    // The bound itself: the bus never had more than the cap in flight.
    expect(bus.maxInFlight).toBe(8)
    for (const r of busy) {
      expect(r.body.error.code).toBe('SSE_ERR_PUBLISH_BUSY')
      expect(r.retryAfter).toBe('1')
    }
    expect(g.app.sseGateway.publishing).toBe(0)
    await c.until(() => c.received.length === ok.length)
    expect(await metricValue(g.url, 'sse_publish_errors_total{code="SSE_ERR_PUBLISH_BUSY"}')).toBe(busy.length)
  })
})

describe('publish errors', () => {
  it('passes a bus error with its own code through (400 SSE_ERR_PUBLISH_SUBJECT); anything else is 503 SSE_ERR_PUBLISH_FAILED', async () => {
    class PickyBus extends MemoryBus {
      override async publish (msg: PublishInput): Promise<PublishAck> {
        if (msg.subject === 'not.mine') throw new GatewayError('SSE_ERR_PUBLISH_SUBJECT', [msg.subject, 'stored by another stream'])
        if (msg.subject === 'broken.x') throw new Error('socket hang up')
        return await super.publish(msg)
      }
    }
    const g = await gw({ bus: new PickyBus({ history: { maxEvents: 10, maxBytes: 1 << 20 } }) })
    const mine = await g.publish('not.mine', 1)
    expect(mine.status).toBe(400)
    expect(mine.body.error.code).toBe('SSE_ERR_PUBLISH_SUBJECT')
    const broken = await g.publish('broken.x', 1)
    expect(broken.status).toBe(503)
    expect(broken.body.error.code).toBe('SSE_ERR_PUBLISH_FAILED')
    expect(await metricValue(g.url, 'sse_publish_errors_total{code="SSE_ERR_PUBLISH_SUBJECT"}')).toBe(1)
    expect(await metricValue(g.url, 'sse_publish_errors_total{code="SSE_ERR_PUBLISH_FAILED"}')).toBe(1)
  })
})

describe('fastify.close() with streams held open', () => {
  it('never hangs on clients that stopped reading: ended sockets are destroyed after closeGraceMs', async () => {
    const bus = new SteerableBus({ history: { maxEvents: 100, maxBytes: 1 << 20 } })
    const g = await startGateway({ bus, closeGraceMs: 500, maxQueueBytes: 8 << 20 })
    const stuck = await Promise.all(Array.from({ length: 10 }, async () => await stuckStream(g.url, '/events?topic=big.x')))
    const reading = recordingClient(`${g.url}/events?topic=big.x`)
    open.push(reading)
    await reading.until(() => reading.opens.length === 1)
    while (g.app.sseGateway.size < 11) await new Promise(resolve => setTimeout(resolve, 10))
    // Fill the stuck clients' kernel buffers so an orderly end can never complete.
    const blob = 'x'.repeat(60_000)
    for (let i = 0; i < 60; i++) await bus.publish({ subject: 'big.x', data: blob })
    const started = Date.now()
    await g.close()
    const took = Date.now() - started
    expect(took).toBeLessThan(3000)
    expect(g.app.sseGateway.stats.forcedCloses).toBeGreaterThan(0)
    for (const s of stuck) {
      if (!s.destroyed) { s.resume(); await new Promise(resolve => s.once('close', resolve)) }
      expect(s.destroyed).toBe(true)
    }
  })

  it('a rotated (max age) stream whose client stopped reading is destroyed after closeGraceMs, not kept forever', async () => {
    const bus = new SteerableBus({ history: { maxEvents: 100, maxBytes: 1 << 20 } })
    const g = await gw({ bus, maxStreamAgeMs: 1000, closeGraceMs: 500, maxQueueBytes: 8 << 20 })
    const stuck = await stuckStream(g.url, '/events?topic=rot.x')
    while (g.app.sseGateway.size < 1) await new Promise(resolve => setTimeout(resolve, 10))
    const blob = 'x'.repeat(60_000)
    for (let i = 0; i < 60; i++) await bus.publish({ subject: 'rot.x', data: blob })
    await until(() => g.app.sseGateway.stats.closed.max_age === 1, 3000, 'the rotation')
    expect(g.app.sseGateway.ending).toBe(1)
    expect(await metricValue(g.url, 'sse_streams_ending')).toBe(1)
    await until(() => g.app.sseGateway.stats.forcedCloses === 1, 3000, 'the forced close')
    expect(g.app.sseGateway.ending).toBe(0)
    stuck.resume()
    await until(() => stuck.destroyed, 5000, 'the client to see the close')
  })
})
