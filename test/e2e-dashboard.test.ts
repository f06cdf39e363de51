/**
 * The promise end to end: an existing dashboard behind nginx, its page in Chromium with a plain EventSource and the
 * dashboard's own session cookie, events published to NATS JetStream, the gateway killed and restarted, logout.
 *
 * Real parts: nginx with the plain `location /events { proxy_pass …; }` block, Chromium, nats-server -js, the gateway
 * binary (SSE_AUTH=introspect against the dashboard stand-in, SSE_NATS_URL + SSE_JETSTREAM_STREAM).
 */
import { rmSync } from 'node:fs'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { Page } from 'playwright-core'
import { connect, type NatsConnection } from 'nats'
import {
  CHROMIUM, NATS_SERVER, NGINX, freePort, launchChromium, makeCertificate, sleep, tempDir, startDashboard, startGateway, startNats, startNginx, until,
  type Dashboard, type Gateway, type NatsServer, type Nginx,
} from './e2e/harness.js'
import { CLIENT_PAGE, DASHBOARD_PAGE, type PageLog } from './e2e/pages.js'

interface Dash { messages: Array<{ id: string, data: string, at: number }>, resets: unknown[], unauthorized: number, errors: number, opens: number }
const dashOf = async (p: Page): Promise<Dash> => await p.evaluate(() => (window as unknown as { __dash: Dash }).__dash)
const readyState = async (p: Page): Promise<number> => await p.evaluate(() => (window as unknown as { __esd: EventSource }).__esd.readyState)
const ns = (d: Dash): number[] => d.messages.map(m => (JSON.parse(m.data) as { n: number }).n)
const range = (a: number, b: number): number[] => Array.from({ length: b - a + 1 }, (_, i) => a + i)

// The same story over HTTP/1.1 and over HTTP/2 with TLS (nginx `listen … ssl http2`, a certificate made by openssl).
describe.skipIf(NGINX === undefined || CHROMIUM === undefined || NATS_SERVER === undefined).each([
  { protocol: 'http/1.1' }, { protocol: 'h2' },
])('e2e: dashboard page, session cookie, NATS JetStream, restart, logout ($protocol)', ({ protocol }) => {
  let nats: NatsServer
  let nc: NatsConnection
  let gw: Gateway
  let gwPort: number
  let dash: Dashboard
  let nginx: Nginx
  let origin: string
  let browser: Awaited<ReturnType<typeof launchChromium>>
  let env: Record<string, string>
  let certDir: string

  beforeAll(async () => {
    certDir = tempDir('cert')
    const tls = protocol === 'h2' ? makeCertificate(certDir) : undefined
    ;[nats, dash, browser, gwPort] = await Promise.all([
      startNats({ jetstream: true }),
      startDashboard({ '/dashboard.html': DASHBOARD_PAGE, '/client.html': CLIENT_PAGE }, user => [`e2e.dash.user.${user}.>`]),
      launchChromium(tls === undefined ? [] : [`--ignore-certificate-errors-spki-list=${tls.spki}`]),
      freePort(),
    ])
    const web = await freePort()
    origin = tls === undefined ? `http://127.0.0.1:${web}` : `https://localhost:${web}`
    const listen = tls === undefined
      ? `listen 127.0.0.1:${web};`
      : `listen 127.0.0.1:${web} ssl http2;\n    ssl_certificate ${tls.cert};\n    ssl_certificate_key ${tls.key};`
    env = {
      SSE_AUTH: 'introspect',
      SSE_INTROSPECT_URL: `http://127.0.0.1:${dash.port}/introspect`,
      SSE_SESSION_COOKIE: 'sessionid',
      // A logout must be seen within about a second: re-check sessions every second, cache answers half a second.
      SSE_REVALIDATE_MS: '1000',
      SSE_INTROSPECT_TTL_MS: '500',
      SSE_ALLOW: 'e2e.dash.public.>',
      SSE_ORIGINS: origin,
      SSE_NATS_URL: nats.url,
      SSE_JETSTREAM_STREAM: 'E2E',
      SSE_JETSTREAM_SUBJECTS: 'e2e.>',
      SSE_JETSTREAM_CREATE: 'true',
      SSE_HEARTBEAT_MS: '2000',
      // The browser waits this long before reconnecting: enough for the killed gateway to be back, since a 502 from
      // nginx in between would stop EventSource for good.
      SSE_RETRY_MS: '3000',
    }
    ;[gw, nc] = await Promise.all([startGateway(env, gwPort), connect({ servers: nats.url })])
    nginx = await startNginx({
      servers: `
  server {
    ${listen}
    location /events { proxy_pass http://127.0.0.1:${gwPort}; }
    location / { proxy_pass http://127.0.0.1:${dash.port}; }
  }`,
    }, [web])
  })

  afterAll(async () => {
    await browser?.close()
    await nginx?.stop()
    await gw?.stop()
    await nc?.close()
    await nats?.stop()
    await dash?.stop()
    if (certDir !== undefined) rmSync(certDir, { recursive: true, force: true })
  })

  it('runs the whole story: 401 before login, cookie login, in-order NATS events, kill -9 + restart without loss, logout', async () => {
    expect(gw.proc.output()).toContain('bus: jetstream')
    if (protocol === 'h2') {
      const probe = await browser.context.newPage()
      await probe.goto(`${origin}/dashboard.html?topic=e2e.dash.public.x`)
      expect(await probe.evaluate(() => (performance.getEntriesByType('navigation')[0] as PerformanceNavigationTiming).nextHopProtocol)).toBe('h2')
      await probe.close()
    }
    const js = nc.jetstream()
    const enc = new TextEncoder()
    let n = 0
    const publish = async (count: number): Promise<void> => {
      for (let i = 0; i < count; i++) { n++; await js.publish(`e2e.dash.user.alice.orders.${n % 3}`, enc.encode(JSON.stringify({ n }))) }
    }
    const page = await browser.context.newPage()
    const topic = 'e2e.dash.user.alice.>'

    // Without a session the gateway answers 401, and the browser's EventSource stops for good.
    await page.goto(`${origin}/dashboard.html?topic=${encodeURIComponent(topic)}`)
    await until('EventSource closed by the 401', async () => await readyState(page) === 2)
    expect((await dashOf(page)).opens).toBe(0)

    // The dashboard's own login sets its session cookie; the gateway reuses it (introspection).
    await page.goto(`${origin}/login?user=alice`)
    await page.goto(`${origin}/dashboard.html?topic=${encodeURIComponent(topic)}`)
    await until('stream open', async () => (await dashOf(page)).opens === 1)
    expect(dash.introspections()).toBeGreaterThan(0)
    // Two more tabs of the same browser use the gateway's client: one shared stream, the same cookie.
    const tabs: Page[] = []
    for (let i = 0; i < 2; i++) {
      const t = await browser.context.newPage()
      await t.goto(`${origin}/client.html?topic=${encodeURIComponent(topic)}`)
      tabs.push(t)
    }
    // And one tab on long-poll by itself: the same cursor, replay and logout semantics over GET /events/poll.
    const pollTab = await browser.context.newPage()
    await pollTab.goto(`${origin}/client.html?topic=${encodeURIComponent(topic)}&transport=poll&share=0`)
    tabs.push(pollTab)
    const clientLog = async (p: Page): Promise<PageLog> => await p.evaluate(() => (window as unknown as { __log: PageLog }).__log)
    const clientNs = (l: PageLog): number[] => l.events.map(e => (e.data as { n: number }).n)
    await until('client tabs open', async () => (await Promise.all(tabs.map(clientLog))).every(l => l.statuses.some(s => s.state === 'open')))
    expect((await clientLog(pollTab)).statuses.find(s => s.state === 'open')?.transport).toBe('poll')

    await publish(20)
    await until('20 events', async () => (await dashOf(page)).messages.length >= 20)
    expect(ns(await dashOf(page))).toEqual(range(1, 20))

    // kill -9 the gateway; events keep being published to JetStream while it is gone; it comes back on the same port.
    await gw.kill()
    await publish(10)
    gw = await startGateway(env, gwPort)
    await publish(10)
    await until('40 events after the restart', async () => (await dashOf(page)).messages.length >= 40, 20_000)
    await sleep(500)
    const after = await dashOf(page)
    expect(ns(after)).toEqual(range(1, 40))
    expect(after.resets).toEqual([])
    expect(after.opens).toBe(2)
    // JetStream ids are the stream sequence: identical before and after the restart, strictly increasing.
    const seqs = after.messages.map(m => Number(m.id.split('.').at(-1)))
    expect(seqs.every((s, i) => i === 0 || s > seqs[i - 1])).toBe(true)
    await until('40 events in the client tabs', async () => (await Promise.all(tabs.map(clientLog))).every(l => l.events.length >= 40), 10_000)
    for (const t of tabs) {
      const l = await clientLog(t)
      expect(clientNs(l)).toEqual(range(1, 40))
      expect(l.resets).toEqual([])
    }
    console.log(`[e2e] dashboard (${protocol}): 40 NATS events in order across a gateway kill -9 + restart (browser reconnect with Last-Event-ID, 0 lost, 0 duplicated)`)

    // Logout: the dashboard forgets the session; the gateway notices at its next re-validation, sends `unauthorized`
    // and closes; the browser's reconnect gets 401 and EventSource stops.
    const t0 = Date.now()
    await page.evaluate(async () => { await fetch('/logout') })
    await until('stream ended by logout', async () => (await dashOf(page)).unauthorized === 1 && await readyState(page) === 2, 15_000)
    console.log(`[e2e] (${protocol}) logout → unauthorized event and EventSource closed after ${Date.now() - t0} ms (SSE_REVALIDATE_MS=1000)`)
    // Every client tab hears it once (the leader relays it) and closes its subscription.
    await until('client tabs told', async () => (await Promise.all(tabs.map(clientLog))).every(l => l.unauthorized === 1 && l.statuses.at(-1)?.state === 'closed'), 15_000)
    await publish(3)
    await sleep(1000)
    expect(ns(await dashOf(page))).toEqual(range(1, 40))
    for (const t of tabs) expect(clientNs(await clientLog(t))).toEqual(range(1, 40))
    for (const t of tabs) await t.close()
    await page.close()
  }, 90_000)
})
