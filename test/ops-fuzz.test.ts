/**
 * Issue 7 fuzzing (RELIABILITY #7, #10, #14; headline figure 7): thousands of generated topics and Last-Event-ID
 * values never widen a subscription, never inject an SSE field or event, and never crash the gateway.
 * fast-check generates the strings (seeded, so a failure reproduces); responses are parsed with eventsource-parser.
 */
import { connect } from 'node:net'
import fc from 'fast-check'
import { createParser, type EventSourceMessage } from 'eventsource-parser'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { isGatewayError, RESET_REASONS } from '../src/errors.js'
import { parseTopics } from '../src/request.js'
import { matchSubject } from '../src/subject.js'
import { DEFAULT_SUBJECT_LIMITS } from '../src/subject.js'
import { startGateway, type TestGateway } from './helpers/gateway.js'

const SEED = 7_2026

/** Strings biased towards what breaks subjects and SSE framing. */
const nasty = fc.string({
  unit: fc.oneof(
    { weight: 6, arbitrary: fc.constantFrom('a', 'b', 'Z', '0', '9', '_', '-') },
    { weight: 4, arbitrary: fc.constantFrom('.', '*', '>', ' ', '\t', '\0', '$', '\r', '\n', ':', '%', '/', '\\', '"', '\u2028', '\ufeff', 'é', '😀') },
    { weight: 1, arbitrary: fc.string({ minLength: 1, maxLength: 1, unit: 'binary' }) }
  ),
  maxLength: 80
})
const subjectish = fc.oneof(
  nasty,
  fc.array(fc.oneof(nasty, fc.constantFrom('*', '>', '$JS', '$SYS', '_INBOX', 'API', 'orders')), { minLength: 1, maxLength: 20 }).map(t => t.join('.')),
  fc.constantFrom('$JS.API.>', '_INBOX.x', 'a..b', '>', '*', 'a.>.b', 'a.b.', '.a', 'x'.repeat(300), Array(17).fill('t').join('.'))
)

// The project's token rule (src/subject.ts): NATS semantics, so any printable non-space character is literal;
// what must never get through is whitespace, controls, separators, or a wildcard character inside a token.
// eslint-disable-next-line no-control-regex
const TOKEN = /^[^\s\u0000-\u001f\u007f-\u009f\u2028\u2029\ufeff.*>]+$/

describe('topics (5,000 generated strings through the parser)', () => {
  it('accepts only well-formed subjects; a topic without wildcards matches nothing but itself', () => {
    let accepted = 0
    fc.assert(fc.property(subjectish, fc.array(subjectish, { maxLength: 5 }), (t, probes) => {
      let topics: string[]
      try {
        topics = parseTopics([t], 16, DEFAULT_SUBJECT_LIMITS)
      } catch (err) {
        // Only the documented 400s, never a crash.
        expect(isGatewayError(err)).toBe(true)
        expect((err as { statusCode: number }).statusCode).toBe(400)
        return
      }
      accepted++
      expect(topics).toEqual([t])
      const tokens = t.split('.')
      expect(t.length).toBeLessThanOrEqual(DEFAULT_SUBJECT_LIMITS.maxLength)
      expect(tokens.length).toBeLessThanOrEqual(DEFAULT_SUBJECT_LIMITS.maxTokens)
      tokens.forEach((tok, i) => {
        const ok = TOKEN.test(tok) || tok === '*' || (tok === '>' && i === tokens.length - 1)
        expect(ok, `token ${JSON.stringify(tok)} of ${JSON.stringify(t)}`).toBe(true)
      })
      expect(tokens[0].startsWith('$') || tokens[0] === '_INBOX').toBe(false)
      if (!tokens.includes('*') && !tokens.includes('>')) {
        for (const p of [...probes, t + '.x', t.toUpperCase(), `${t}>`, '>', '*']) {
          if (p !== t) expect(matchSubject(t, p), `${JSON.stringify(t)} matched ${JSON.stringify(p)}`).toBe(false)
        }
        expect(matchSubject(t, t)).toBe(true)
      }
    }), { numRuns: 5000, seed: SEED })
    // The generator reaches both sides.
    expect(accepted).toBeGreaterThan(200)
  })
})

describe('over HTTP', () => {
  let g: TestGateway
  beforeAll(async () => { g = await startGateway({ retryMs: 1000, heartbeatMs: 60_000 }) })
  afterAll(async () => { await g.close() })

  async function request (pathAndQuery: string, headers: string, stopWhen: (events: EventSourceMessage[]) => boolean, quietMs = 150):
  Promise<{ status: number, head: string, body: string, events: EventSourceMessage[], retries: number[] }> {
    const u = new URL(g.url)
    return await new Promise((resolve, reject) => {
      const s = connect(Number(u.port), u.hostname)
      const events: EventSourceMessage[] = []
      const retries: number[] = []
      const parser = createParser({ onEvent: e => events.push(e), onRetry: r => retries.push(r) })
      let raw = Buffer.alloc(0)
      let head = ''
      let body = ''
      let quiet: NodeJS.Timeout | undefined
      const done = (): void => {
        clearTimeout(quiet)
        s.destroy()
        resolve({ status: Number(/^HTTP\/1.1 (\d{3})/.exec(head)?.[1] ?? 0), head, body, events, retries })
      }
      const hard = setTimeout(done, 3000)
      s.on('data', (d: Buffer) => {
        if (head === '') {
          raw = Buffer.concat([raw, d])
          const i = raw.indexOf('\r\n\r\n')
          if (i < 0) return
          head = raw.subarray(0, i).toString('latin1')
          d = raw.subarray(i + 4)
        }
        const text = d.toString('utf8')
        body += text
        if (head.includes('text/event-stream')) parser.feed(text)
        clearTimeout(quiet)
        if (!head.includes('text/event-stream') || stopWhen(events)) { clearTimeout(hard); setTimeout(done, 5); return }
        quiet = setTimeout(() => { clearTimeout(hard); done() }, quietMs)
      })
      s.on('error', () => { clearTimeout(hard); done() })
      s.on('close', () => { clearTimeout(hard); done() })
      s.on('connect', () => { s.write(Buffer.from(`GET ${pathAndQuery} HTTP/1.1\r\nHost: ${u.host}\r\n${headers}\r\n`, 'latin1')) })
      s.once('error', reject)
    })
  }

  async function pool<T> (items: T[], width: number, fn: (item: T) => Promise<void>): Promise<void> {
    let next = 0
    await Promise.all(Array.from({ length: width }, async () => {
      while (next < items.length) await fn(items[next++])
    }))
  }

  it('fuzzed topics: 400 or a stream subscribed to exactly that topic; each stream gets only its own subject', async () => {
    const samples = fc.sample(subjectish, { numRuns: 600, seed: SEED + 1 })
    const acceptedLiteral = new Set<string>()
    await pool(samples, 20, async t => {
      const r = await request(`/events?envelope=1&topic=${encodeURIComponent(t)}`, '', () => true, 50)
      expect([200, 400]).toContain(r.status)
      if (r.status === 400) {
        expect(JSON.parse(r.body).error.code).toMatch(/^SSE_ERR_TOPIC_(INVALID|MISSING|TOO_MANY)$/)
      } else {
        expect(r.head).toContain('text/event-stream')
        const tokens = t.split('.')
        if (!tokens.includes('*') && !tokens.includes('>')) acceptedLiteral.add(t)
      }
    })
    expect(acceptedLiteral.size).toBeGreaterThan(20)
    // Open one stream per accepted literal topic, publish to every one of them, and check the routing.
    const literals = [...acceptedLiteral].slice(0, 150)
    const received = new Map<string, string[]>()
    const u = new URL(g.url)
    const sockets = literals.map(t => {
      const s = connect(Number(u.port), u.hostname)
      const got: string[] = []
      received.set(t, got)
      const parser = createParser({ onEvent: e => { if (e.event === undefined) got.push((JSON.parse(e.data) as { subject: string }).subject) } })
      let headDone = false
      let pending = ''
      s.setEncoding('utf8')
      s.on('data', (d: string) => {
        if (!headDone) { pending += d; const i = pending.indexOf('\r\n\r\n'); if (i < 0) return; headDone = true; d = pending.slice(i + 4) }
        parser.feed(d)
      })
      s.on('error', () => {})
      s.write(`GET /events?envelope=1&topic=${encodeURIComponent(t)} HTTP/1.1\r\nHost: ${u.host}\r\n\r\n`)
      return s
    })
    try {
      const deadline = Date.now() + 10_000
      while (g.app.sseGateway.size < literals.length && Date.now() < deadline) await new Promise(resolve => setTimeout(resolve, 20))
      expect(g.app.sseGateway.size).toBe(literals.length)
      for (const t of literals) expect((await g.publish(t, 1)).status).toBe(200)
      // Probes that a widened subscription would catch.
      for (const p of ['probe.x', 'a', 'a.b', 'orders.1']) expect((await g.publish(p, 1)).status).toBe(200)
      const until = Date.now() + 10_000
      while ([...received.entries()].some(([t, got]) => got.length < 1 + (['probe.x', 'a', 'a.b', 'orders.1'].includes(t) ? 1 : 0)) && Date.now() < until) {
        await new Promise(resolve => setTimeout(resolve, 20))
      }
      await new Promise(resolve => setTimeout(resolve, 100))
      for (const [t, got] of received) {
        expect(got.length).toBeGreaterThanOrEqual(1)
        expect(got.every(subject => subject === t), `${JSON.stringify(t)} received ${JSON.stringify(got)}`).toBe(true)
      }
    } finally {
      for (const s of sockets) s.destroy()
    }
    expect((await fetch(`${g.url}/healthz`)).status).toBe(200)
  })

  it('fuzzed Last-Event-ID (2,000 header and query values): reset or an exact replay, never an injected field, event or echo', async () => {
    for (let i = 0; i < 3; i++) expect((await g.publish('lei.x', { i })).status).toBe(200)
    const cursor = (await (await fetch(`${g.url}/events/cursor`)).json() as { cursor: string }).cursor
    const epoch = cursor.slice(0, cursor.lastIndexOf('.'))
    const head = Number(cursor.slice(cursor.lastIndexOf('.') + 1))
    // Every fuzzed value carries a marker, so any echo of it in a response is visible.
    const MARK = 'qzQZ'
    const values = fc.sample(fc.oneof(
      { weight: 6, arbitrary: nasty.map(s => MARK + s) },
      { weight: 1, arbitrary: fc.bigInt({ min: -(2n ** 70n), max: 2n ** 70n }).map(n => `${MARK}${n}`) },
      { weight: 1, arbitrary: fc.integer({ min: 0, max: 2 ** 31 }).map(n => `${epoch}.${n}`) },
      { weight: 1, arbitrary: fc.constantFrom(`${MARK}${'9'.repeat(8192)}`, `${epoch}.-1`, `${epoch}.18446744073709551616`, `x${epoch}.1`, `${epoch}.1\u0000${MARK}`) }
    ), { numRuns: 2000, seed: SEED + 2 })
    const published = new Set(['{"i":0}', '{"i":1}', '{"i":2}'])
    let streams = 0
    let badRequests = 0
    await pool(values, 25, async v => {
      // Half in the header (only what HTTP can carry: CR/LF end a header line), half in ?lastEventId= (anything).
      const inHeader = v.length % 2 === 0 && !/[\r\n]/.test(v)
      const path = `/events?topic=lei.x${inHeader ? '' : `&lastEventId=${encodeURIComponent(v)}`}`
      const hdr = inHeader ? `Last-Event-ID: ${Buffer.from(v, 'utf8').toString('latin1')}\r\n` : ''
      const r = await request(path, hdr, ev => ev.some(e => e.event === 'reset'))
      if (r.status === 400) { badRequests++; return } // Node's HTTP parser refusing control characters in a header
      expect(r.status).toBe(200)
      streams++
      expect(r.body.includes(MARK)).toBe(false)
      expect(r.retries).toEqual([1000])
      for (const e of r.events) {
        if (e.event === 'reset') {
          const data = JSON.parse(e.data) as { reason: string, cursor: string }
          expect(RESET_REASONS).toContain(data.reason)
          expect(data.cursor).toMatch(/^[A-Za-z0-9_-]+\.\d+$/)
          expect(e.id).toBeUndefined()
        } else {
          expect(e.event).toBeUndefined()
          expect(e.id).toMatch(new RegExp(`^${epoch}\\.\\d+$`))
          expect(Number(e.id!.split('.').pop())).toBeLessThanOrEqual(head)
          expect(published.has(e.data)).toBe(true)
        }
      }
      // A value that is not a cursor of this stream must reset, never silently replay or wait.
      const n = v.startsWith(`${epoch}.`) ? Number(v.slice(epoch.length + 1)) : NaN
      if (!(/^\d{1,16}$/.test(v.slice(epoch.length + 1)) && n <= head)) {
        expect(r.events.map(e => e.event)).toEqual(['reset'])
      }
    })
    console.log(`[fuzz Last-Event-ID] ${values.length} values: ${streams} streams answered, ${badRequests} refused by the HTTP parser`)
    expect(streams).toBeGreaterThan(1500)
    expect((await fetch(`${g.url}/healthz`)).status).toBe(200)
    // Every stream closed by the client: nothing left behind.
    const deadline = Date.now() + 5000
    while (g.app.sseGateway.size > 0 && Date.now() < deadline) await new Promise(resolve => setTimeout(resolve, 20))
    expect(g.app.sseGateway.size).toBe(0)
  })
})
