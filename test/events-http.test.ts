/**
 * `/events` over real sockets, with the WHATWG-compliant `eventsource` client.
 */
import { afterEach, describe, expect, it } from 'vitest'
import { createParser, type EventSourceMessage } from 'eventsource-parser'
import { rawGet, recordingClient, startGateway, type TestGateway } from './helpers/gateway.js'

const cleanups: Array<() => unknown> = []
afterEach(async () => { for (const c of cleanups.splice(0).reverse()) await c() })

async function gateway (opts: Parameters<typeof startGateway>[0] = {}): Promise<TestGateway> {
  const g = await startGateway(opts)
  cleanups.push(() => g.close())
  return g
}

function client (url: string, types?: string[], init?: { headers?: Record<string, string> }) {
  const c = recordingClient(url, types, init)
  cleanups.push(() => c.close())
  return c
}

function parseBody (raw: string): EventSourceMessage[] {
  const body = raw.slice(raw.indexOf('\r\n\r\n') + 4)
  const out: EventSourceMessage[] = []
  createParser({ onEvent: e => out.push(e) }).feed(body)
  return out
}

describe('GET /events', () => {
  it('opens at once with the SSE headers and a retry line', async () => {
    const g = await gateway({ retryMs: 1234 })
    const raw = await rawGet(g.url, '/events?topic=a.b', {}, 200)
    const [head, body] = raw.split('\r\n\r\n')
    expect(head).toMatch(/^HTTP\/1\.1 200 OK/)
    expect(head).toMatch(/\r\nContent-Type: text\/event-stream; charset=utf-8/i)
    expect(head).toMatch(/\r\nCache-Control: no-cache, no-transform/i)
    expect(head).toMatch(/\r\nX-Accel-Buffering: no/i)
    expect(body).toBe('retry: 1234\n\n')
  })

  it('sends heartbeat comments on the configured interval', async () => {
    const g = await gateway({ heartbeatMs: 150 })
    const raw = await rawGet(g.url, '/events?topic=a', {}, 1100)
    const beats = raw.split('\r\n\r\n')[1].split('\n').filter(l => l === ':').length
    expect(beats).toBeGreaterThanOrEqual(1)
  })

  it('delivers events for every requested topic, with event names and without, in order', async () => {
    const g = await gateway()
    const c = client(`${g.url}/events?topic=orders.*&topic=alerts.>`, ['status'])
    await c.until(() => c.opens.length > 0)
    await g.publish('orders.1', 'o1')
    await g.publish('other.1', 'nope')
    await g.publish('alerts.x.y', { level: 'high' })
    await g.publish('orders.2', 'o2', 'status')
    await c.until(() => c.received.length === 3)
    expect(c.received.map(r => [r.type, r.data])).toEqual([
      ['message', 'o1'], ['message', '{"level":"high"}'], ['status', 'o2']
    ])
  })

  it('delivers an event once to a stream whose topics overlap', async () => {
    const g = await gateway()
    const c = client(`${g.url}/events?topic=a.b&topic=a.*&topic=a.>`)
    await c.until(() => c.opens.length > 0)
    await g.publish('a.b', '1')
    await g.publish('a.c', '2')
    await c.until(() => c.received.length === 2)
    await new Promise(resolve => setTimeout(resolve, 50))
    expect(c.data()).toEqual(['1', '2'])
  })

  it('wraps payloads in an envelope naming the subject when asked', async () => {
    const g = await gateway()
    const c = client(`${g.url}/events?topic=a.*&envelope=1`)
    await c.until(() => c.opens.length > 0)
    await g.publish('a.x', { n: 1 })
    await c.until(() => c.received.length === 1)
    expect(JSON.parse(c.received[0].data)).toEqual({ subject: 'a.x', data: { n: 1 } })
  })

  it('reconnects by itself with Last-Event-ID and ends with exactly the published sequence', async () => {
    const g = await gateway()
    const c = client(`${g.url}/events?topic=seq`)
    await c.until(() => c.opens.length > 0)
    for (let i = 1; i <= 5; i++) await g.publish('seq', String(i))
    await c.until(() => c.received.length === 5)
    // Drop every stream from the server side, then publish while the client is away.
    for (const conn of g.app.sseGateway.connections()) conn.socket.destroy()
    for (let i = 6; i <= 10; i++) await g.publish('seq', String(i))
    await c.until(() => c.opens.length >= 2 && c.received.length >= 10)
    for (let i = 11; i <= 12; i++) await g.publish('seq', String(i))
    await c.until(() => c.received.length >= 12)
    await new Promise(resolve => setTimeout(resolve, 50))
    expect(c.data()).toEqual(Array.from({ length: 12 }, (_, i) => String(i + 1)))
    expect(g.app.sseGateway.stats.replays).toBeGreaterThanOrEqual(1)
  })

  it('replays from ?lastEventId= on a first connection, and the header wins over the query', async () => {
    const g = await gateway()
    const ids: string[] = []
    for (let i = 1; i <= 4; i++) ids.push((await g.publish('q', String(i))).body.id)
    const fromQuery = parseBody(await rawGet(g.url, `/events?topic=q&lastEventId=${ids[1]}`))
    expect(fromQuery.map(e => e.data)).toEqual(['3', '4'])
    const headerWins = parseBody(await rawGet(g.url, `/events?topic=q&lastEventId=${ids[0]}`, { 'Last-Event-ID': ids[2] }))
    expect(headerWins.map(e => e.data)).toEqual(['4'])
  })

  it('hands over from replay to live with no gap and no duplicate', async () => {
    const g = await gateway()
    const first = (await g.publish('h', '0')).body.id
    for (let i = 1; i <= 200; i++) await g.publish('h', String(i))
    const c = client(`${g.url}/events?topic=h`, [], { headers: { 'Last-Event-ID': first } })
    // Publish while the replay is being served.
    const live = (async () => { for (let i = 201; i <= 300; i++) await g.publish('h', String(i)) })()
    await live
    await c.until(() => c.received.length >= 300)
    await new Promise(resolve => setTimeout(resolve, 50))
    expect(c.data()).toEqual(Array.from({ length: 300 }, (_, i) => String(i + 1)))
  })

  it('sends one reset naming the reason and cursor when the history is gone, then continues live', async () => {
    const g = await gateway()
    await g.publish('r', 'old')
    const cases: Array<[string, string]> = [['garbage!', 'malformed'], ['zzz.5', 'epoch'], [`${g.app.sseGateway.bus.cursor().split('.')[0]}.999999`, 'ahead']]
    for (const [lastId, reason] of cases) {
      const c = client(`${g.url}/events?topic=r`, ['reset'], { headers: { 'Last-Event-ID': lastId } })
      await c.until(() => c.received.some(r => r.type === 'reset'))
      const reset = c.received.find(r => r.type === 'reset')!
      expect(JSON.parse(reset.data)).toEqual({ reason, cursor: g.app.sseGateway.bus.cursor() })
      await g.publish('r', `live-${reason}`)
      await c.until(() => c.data().includes(`live-${reason}`))
      expect(c.data()).not.toContain('old')
      c.close()
    }
  })

  it('resets when more events were missed than the replay limit', async () => {
    const g = await gateway({ replayLimit: 3 })
    const first = (await g.publish('t', '0')).body.id
    for (let i = 1; i <= 5; i++) await g.publish('t', String(i))
    const events = parseBody(await rawGet(g.url, '/events?topic=t', { 'Last-Event-ID': first }))
    expect(events).toHaveLength(1)
    expect(events[0].event).toBe('reset')
    expect(JSON.parse(events[0].data).reason).toBe('too_many')
  })

  it('answers 400 with a JSON body naming the offending topic', async () => {
    const g = await gateway({ maxTopics: 2 })
    const cases: Array<[string, string, string?]> = [
      ['/events', 'SSE_ERR_TOPIC_MISSING'],
      ['/events?topic=a..b', 'SSE_ERR_TOPIC_INVALID', 'a..b'],
      ['/events?topic=ok&topic=a%20b', 'SSE_ERR_TOPIC_INVALID', 'a b'],
      ['/events?topic=a.%3E.b', 'SSE_ERR_TOPIC_INVALID', 'a.>.b'],
      ['/events?topic=%24JS.API.%3E', 'SSE_ERR_TOPIC_INVALID', '$JS.API.>'],
      ['/events?topic=a&topic=b&topic=c', 'SSE_ERR_TOPIC_TOO_MANY']
    ]
    for (const [path, code, named] of cases) {
      const res = await fetch(g.url + path)
      expect(res.status, path).toBe(400)
      expect(res.headers.get('content-type')).toMatch(/application\/json/)
      const body = await res.json()
      expect(body.error.code).toBe(code)
      if (named !== undefined) expect(body.error.message).toContain(named)
    }
    expect(g.app.sseGateway.size).toBe(0)
  })

  it('answers 401 when authenticate returns null and 403 naming a forbidden topic, before any bus work', async () => {
    let interests = 0
    const g = await gateway({
      authenticate: async req => req.headers['x-user'] === undefined ? null : { user: String(req.headers['x-user']) },
      authorize: (_p, topics) => topics.find(t => !t.startsWith('public.'))
    })
    const bus = g.app.sseGateway.bus
    const orig = bus.addInterest.bind(bus)
    bus.addInterest = (p: string) => { interests++; orig(p) }
    const anon = await fetch(`${g.url}/events?topic=public.a`)
    expect(anon.status).toBe(401)
    expect((await anon.json()).error.code).toBe('SSE_ERR_AUTH_REQUIRED')
    const forbidden = await fetch(`${g.url}/events?topic=public.a&topic=private.b`, { headers: { 'x-user': 'u1' } })
    expect(forbidden.status).toBe(403)
    const body = await forbidden.json()
    expect(body.error.code).toBe('SSE_ERR_TOPIC_FORBIDDEN')
    expect(body.error.message).toContain('private.b')
    expect(interests).toBe(0)
  })

  it('answers retry-later conditions with 200, a jittered retry, one typed event and a clean close', async () => {
    const g = await gateway({ maxConnections: 1, busyRetryMs: 10_000 })
    const c = client(`${g.url}/events?topic=x`)
    await c.until(() => c.opens.length > 0)
    const raw = await rawGet(g.url, '/events?topic=x', {}, 500)
    expect(raw).toMatch(/^HTTP\/1\.1 200 OK/)
    const retry = Number(/retry: (\d+)/.exec(raw)?.[1])
    expect(retry).toBeGreaterThanOrEqual(5000)
    expect(retry).toBeLessThanOrEqual(15000)
    const events = parseBody(raw)
    expect(events).toHaveLength(1)
    expect(events[0].event).toBe('busy')
    expect(JSON.parse(events[0].data).code).toBe('SSE_ERR_BUSY_INSTANCE')
  })

  it('answers unavailable when authentication cannot be decided now', async () => {
    const { GatewayError } = await import('../src/errors.js')
    const g = await gateway({ authenticate: async () => { throw new GatewayError('SSE_ERR_AUTH_UNAVAILABLE') } })
    const raw = await rawGet(g.url, '/events?topic=x', {}, 300)
    expect(raw).toMatch(/^HTTP\/1\.1 200 OK/)
    expect(parseBody(raw).map(e => e.event)).toEqual(['unavailable'])
  })
})

describe('GET /events/cursor', () => {
  it('returns the current cursor, from which a stream continues with no gap', async () => {
    const g = await gateway()
    await g.publish('p', 'before')
    const { cursor } = await (await fetch(`${g.url}/events/cursor`)).json()
    expect(cursor).toBe(g.app.sseGateway.bus.cursor())
    await g.publish('p', 'after-render')
    const events = parseBody(await rawGet(g.url, `/events?topic=p&lastEventId=${cursor}`))
    expect(events.map(e => e.data)).toEqual(['after-render'])
  })
})

describe('POST /events/publish', () => {
  async function post (g: TestGateway, body: string, headers: Record<string, string> = {}) {
    const res = await fetch(`${g.url}/events/publish`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: 'Bearer test-publish-token-0123456789', ...headers },
      body
    })
    return { status: res.status, body: await res.json() }
  }

  it('publishes and returns the event id', async () => {
    const g = await gateway()
    const r = await post(g, JSON.stringify({ subject: 'a.b', data: 'x', event: 'update' }))
    expect(r.status).toBe(200)
    expect(r.body.id).toBe(g.app.sseGateway.bus.cursor())
  })

  it('rejects a wrong or missing token with 401, bad input with 400 and an oversized body with 413', async () => {
    const g = await gateway({ publishBodyLimit: 1024 })
    const cases: Array<[string, Record<string, string>, number, string]> = [
      [JSON.stringify({ subject: 'a', data: 1 }), { authorization: 'Bearer wrong' }, 401, 'SSE_ERR_PUBLISH_UNAUTHORIZED'],
      [JSON.stringify({ subject: 'a', data: 1 }), { authorization: '' }, 401, 'SSE_ERR_PUBLISH_UNAUTHORIZED'],
      [JSON.stringify({ subject: 'a.*', data: 1 }), {}, 400, 'SSE_ERR_PUBLISH_SUBJECT'],
      [JSON.stringify({ subject: 'a.>', data: 1 }), {}, 400, 'SSE_ERR_PUBLISH_SUBJECT'],
      [JSON.stringify({ subject: 'a b', data: 1 }), {}, 400, 'SSE_ERR_PUBLISH_SUBJECT'],
      [JSON.stringify({ subject: 'a' }), {}, 400, 'SSE_ERR_PUBLISH_INVALID'],
      [JSON.stringify({ subject: 'a', data: 1, event: 'x\ny' }), {}, 400, 'SSE_ERR_PUBLISH_INVALID'],
      [JSON.stringify({ subject: 'a', data: 1, event: 'reset' }), {}, 400, 'SSE_ERR_PUBLISH_INVALID'],
      [JSON.stringify({ subject: 'a', data: 1, event: 'unauthorized' }), {}, 400, 'SSE_ERR_PUBLISH_INVALID'],
      [JSON.stringify([1]), {}, 400, 'SSE_ERR_PUBLISH_INVALID'],
      ['{not json', {}, 400, 'SSE_ERR_PUBLISH_INVALID'],
      [JSON.stringify({ subject: 'a', data: 'x'.repeat(2000) }), {}, 413, 'SSE_ERR_PUBLISH_TOO_LARGE']
    ]
    for (const [body, headers, status, code] of cases) {
      const r = await post(g, body, headers)
      expect({ body: body.slice(0, 40), status: r.status, code: r.body.error?.code }).toEqual({ body: body.slice(0, 40), status, code })
    }
    expect(g.app.sseGateway.bus.cursor()).toMatch(/\.0$/)
  })

  it('is disabled without a token', async () => {
    const g = await gateway({ publishToken: undefined })
    const r = await post(g, JSON.stringify({ subject: 'a', data: 1 }))
    expect(r.status).toBe(404)
    expect(r.body.error.code).toBe('SSE_ERR_PUBLISH_DISABLED')
  })
})

describe('retry-later conditions outside a stream', () => {
  it('answer GET /events/cursor with 503, Retry-After and the error body', async () => {
    const { GatewayError } = await import('../src/errors.js')
    const g = await gateway({ authenticate: async () => { throw new GatewayError('SSE_ERR_AUTH_UNAVAILABLE') } })
    const res = await fetch(`${g.url}/events/cursor`)
    expect(res.status).toBe(503)
    expect(res.headers.get('retry-after')).toBe('5')
    expect((await res.json()).error.code).toBe('SSE_ERR_AUTH_UNAVAILABLE')
  })
})
