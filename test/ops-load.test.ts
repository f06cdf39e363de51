/**
 * Issue 7 fault and abuse suite against the real standalone server (child process; RSS from /proc):
 * slow consumers (RELIABILITY #38), SIGTERM with 1,000 streams (#34), slowloris (#40), oversized heads (#13),
 * a connection burst against the instance cap (#39), and a log sweep for secrets (#43).
 * Every loop has a count cap and a wall-clock cap; loopback only.
 */
import { connect } from 'node:net'
import { afterEach, describe, expect, it } from 'vitest'
import { percentile, rawStream, startChildGateway, until, type ChildGateway, type RawStream } from './helpers/child-gateway.js'

const children: ChildGateway[] = []
const sockets: RawStream[] = []
afterEach(() => {
  for (const s of sockets.splice(0)) s.socket.destroy()
  for (const c of children.splice(0)) c.kill()
})

async function child (env: Record<string, string>): Promise<ChildGateway> {
  const c = await startChildGateway(env)
  children.push(c)
  return c
}

function open (c: ChildGateway, path: string, opts: Parameters<typeof rawStream>[2] = {}): RawStream {
  const s = rawStream(c.port, path, opts)
  sockets.push(s)
  return s
}

describe('slow consumers (1,000 non-reading clients)', () => {
  it('RSS stays under base + 1,000 × maxQueueBytes, every slow one is closed, the fast client gets everything promptly', async () => {
    const CAP = 256 * 1024
    const N = 1000
    const c = await child({ SSE_MAX_QUEUE_BYTES: String(CAP), SSE_MAX_PUBLISH_IN_FLIGHT: '1000', SSE_HEARTBEAT_MS: '60000' })
    const latencies: number[] = []
    const fast = open(c, '/events?topic=load.x', {
      onEvent: e => { latencies.push(Date.now() - (JSON.parse(e.data) as { t: number }).t) }
    })
    const slow = Array.from({ length: N }, () => open(c, '/events?topic=load.x', { paused: true }))
    await until(async () => await c.metric('sse_streams_open') === N + 1, 30_000, 'all streams open')
    const pad = 'x'.repeat(8000)
    // Warm up (the kernel buffers take these, nothing queues in the gateway), then take the base: the process
    // with every connection open and traffic flowing, before any slow-consumer backlog.
    for (let i = 0; i < 10; i++) expect(await c.publish('load.x', { t: Date.now(), pad })).toBe(200)
    await until(() => fast.events.length === 10, 10_000, 'warm-up events')
    latencies.length = 0
    const base = c.rssBytes()
    let peak = base
    const sampler = setInterval(() => { try { peak = Math.max(peak, c.rssBytes()) } catch {} }, 50)
    let sent = 10
    const started = Date.now()
    try {
      // Loopback kernel buffers absorb ~1.5 MB per socket before the gateway's own queue grows, so offer ~4 MB each.
      while (sent < 500 && Date.now() - started < 90_000) {
        const statuses = await Promise.all(Array.from({ length: 10 }, async () => await c.publish('load.x', { t: Date.now(), pad })))
        expect(statuses.every(s => s === 200)).toBe(true)
        sent += 10
        // Paced, as a bus would deliver: the fast client's latency then measures interference, not a self-made queue.
        await new Promise(resolve => setTimeout(resolve, 20))
        if (sent % 50 === 0 && await c.metric('sse_slow_consumer_disconnects_total') >= N) break
      }
      await until(async () => await c.metric('sse_slow_consumer_disconnects_total') >= N, 30_000, 'every slow consumer closed')
      await until(() => fast.events.length === sent, 10_000, 'the fast client to receive every event')
    } finally {
      clearInterval(sampler)
    }
    const took = Date.now() - started
    const p99 = percentile(latencies, 99)
    console.log(`[slow consumers] ${N} paused clients, cap ${CAP} B: ${sent} events × 8 KB in ${took} ms; RSS base ${(base / 2 ** 20).toFixed(1)} MiB, ` +
      `peak ${(peak / 2 ** 20).toFixed(1)} MiB (bound ${((base + N * CAP) / 2 ** 20).toFixed(1)} MiB); fast client p50 ${percentile(latencies, 50)} ms, p99 ${p99} ms`)
    expect(peak).toBeLessThan(base + N * CAP)
    // An unbounded queue would have had to hold far more than the bound: the test could fail.
    expect(sent * 8000 * N).toBeGreaterThan(4 * N * CAP)
    expect(fast.ended).toBeUndefined()
    const ids = fast.events.map(e => Number(e.id!.split('.').pop()))
    expect(ids).toEqual(Array.from({ length: sent }, (_, i) => ids[0] + i))
    // Loose on purpose: the suite shares 2 cores with the load generator and other suites (see the printed numbers).
    // Measured alone: p50 ~40 ms, p99 ~300 ms; with the whole suite on 2 cores p99 reaches ~1.3 s.
    expect(percentile(latencies, 50)).toBeLessThan(500)
    expect(p99).toBeLessThan(3000)
    expect(await c.metric('sse_streams_open')).toBe(1)
    expect(slow).toHaveLength(N)
  })
})

describe('SIGTERM with 1,000 open streams', () => {
  it('fails readiness at once, closes every stream with retry: and a clean end, spread over SSE_DRAIN_MS, loses nothing meanwhile, exits 0 in time', async () => {
    const N = 1000
    const DRAIN = 2000
    const c = await child({ SSE_DRAIN_MS: String(DRAIN), SSE_SHUTDOWN_TIMEOUT_MS: '8000', SSE_RETRY_MS: '2000', SSE_LOG_LEVEL: 'info' })
    const streams = Array.from({ length: N }, () => open(c, '/events?topic=drain.x'))
    await until(async () => await c.metric('sse_streams_open') === N, 30_000, 'all streams open')
    await until(() => streams.every(s => s.retries.length === 1), 10_000, 'every response head')
    // Events keep flowing while the drain runs; every stream must get each one published before its close.
    for (let i = 0; i < 5; i++) expect(await c.publish('drain.x', { i })).toBe(200)
    const signalled = Date.now()
    c.child.kill('SIGTERM')
    // Readiness fails at once and a new stream gets the retry-later answer, while the drain is still running.
    await until(async () => (await fetch(`${c.url}/readyz`)).status === 503, 500, '/readyz 503')
    const readyBody = await (await fetch(`${c.url}/readyz`)).json() as { error: { code: string } }
    expect(readyBody.error.code).toBe('SSE_ERR_DRAINING')
    const late = open(c, '/events?topic=drain.x')
    await until(() => late.ended !== undefined, 3000, 'the late stream to be answered')
    expect(late.head).toMatch(/^HTTP\/1.1 200/)
    expect(late.events.map(e => e.event)).toEqual(['unavailable'])
    expect(JSON.parse(late.events[0].data).code).toBe('SSE_ERR_DRAINING')
    let published = 5
    while (Date.now() - signalled < DRAIN / 2) {
      if (await c.publish('drain.x', { i: published }).catch(() => 0) === 200) published++
      await new Promise(resolve => setTimeout(resolve, 50))
    }
    const exit = await c.exited
    await until(() => streams.every(s => s.ended !== undefined), 5000, 'every stream to end')
    const took = exit.at - signalled
    const ends = streams.map(s => s.endedAt!).sort((a, b) => a - b)
    console.log(`[drain] ${N} streams, SSE_DRAIN_MS=${DRAIN}: exit ${exit.code} after ${took} ms; closes from +${ends[0] - signalled} to +${ends[N - 1] - signalled} ms; ${published} events published`)
    expect(exit.code).toBe(0)
    expect(took).toBeLessThan(DRAIN + 3000)
    expect(streams.filter(s => s.ended !== 'end')).toHaveLength(0)
    // Each stream: the head's retry:, then a jittered drain retry: (±50% of 2000) before the end.
    for (const s of streams) {
      expect(s.retries).toHaveLength(2)
      expect(s.retries[1]).toBeGreaterThanOrEqual(1000)
      expect(s.retries[1]).toBeLessThanOrEqual(3000)
    }
    // Batches spread over the window, not a thundering herd.
    expect(ends[N - 1] - ends[0]).toBeGreaterThan(DRAIN * 0.6)
    // Nothing lost while open: every stream got a gap-free prefix including all events published before the signal.
    for (const s of streams) {
      const seen = s.events.filter(e => e.event === undefined).map(e => (JSON.parse(e.data) as { i: number }).i)
      expect(seen).toEqual(Array.from({ length: seen.length }, (_, i) => i))
      expect(seen.length).toBeGreaterThanOrEqual(5)
    }
    expect(c.out()).toContain('"msg":"draining"')
    expect(c.out()).toContain('"msg":"shut down"')
  })
})

describe('HTTP-layer limits', () => {
  it('slowloris: sockets that never finish their request head are closed at SSE_HEADERS_TIMEOUT_MS; a real stream is unaffected', async () => {
    const c = await child({ SSE_HEADERS_TIMEOUT_MS: '1000', SSE_HEARTBEAT_MS: '200' })
    const real = open(c, '/events?topic=live.x')
    await until(() => real.retries.length === 1, 5000, 'the real stream')
    const N = 300
    const loris = Array.from({ length: N }, () => {
      const s = connect(c.port, '127.0.0.1')
      const st = { closedAt: 0, data: '' }
      s.on('error', () => {})
      s.on('data', d => { st.data += d.toString() })
      s.on('close', () => { st.closedAt = Date.now() })
      s.write('GET /events?topic=live.x HTTP/1.1\r\nHost: 127.0.0.1\r\n')
      return { s, st }
    })
    const started = Date.now()
    const drip = setInterval(() => { for (const l of loris) if (!l.s.destroyed) l.s.write('X-a: b\r\n') }, 200)
    try {
      await until(() => loris.every(l => l.st.closedAt !== 0), 5000, 'every slowloris socket closed')
    } finally {
      clearInterval(drip)
      for (const l of loris) l.s.destroy()
    }
    const last = Math.max(...loris.map(l => l.st.closedAt)) - started
    console.log(`[slowloris] ${N} sockets closed within ${last} ms (headersTimeout 1000 ms)`)
    expect(last).toBeGreaterThanOrEqual(900)
    expect(last).toBeLessThan(3000)
    expect(loris.every(l => l.st.data === '' || l.st.data.startsWith('HTTP/1.1 408'))).toBe(true)
    // The real stream kept going (heartbeats every 200 ms), and still gets events.
    expect(real.ended).toBeUndefined()
    expect(await c.publish('live.x', { ok: true })).toBe(200)
    await until(() => real.events.length === 1, 3000, 'the event')
  })

  it('SSE_REQUEST_TIMEOUT_MS ends a request whose body trickles in, and leaves open streams alone', async () => {
    const c = await child({ SSE_REQUEST_TIMEOUT_MS: '1000', SSE_HEADERS_TIMEOUT_MS: '500', SSE_HEARTBEAT_MS: '60000' })
    const stream = open(c, '/events?topic=rt.x')
    await until(() => stream.retries.length === 1, 5000, 'the stream')
    const started = Date.now()
    const slowBody = await new Promise<{ data: string, ms: number }>(resolve => {
      const s = connect(c.port, '127.0.0.1')
      let data = ''
      const drip = setInterval(() => { if (!s.destroyed) s.write('x') }, 100)
      s.on('data', d => { data += d.toString() })
      s.on('error', () => {})
      s.on('close', () => { clearInterval(drip); resolve({ data, ms: Date.now() - started }) })
      s.write(`POST /events/publish HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{`)
      setTimeout(() => s.destroy(), 8000)
    })
    expect(slowBody.data).toMatch(/^HTTP\/1.1 408/)
    expect(slowBody.ms).toBeLessThan(4000)
    // The stream has been open for longer than the request timeout (and got no heartbeat): still there.
    await new Promise(resolve => setTimeout(resolve, Math.max(0, 2500 - (Date.now() - started))))
    expect(stream.ended).toBeUndefined()
    expect(await c.publish('rt.x', { ok: 1 })).toBe(200)
    await until(() => stream.events.length === 1, 3000, 'the event on the long-lived stream')
  })

  it('answers a request head over SSE_MAX_HEADER_BYTES with 431 and keeps serving', async () => {
    const c = await child({ SSE_MAX_HEADER_BYTES: '8192' })
    const reply = await new Promise<string>((resolve) => {
      const s = connect(c.port, '127.0.0.1')
      let data = ''
      s.on('data', d => { data += d.toString() })
      s.on('error', () => resolve(data))
      s.on('close', () => resolve(data))
      s.write(`GET /events?topic=a.b HTTP/1.1\r\nHost: 127.0.0.1\r\nCookie: ${'c'.repeat(17 * 1024)}\r\n\r\n`)
    })
    expect(reply).toMatch(/^HTTP\/1.1 431/)
    expect((await fetch(`${c.url}/healthz`)).status).toBe(200)
  })

  it('a burst at 1,000 connections/s (3,000 in 3 s, RELIABILITY #39 scaled) against SSE_MAX_CONNECTIONS=200: 200 open, the rest 200 + busy, event loop responsive', async () => {
    // OPS_BURST_TOTAL=10000 runs the matrix's full 10,000 in 10 s (same rate); 3,000 keeps the suite's budget.
    const TOTAL = Math.min(Number(process.env.OPS_BURST_TOTAL ?? 3000), 10_000)
    const CAP = 200
    const c = await child({ SSE_MAX_CONNECTIONS: String(CAP), SSE_BUSY_RETRY_MS: '5000' })
    await c.metric('nodejs_eventloop_lag_p99_seconds') // prom-client's event-loop histogram restarts at each scrape
    const burst: RawStream[] = []
    const started = Date.now()
    while (burst.length < TOTAL && Date.now() - started < 60_000) {
      for (let i = 0; i < 10; i++) burst.push(open(c, '/events?topic=burst.x'))
      await new Promise(resolve => setTimeout(resolve, 10))
    }
    await until(() => burst.filter(s => s.ended !== undefined).length >= TOTAL - CAP, 30_000, 'the refusals')
    const lagP99 = await c.metric('nodejs_eventloop_lag_p99_seconds')
    const lagMax = await c.metric('nodejs_eventloop_lag_max_seconds').catch(() => NaN)
    await new Promise(resolve => setTimeout(resolve, 200))
    const refused = burst.filter(s => s.ended !== undefined)
    const kept = burst.filter(s => s.ended === undefined)
    console.log(`[burst] ${TOTAL} connections in ${Date.now() - started} ms, cap ${CAP}: ${kept.length} kept, ${refused.length} refused; event-loop lag p99 ${(lagP99 * 1000).toFixed(1)} ms`)
    expect(kept).toHaveLength(CAP)
    expect(refused).toHaveLength(TOTAL - CAP)
    for (const s of refused) {
      expect(s.head).toMatch(/^HTTP\/1.1 200/)
      expect(s.events.map(e => e.event)).toEqual(['busy'])
      expect(JSON.parse(s.events[0].data).code).toBe('SSE_ERR_BUSY_INSTANCE')
      expect(s.retries[0]).toBeGreaterThanOrEqual(2500)
      expect(s.retries[0]).toBeLessThanOrEqual(7500)
    }
    // RELIABILITY #39 asks < 100 ms on a gateway with its own core; here the load generator shares the 2 cores.
    expect(lagP99).toBeLessThan(0.25)
    expect(Number.isNaN(lagMax) || lagMax < 1).toBe(true)
    expect(await c.metric('sse_streams_open')).toBe(CAP)
    expect(await c.metric('sse_streams_rejected_total{code="SSE_ERR_BUSY_INSTANCE"}')).toBe(TOTAL - CAP)
    expect(await c.publish('burst.x', 1)).toBe(200)
    await until(() => kept.every(s => s.events.length === 1), 5000, 'the kept streams to get the event')
  })
})

describe('log sweep', () => {
  it('never logs cookies, authorization, Last-Event-ID or query strings', async () => {
    const SENTINEL = 'SENTINELzq7x'
    // A NATS URL with a password, unreachable: the bus logs its servers while it keeps retrying in the background.
    const c = await child({ SSE_LOG_LEVEL: 'trace', SSE_NATS_URL: `nats://user:${SENTINEL}p@127.0.0.1:1`, SSE_NATS_START_WAIT_MS: '100' })
    const s = open(c, `/events?topic=log.x&lastEventId=${SENTINEL}q`, {
      headers: { Cookie: `sessionid=${SENTINEL}c`, Authorization: `Bearer ${SENTINEL}a`, 'Last-Event-ID': `${SENTINEL}l` }
    })
    await until(() => s.events.length >= 1, 5000, 'the retry-later answer')
    expect(s.events[0].event).toBe('unavailable')
    await fetch(`${c.url}/events/publish?${SENTINEL}=q`, {
      method: 'POST',
      headers: { authorization: `Bearer ${SENTINEL}wrong`, cookie: `sessionid=${SENTINEL}c`, 'content-type': 'application/json' },
      body: '{}'
    })
    await fetch(`${c.url}/healthz?token=${SENTINEL}`)
    await new Promise(resolve => setTimeout(resolve, 200))
    expect(c.out()).toContain('incoming request')
    expect(c.out()).toContain('NATS not reachable yet')
    expect(c.out()).toContain('nats://[redacted]@127.0.0.1:1')
    expect(c.out()).not.toContain(SENTINEL)
    expect(c.err()).not.toContain(SENTINEL)
  })
})
