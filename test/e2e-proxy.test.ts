/**
 * The gateway behind Debian's nginx with nothing but `location /events { proxy_pass http://127.0.0.1:<port>; }`:
 * events arrive unbuffered and promptly, and heartbeats keep a stream alive past a short proxy_read_timeout.
 */
import { readFileSync } from 'node:fs'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { NGINX, ROOT, freePort, openStream, sleep, startGateway, startNginx, stats, until, type Gateway, type Nginx } from './e2e/harness.js'

describe.skipIf(NGINX === undefined)('e2e: plain nginx proxy_pass in front of the gateway', () => {
  let gw: Gateway
  let quiet: Gateway
  let nginx: Nginx
  let plain: number
  let shortTimeout: number
  let shortTimeoutQuiet: number
  let buffering: number

  // The README's nginx snippet, used verbatim (port substituted) as the plain server's only location.
  const readme = readFileSync(`${ROOT}/README.md`, 'utf8')
  const snippet = /```nginx\n([^`]+)```/.exec(readme)?.[1].trim() ?? ''

  it('the README snippet is the plain block, nothing SSE-specific', () => {
    expect(snippet).toBe('location /events { proxy_pass http://127.0.0.1:8080; }')
  })

  beforeAll(async () => {
    ;[gw, quiet] = await Promise.all([
      startGateway({ SSE_HEARTBEAT_MS: '2000', SSE_RETRY_MS: '1000', SSE_AUTH: 'none' }),
      // The control: heartbeats far apart, so nginx's 5 s read timeout must cut its streams.
      startGateway({ SSE_HEARTBEAT_MS: '60000', SSE_RETRY_MS: '1000', SSE_AUTH: 'none' }),
    ])
    ;[plain, shortTimeout, shortTimeoutQuiet, buffering] = await Promise.all([freePort(), freePort(), freePort(), freePort()])
    nginx = await startNginx({
      servers: `
  server {
    listen 127.0.0.1:${plain};
    ${snippet.replace(':8080;', `:${gw.port};`)}
  }
  server {
    listen 127.0.0.1:${shortTimeout};
    proxy_read_timeout 5s;
    location /events { proxy_pass http://127.0.0.1:${gw.port}; }
  }
  server {
    listen 127.0.0.1:${shortTimeoutQuiet};
    proxy_read_timeout 5s;
    location /events { proxy_pass http://127.0.0.1:${quiet.port}; }
  }
  server {
    listen 127.0.0.1:${buffering};
    location /events {
      proxy_pass http://127.0.0.1:${gw.port};
      proxy_buffering on;
      proxy_ignore_headers X-Accel-Buffering;
    }
  }`,
    }, [plain, shortTimeout, shortTimeoutQuiet, buffering])
  })

  afterAll(async () => {
    await nginx?.stop()
    await Promise.all([gw?.stop(), quiet?.stop()])
  })

  it('delivers every event through the plain block promptly, in order (unbuffered)', async () => {
    const s = await openStream(`http://127.0.0.1:${plain}/events?topic=e2e.latency`)
    // The same events read straight from the gateway: the difference is what nginx adds.
    const direct = await openStream(`${gw.url}/events?topic=e2e.latency`)
    try {
      expect(s.status).toBe(200)
      expect(s.headers['content-type']).toMatch(/^text\/event-stream/)
      const sent: number[] = []
      const N = 40
      for (let i = 0; i < N; i++) {
        sent.push(performance.now())
        await gw.publish('e2e.latency', { i })
        // Wait for this event before the next publish, so each delay is measured on an otherwise idle stream.
        await until(`event ${i} through nginx`, () => s.events.length > i && direct.events.length > i, 5000)
      }
      expect(s.events.map(e => JSON.parse(e.data).i)).toEqual([...Array(N).keys()])
      const st = stats(s.events.map((e, i) => e.at - sent[i]))
      const added = stats(s.events.map((e, i) => e.at - direct.events[i].at))
      console.log(`[e2e] publish → event through plain nginx proxy_pass, ms (publish POST round trip included): ${JSON.stringify(st)}; ` +
        `added by nginx vs a direct stream: ${JSON.stringify(added)}`)
      // Buffered, an event would wait for nginx's 4–8 KiB buffer to fill or for the stream to end: seconds or never
      // (see the control below). The bounds leave room for a loaded 2-core CI machine running other suites.
      expect(st.median).toBeLessThan(50)
      expect(added.median).toBeLessThan(20)
      expect(st.max).toBeLessThan(1000)
    } finally {
      s.close()
      direct.close()
    }
  })

  it('control: the same stream through a buffering nginx delivers nothing promptly (so the check above can fail)', async () => {
    let s: Awaited<ReturnType<typeof openStream>> | undefined
    // nginx holds even the response head while it buffers, so do not wait for it.
    const opening = openStream(`http://127.0.0.1:${buffering}/events?topic=e2e.buffered`).then(r => { s = r; return r })
    await sleep(300)
    for (let i = 0; i < 3; i++) await gw.publish('e2e.buffered', { i })
    await sleep(1500)
    expect(s?.events.length ?? 0).toBe(0)
    console.log(`[e2e] buffering nginx: response head ${s === undefined ? 'not yet received' : 'received'}, 0 of 3 events after 1.5 s`)
    // Stopping the gateway's stream would flush nginx's buffer; just drop our side.
    s?.close()
    void opening.then(r => r.close(), () => {})
  })

  it('survives a 5 s proxy_read_timeout for 15 s with a 2 s heartbeat; without it nginx cuts the stream', async () => {
    const alive = await openStream(`http://127.0.0.1:${shortTimeout}/events?topic=e2e.idle`)
    const cut = await openStream(`http://127.0.0.1:${shortTimeoutQuiet}/events?topic=e2e.idle`)
    const t0 = performance.now()
    try {
      expect(alive.status).toBe(200)
      expect(cut.status).toBe(200)
      await sleep(15_000)
      expect(alive.ended).toBeUndefined()
      expect(alive.comments).toBeGreaterThanOrEqual(5)
      expect(cut.ended).toBeDefined()
      const cutAfter = (cut.ended?.at ?? 0) - t0
      console.log(`[e2e] heartbeat 2 s: stream alive after ${Math.round(performance.now() - t0)} ms with ${alive.comments} heartbeats; ` +
        `heartbeat 60 s: nginx cut the stream after ${Math.round(cutAfter)} ms`)
      expect(cutAfter).toBeGreaterThan(4500)
      expect(cutAfter).toBeLessThan(8000)
      await gw.publish('e2e.idle', 'still here')
      await until('event after 15 s', () => alive.events.length === 1, 5000)
      expect(alive.events[0].data).toBe('still here')
    } finally {
      alive.close()
      cut.close()
    }
  }, 30_000)
})
