/**
 * GET /events/poll over real sockets: immediate answers, waiting, the timeout cap, replay and reset semantics,
 * auth, bad input, no gap or duplicate across many polls, and prompt answers on shutdown.
 */
import { afterEach, describe, expect, it } from 'vitest'
import Fastify, { type FastifyInstance } from 'fastify'
import { request } from 'undici'
import { sseGatewayPlugin, type SseGatewayOptions } from '../plugins/gateway.js'
import { GatewayError } from '../src/errors.js'
import { connect } from 'nats'
import { NATS_SERVER, startNats } from './e2e/harness.js'

interface PollBody {
  reset?: { reason: string, cursor: string }
  events: Array<{ id: string, event: string | null, subject: string, data: unknown }>
  lastEventId: string
}

let app: FastifyInstance | undefined

afterEach(async () => { await app?.close(); app = undefined })

async function start (opts: Partial<SseGatewayOptions> = {}): Promise<string> {
  app = Fastify()
  await app.register(sseGatewayPlugin, { heartbeatMs: 60_000, ...opts })
  return await app.listen({ host: '127.0.0.1', port: 0 })
}

async function poll (base: string, qs: string, headers: Record<string, string> = {}): Promise<{ status: number, body: PollBody & { error?: { code: string } }, ms: number, headers: Record<string, unknown> }> {
  const t0 = performance.now()
  const res = await request(`${base}/events/poll?${qs}`, { headers })
  const body = await res.body.json() as PollBody & { error?: { code: string } }
  return { status: res.statusCode, body, ms: performance.now() - t0, headers: res.headers }
}

const publish = async (subject: string, data: string, event?: string): Promise<string> =>
  (await app!.sseGateway.bus.publish({ subject, data, event })).id!

describe('GET /events/poll', () => {
  it('answers at once with the events after the cursor, in order, filtered by topic', async () => {
    const base = await start()
    const cursor = app!.sseGateway.bus.cursor()
    await publish('orders.1', '{"n":1}')
    await publish('other.x', 'not mine')
    const id2 = await publish('orders.2', 'plain text', 'created')
    const r = await poll(base, `topic=orders.*&lastEventId=${encodeURIComponent(cursor)}&timeout=10`)
    expect(r.status).toBe(200)
    expect(r.ms).toBeLessThan(1000)
    expect(r.headers['cache-control']).toBe('no-store, private')
    expect(r.body.reset).toBeUndefined()
    expect(r.body.events.map(e => [e.subject, e.event, e.data])).toEqual([['orders.1', null, { n: 1 }], ['orders.2', 'created', 'plain text']])
    expect(r.body.lastEventId).toBe(id2)
  })

  it('waits for the first event when none is there, and answers as soon as it is published', async () => {
    const base = await start()
    const cursor = app!.sseGateway.bus.cursor()
    const pending = poll(base, `topic=a.b&lastEventId=${encodeURIComponent(cursor)}&timeout=10`)
    await new Promise(resolve => setTimeout(resolve, 300))
    const id = await publish('a.b', 'late')
    const r = await pending
    expect(r.ms).toBeGreaterThan(250)
    expect(r.ms).toBeLessThan(2000)
    expect(r.body.events.map(e => e.id)).toEqual([id])
  })

  it('without a cursor waits for events published from now on, and returns the cursor it waited from', async () => {
    const base = await start()
    await publish('a.b', 'old')
    const head = app!.sseGateway.bus.cursor()
    const r = await poll(base, 'topic=a.b&timeout=0.3')
    expect(r.body.events).toEqual([])
    expect(r.body.lastEventId).toBe(head)
  })

  it('caps the timeout with maxPollTimeoutS', async () => {
    const base = await start({ maxPollTimeoutS: 1 })
    const r = await poll(base, 'topic=a.b&timeout=600')
    expect(r.status).toBe(200)
    expect(r.ms).toBeGreaterThan(900)
    expect(r.ms).toBeLessThan(2500)
    expect(r.body.events).toEqual([])
  })

  it('timeout=0 answers at once', async () => {
    const base = await start()
    const r = await poll(base, 'topic=a.b&timeout=0')
    expect(r.status).toBe(200)
    expect(r.ms).toBeLessThan(500)
  })

  it('a cursor it cannot honour gives a reset marker with the cursor to continue from', async () => {
    const base = await start()
    await publish('a.b', 'x')
    const head = app!.sseGateway.bus.cursor()
    for (const [id, reason] of [['zzz.5', 'epoch'], ['garbage', 'malformed']]) {
      const r = await poll(base, `topic=a.b&lastEventId=${id}&timeout=0`)
      expect(r.status).toBe(200)
      expect(r.body.reset).toEqual({ reason, cursor: head })
      expect(r.body.lastEventId).toBe(head)
    }
  })

  it('prefers the Last-Event-ID header over ?lastEventId=', async () => {
    const base = await start()
    const c0 = app!.sseGateway.bus.cursor()
    await publish('a.b', '1')
    const c1 = app!.sseGateway.bus.cursor()
    await publish('a.b', '2')
    const r = await poll(base, `topic=a.b&lastEventId=${encodeURIComponent(c0)}&timeout=0`, { 'last-event-id': c1 })
    expect(r.body.events.map(e => e.data)).toEqual([2])
  })

  it('a client polling in a loop while events are published gets every event exactly once, in order', async () => {
    const base = await start({ pollLingerMs: 0 })
    let cursor = app!.sseGateway.bus.cursor()
    const N = 300
    const producer = (async () => {
      for (let i = 0; i < N; i++) {
        await publish('load.x', String(i))
        if (i % 7 === 0) await new Promise(resolve => setTimeout(resolve, 1))
      }
    })()
    const got: unknown[] = []
    for (let round = 0; round < 1000 && got.length < N; round++) {
      const r = await poll(base, `topic=load.>&lastEventId=${encodeURIComponent(cursor)}&timeout=2`)
      expect(r.body.reset).toBeUndefined()
      got.push(...r.body.events.map(e => e.data))
      cursor = r.body.lastEventId
    }
    await producer
    expect(got).toEqual([...Array(N).keys()])
    expect(app!.sseGateway.hub.size).toBe(0)
  })

  it('rejects bad input with the gateway error body', async () => {
    const base = await start()
    expect((await poll(base, 'timeout=1')).body.error?.code).toBe('SSE_ERR_TOPIC_MISSING')
    for (const t of ['abc', '-1', '1e3', '1.23456']) {
      const r = await poll(base, `topic=a&timeout=${t}`)
      expect(r.status).toBe(400)
      expect(r.body.error?.code).toBe('SSE_ERR_POLL_TIMEOUT_INVALID')
    }
    expect((await poll(base, 'topic=a.>.b')).body.error?.code).toBe('SSE_ERR_TOPIC_INVALID')
  })

  it('applies the same authentication and authorization as the stream', async () => {
    const base = await start({
      authenticate: async (req) => req.headers['x-user'] === undefined ? null : { user: String(req.headers['x-user']) },
      authorize: (p, topics) => topics.find(t => !t.startsWith(`user.${p.user}.`)),
    })
    const anon = await poll(base, 'topic=user.bob.x&timeout=0')
    expect(anon.status).toBe(401)
    expect(anon.body.error?.code).toBe('SSE_ERR_AUTH_REQUIRED')
    const forbidden = await poll(base, 'topic=user.bob.x&timeout=0', { 'x-user': 'alice' })
    expect(forbidden.status).toBe(403)
    expect(forbidden.body.error?.code).toBe('SSE_ERR_TOPIC_FORBIDDEN')
    const ok = await poll(base, 'topic=user.alice.x&timeout=0', { 'x-user': 'alice' })
    expect(ok.status).toBe(200)
  })

  it('answers 503 with Retry-After when the session cannot be verified right now', async () => {
    const base = await start({
      busyRetryMs: 4000,
      authenticate: async () => { throw new GatewayError('SSE_ERR_AUTH_UNAVAILABLE') },
    })
    const r = await poll(base, 'topic=a&timeout=0')
    expect(r.status).toBe(503)
    expect(r.body.error?.code).toBe('SSE_ERR_AUTH_UNAVAILABLE')
    expect(Number(r.headers['retry-after'])).toBeGreaterThanOrEqual(2)
  })

  it('frees its hub subscription when the client goes away, and answers waiting polls at shutdown', async () => {
    const base = await start({ pollLingerMs: 0 })
    const ac = new AbortController()
    const dropped = request(`${base}/events/poll?topic=a&timeout=20`, { signal: ac.signal }).catch(() => undefined)
    await new Promise(resolve => setTimeout(resolve, 200))
    expect(app!.sseGateway.hub.size).toBe(1)
    ac.abort()
    await dropped
    await new Promise(resolve => setTimeout(resolve, 100))
    expect(app!.sseGateway.hub.size).toBe(0)

    const waiting = poll(base, 'topic=a&timeout=20')
    await new Promise(resolve => setTimeout(resolve, 200))
    const t0 = performance.now()
    await app!.close()
    app = undefined
    const r = await waiting
    expect(performance.now() - t0).toBeLessThan(3000)
    expect(r.status).toBe(200)
    expect(r.body.events).toEqual([])
  })
})

describe('GET /events?ready=1', () => {
  it('starts the stream with a visible ready event carrying the live cursor', async () => {
    const base = await start()
    await publish('a.b', 'before')
    const head = app!.sseGateway.bus.cursor()
    const res = await request(`${base}/events?topic=a.b&ready=1`)
    let text = ''
    for await (const chunk of res.body) {
      text += chunk.toString()
      if (text.includes('event: ready')) break
    }
    expect(text).toContain(`event: ready\ndata: {"cursor":"${head}"}\n\n`)
    res.body.destroy()
  })
})

describe.skipIf(NATS_SERVER === undefined)('GET /events/poll on core NATS', () => {
  it('keeps its topics subscribed between polls, so events published between two polls are not lost', async () => {
    const server = await startNats({ jetstream: false })
    const nc = await connect({ servers: server.url })
    try {
      const base = await start({ nats: { servers: [server.url] }, pollLingerMs: 1500 })
      let cursor = (await poll(base, 'topic=core.poll&timeout=0')).body.lastEventId
      // Core NATS: a subscription is in effect once the server has it (one round trip), as for a stream.
      await (app!.sseGateway.bus as unknown as { flush: () => Promise<void> }).flush()
      const got: unknown[] = []
      for (let i = 0; i < 5; i++) {
        // No poll is waiting now: only the lingering interest keeps these in the gateway's history.
        nc.publish('core.poll', JSON.stringify({ i }))
        await nc.flush()
        await new Promise(resolve => setTimeout(resolve, 100))
        const r = await poll(base, `topic=core.poll&lastEventId=${encodeURIComponent(cursor)}&timeout=2`)
        expect(r.body.reset).toBeUndefined()
        got.push(...r.body.events.map(e => e.data))
        cursor = r.body.lastEventId
      }
      expect(got).toEqual([0, 1, 2, 3, 4].map(i => ({ i })))
      // One lingering holder for the topic set, released after pollLingerMs.
      expect(app!.sseGateway.hub.size).toBe(1)
      await new Promise(resolve => setTimeout(resolve, 1800))
      expect(app!.sseGateway.hub.size).toBe(0)
    } finally {
      await app?.close()
      app = undefined
      await nc.close()
      await server.stop()
    }
  })
})
