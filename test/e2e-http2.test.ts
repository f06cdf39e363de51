/**
 * HTTP/2 through nginx with TLS (a self-signed certificate made by the test): many streams from several tabs share one
 * connection, where HTTP/1.1 stops at 6 per origin (the control).
 */
import { rmSync } from 'node:fs'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { Page } from 'playwright-core'
import {
  CHROMIUM, NGINX, freePort, launchChromium, makeCertificate, startDashboard, startGateway, startNginx, tempDir, until,
  type Dashboard, type Gateway, type Nginx,
} from './e2e/harness.js'
import { CLIENT_PAGE, RAW_PAGE, type PageLog } from './e2e/pages.js'

interface Raw { open: number, messages: Array<{ i: number, data: string }> }
const raw = async (p: Page): Promise<Raw> => await p.evaluate(() => (window as unknown as { __raw: Raw }).__raw)

describe.skipIf(NGINX === undefined || CHROMIUM === undefined)('e2e: HTTP/2 with TLS through nginx', () => {
  let gw: Gateway
  let nginx: Nginx
  let dash: Dashboard
  let browser: Awaited<ReturnType<typeof launchChromium>>
  let tls: number
  let plain: number
  let certDir: string

  beforeAll(async () => {
    certDir = tempDir('cert')
    const cert = makeCertificate(certDir)
    ;[gw, dash, browser] = await Promise.all([
      startGateway({ SSE_HEARTBEAT_MS: '2000', SSE_AUTH: 'none' }),
      startDashboard({ '/raw.html': RAW_PAGE, '/client.html': CLIENT_PAGE }),
      // Trusts exactly this certificate (by its public key), so the page is a normal secure context.
      launchChromium([`--ignore-certificate-errors-spki-list=${cert.spki}`]),
    ])
    ;[tls, plain] = await Promise.all([freePort(), freePort()])
    nginx = await startNginx({
      servers: `
  server {
    listen 127.0.0.1:${tls} ssl http2;
    ssl_certificate ${cert.cert};
    ssl_certificate_key ${cert.key};
    location /events { proxy_pass http://127.0.0.1:${gw.port}; }
    location / { proxy_pass http://127.0.0.1:${dash.port}; }
  }
  server {
    listen 127.0.0.1:${plain};
    location /events { proxy_pass http://127.0.0.1:${gw.port}; }
    location / { proxy_pass http://127.0.0.1:${dash.port}; }
  }`,
    }, [tls, plain])
  })

  afterAll(async () => {
    await browser?.close()
    await nginx?.stop()
    await gw?.stop()
    await dash?.stop()
    if (certDir !== undefined) rmSync(certDir, { recursive: true, force: true })
  })

  it('carries 2 tabs × 8 streams over one HTTP/2 connection; every stream receives its events', async () => {
    const tabs: Page[] = []
    for (let t = 0; t < 2; t++) {
      const p = await browser.context.newPage()
      await p.goto(`https://localhost:${tls}/raw.html?topic=e2e.h2.t${t}&n=8`)
      tabs.push(p)
    }
    expect(await tabs[0].evaluate(() => (performance.getEntriesByType('navigation')[0] as PerformanceNavigationTiming).nextHopProtocol)).toBe('h2')
    await until('16 streams open', async () => (await Promise.all(tabs.map(raw))).every(r => r.open === 8), 10_000)
    for (let t = 0; t < 2; t++) for (let i = 0; i < 8; i++) await gw.publish(`e2e.h2.t${t}.${i}`, `t${t}-${i}`)
    await until('one event per stream', async () => (await Promise.all(tabs.map(raw))).every(r => r.messages.length === 8), 10_000)
    for (let t = 0; t < 2; t++) {
      const r = await raw(tabs[t])
      expect(r.messages.map(m => m.data).sort()).toEqual(Array.from({ length: 8 }, (_, i) => `t${t}-${i}`).sort())
    }
    for (const p of tabs) await p.close()
    const lines = (): string[] => nginx.accessLog().split('\n').filter(l => l.includes('GET /events?topic=e2e.h2'))
    await until('nginx logged the 16 streams', () => lines().length === 16, 5000)
    // log_format e2e: '$connection $connection_requests $server_protocol "$request" …'
    const connections = new Set(lines().map(l => l.split(' ')[0]))
    const protocols = new Set(lines().map(l => l.split(' ')[2]))
    console.log(`[e2e] HTTP/2: 16 streams from 2 tabs over ${connections.size} TLS connection(s), protocol ${[...protocols].join(',')}`)
    expect(protocols).toEqual(new Set(['HTTP/2.0']))
    expect(connections.size).toBe(1)
  }, 40_000)

  it('runs the browser client over HTTP/2: two tabs share one stream, events arrive in order', async () => {
    const log = async (p: Page): Promise<PageLog> => await p.evaluate(() => (window as unknown as { __log: PageLog }).__log)
    const tabs: Page[] = []
    for (let t = 0; t < 2; t++) {
      const p = await browser.context.newPage()
      await p.goto(`https://localhost:${tls}/client.html?topic=e2e.h2c.>`)
      tabs.push(p)
    }
    await until('both tabs open', async () => (await Promise.all(tabs.map(log))).every(l => l.statuses.some(s => s.state === 'open')))
    const roles = await Promise.all(tabs.map(async p => await p.evaluate(() => (window as any).__sub.role)))
    expect(roles.sort()).toEqual(['follower', 'leader'])
    for (let i = 1; i <= 20; i++) await gw.publish(`e2e.h2c.${i % 4}`, { n: i })
    await until('20 events in both tabs', async () => (await Promise.all(tabs.map(log))).every(l => l.events.length >= 20))
    for (const p of tabs) expect((await log(p)).events.map(e => (e.data as { n: number }).n)).toEqual(Array.from({ length: 20 }, (_, i) => i + 1))
    for (const p of tabs) await p.close()
  }, 30_000)

  it('control: over HTTP/1.1 the same page gets only 6 of 8 streams', async () => {
    const p = await browser.context.newPage()
    await p.goto(`http://127.0.0.1:${plain}/raw.html?topic=e2e.h1&n=8`)
    await until('6 streams open', async () => (await raw(p)).open >= 6, 10_000)
    await new Promise(resolve => setTimeout(resolve, 1500))
    expect((await raw(p)).open).toBe(6)
    await p.close()
  }, 20_000)
})
