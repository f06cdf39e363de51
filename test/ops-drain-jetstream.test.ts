/**
 * RELIABILITY #34 with nothing lost: two standalone gateways on one JetStream stream; SIGTERM one holding 1,000
 * streams while events keep flowing. Every client, told `retry:` and ended by the drain, resumes on the other
 * instance with Last-Event-ID (JetStream ids are the same on every instance) and must see every event exactly once.
 * Real nats-server; skipped loudly without one, a failure under CI=true.
 */
import { connect, type Socket } from 'node:net'
import { afterAll, describe, expect, it } from 'vitest'
import { createParser } from 'eventsource-parser'
import { NatsServer, natsAvailable } from './helpers/nats-server.js'
import { startChildGateway, until, type ChildGateway } from './helpers/child-gateway.js'

interface Client { seqs: number[], lastId?: string, socket?: Socket, on: 'A' | 'B', drainedAt?: number, resets: number, done: boolean }

describe.skipIf(!natsAvailable())('SIGTERM with 1,000 streams on JetStream, a second instance', () => {
  let nats: NatsServer | undefined
  const gateways: ChildGateway[] = []
  const clients: Client[] = []
  afterAll(async () => {
    for (const c of clients) { c.done = true; c.socket?.destroy() }
    for (const g of gateways) g.kill()
    await nats?.dispose()
  })

  it('every client resumes on the other instance with no event lost or duplicated; the drained one exits 0 in time', async () => {
    nats = await NatsServer.start({ jetstream: true })
    const env = {
      SSE_NATS_URL: nats.url,
      SSE_JETSTREAM_STREAM: 'OPSDRAIN',
      SSE_JETSTREAM_SUBJECTS: 'drain.>',
      SSE_JETSTREAM_CREATE: 'true',
      SSE_RETRY_MS: '500',
      SSE_DRAIN_MS: '2000',
      SSE_SHUTDOWN_TIMEOUT_MS: '8000'
    }
    const a = await startChildGateway(env)
    gateways.push(a)
    const b = await startChildGateway(env)
    gateways.push(b)
    await until(async () => (await fetch(`${a.url}/readyz`)).status === 200 && (await fetch(`${b.url}/readyz`)).status === 200, 15_000, 'both ready')

    const N = 1000
    const open = (c: Client, port: number): void => {
      const s = connect(port, '127.0.0.1')
      c.socket = s
      let head = true
      let buf = ''
      const parser = createParser({
        onEvent: e => {
          if (e.event === 'reset') { c.resets++; return }
          if (e.event !== undefined || e.id === undefined) return
          c.lastId = e.id
          c.seqs.push(Number(e.id.split('.').pop()))
        }
      })
      s.setEncoding('utf8')
      s.on('data', (d: string) => {
        if (head) { buf += d; const i = buf.indexOf('\r\n\r\n'); if (i < 0) return; head = false; d = buf.slice(i + 4) }
        parser.feed(d)
      })
      s.on('error', () => {})
      s.on('close', () => {
        if (c.done || c.on === 'B') return
        // Like a browser after the drain's `retry:`: reconnect (here, to the instance still up) with Last-Event-ID.
        c.on = 'B'
        c.drainedAt = Date.now()
        setTimeout(() => open(c, b.port), Math.random() * 500)
      })
      s.write(`GET /events?topic=drain.x HTTP/1.1\r\nHost: 127.0.0.1\r\n${c.lastId !== undefined ? `Last-Event-ID: ${c.lastId}\r\n` : ''}\r\n`)
    }

    // One event first, so every client starts from a cursor it has seen.
    expect(await b.publish('drain.x', { n: 0 })).toBe(200)
    for (let i = 0; i < N; i++) {
      const c: Client = { seqs: [], on: 'A', resets: 0, done: false }
      clients.push(c)
      open(c, a.port)
      if (i % 100 === 99) await new Promise(resolve => setTimeout(resolve, 20))
    }
    await until(async () => await a.metric('sse_streams_open') === N, 30_000, 'all streams on A')
    expect(await b.publish('drain.x', { n: 1 })).toBe(200)
    await until(() => clients.every(c => c.seqs.length >= 1), 10_000, 'the first live event on every stream')

    // A publisher keeps going (through B) for the whole drain.
    let publishing = true
    let published = 2
    const publisher = (async () => {
      while (publishing) {
        if (await b.publish('drain.x', { n: published }) === 200) published++
        await new Promise(resolve => setTimeout(resolve, 20))
      }
    })()
    await new Promise(resolve => setTimeout(resolve, 300))
    const signalled = Date.now()
    a.child.kill('SIGTERM')
    const exit = await a.exited
    await until(() => clients.every(c => c.on === 'B'), 5000, 'every client moved to B')
    await until(async () => await b.metric('sse_streams_open') === N, 20_000, 'all streams on B')
    await new Promise(resolve => setTimeout(resolve, 500))
    publishing = false
    await publisher
    // A loop, not Math.max(...all): a million spread arguments overflow the stack on a fast machine.
    let lastSeq = 0
    for (const c of clients) for (const seq of c.seqs) if (seq > lastSeq) lastSeq = seq
    await until(() => clients.every(c => c.seqs.at(-1) === lastSeq), 15_000, 'every client at the last event')

    const lost = clients.map(c => {
      let gaps = 0
      for (let i = 1; i < c.seqs.length; i++) if (c.seqs[i] !== c.seqs[i - 1] + 1) gaps++
      return gaps
    })
    const drainedSpread = Math.max(...clients.map(c => c.drainedAt!)) - Math.min(...clients.map(c => c.drainedAt!))
    console.log(`[drain/jetstream] ${N} streams moved A→B: A exited ${exit.code} after ${exit.at - signalled} ms, closes spread over ${drainedSpread} ms; ` +
      `${published} events published, last seq ${lastSeq}; clients with a gap or duplicate: ${lost.filter(n => n > 0).length}; resets: ${clients.reduce((s, c) => s + c.resets, 0)}`)
    expect(exit.code).toBe(0)
    expect(exit.at - signalled).toBeLessThan(2000 + 3000)
    expect(drainedSpread).toBeGreaterThan(1000)
    expect(clients.reduce((s, c) => s + c.resets, 0)).toBe(0)
    for (const c of clients) {
      // Contiguous and duplicate-free from the client's first event to the last one published.
      expect(c.seqs).toEqual(Array.from({ length: c.seqs.length }, (_, i) => c.seqs[0] + i))
    }
    expect(published).toBeGreaterThan(20)
  })
})
