/**
 * The browser client in real Chromium behind real nginx: one shared stream for several tabs with leader hand-over and
 * no loss, and the long-poll fallback behind a buffering proxy (including `reset` after a gateway restart).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { Page } from 'playwright-core'
import {
  CHROMIUM, NGINX, freePort, launchChromium, startDashboard, startGateway, startNginx, stats, until,
  type Dashboard, type Gateway, type Nginx,
} from './e2e/harness.js'
import { CLIENT_PAGE, type PageLog } from './e2e/pages.js'

const log = async (page: Page): Promise<PageLog> => await page.evaluate(() => (window as unknown as { __log: PageLog }).__log)
const dataOf = (l: PageLog): unknown[] => l.events.map(e => (e.data as { n: number }).n)
const range = (a: number, b: number): number[] => Array.from({ length: b - a + 1 }, (_, i) => a + i)

describe.skipIf(NGINX === undefined || CHROMIUM === undefined)('e2e: browser client in Chromium behind nginx', () => {
  let gw: Gateway
  let nginx: Nginx
  let dash: Dashboard
  let browser: Awaited<ReturnType<typeof launchChromium>>
  let plain: number
  let buffering: number
  let gwPort: number

  beforeAll(async () => {
    gwPort = await freePort()
    ;[gw, dash, browser] = await Promise.all([
      startGateway({ SSE_HEARTBEAT_MS: '2000', SSE_RETRY_MS: '500', SSE_AUTH: 'none' }, gwPort),
      startDashboard({ '/client.html': CLIENT_PAGE }),
      launchChromium(),
    ])
    ;[plain, buffering] = await Promise.all([freePort(), freePort()])
    nginx = await startNginx({
      servers: `
  server {
    listen 127.0.0.1:${plain};
    location /events { proxy_pass http://127.0.0.1:${gwPort}; }
    location / { proxy_pass http://127.0.0.1:${dash.port}; }
  }
  server {
    listen 127.0.0.1:${buffering};
    location /events {
      proxy_pass http://127.0.0.1:${gwPort};
      proxy_buffering on;
      proxy_ignore_headers X-Accel-Buffering;
    }
    location / { proxy_pass http://127.0.0.1:${dash.port}; }
  }`,
    }, [plain, buffering])
  })

  afterAll(async () => {
    await browser?.close()
    await nginx?.stop()
    await gw?.stop()
    await dash?.stop()
  })

  it('shares one stream among four tabs; closing leaders hands over without loss or duplicates', async () => {
    const ctx = browser.context
    const url = `http://127.0.0.1:${plain}/client.html?topic=e2e.tabs.>`
    const pages: Page[] = []
    for (let i = 0; i < 4; i++) {
      const p = await ctx.newPage()
      await p.goto(url)
      pages.push(p)
    }
    const roles = async (): Promise<string[]> => await Promise.all(pages.map(async p => await p.evaluate(() => (window as any).__sub.role)))
    // Every tab sees the stream open (followers learn it from the leader).
    await until('all tabs open', async () => (await Promise.all(pages.map(log))).every(l => l.statuses.some(s => s.state === 'open')))
    expect((await roles()).sort()).toEqual(['follower', 'follower', 'follower', 'leader'])

    let n = 0
    const publishBatch = async (count: number): Promise<void> => {
      for (let i = 0; i < count; i++) { n++; await gw.publish(`e2e.tabs.${n % 3}`, { n }) }
    }
    await publishBatch(10)
    await until('10 events in every tab', async () => (await Promise.all(pages.map(log))).every(l => l.events.length >= 10))
    for (const p of pages) {
      const l = await log(p)
      expect(dataOf(l)).toEqual(range(1, 10))
      expect(l.events.every(e => typeof e.subject === 'string' && e.subject.startsWith('e2e.tabs.'))).toBe(true)
    }

    // Close the leader, and publish at once: some events land while no tab holds the stream.
    for (let round = 0; round < 2; round++) {
      const r = await roles()
      const leader = pages.splice(r.indexOf('leader'), 1)[0]
      await leader.close()
      await publishBatch(10)
      await until(`a new leader (round ${round})`, async () => (await roles()).filter(x => x === 'leader').length === 1)
      await until(`${n} events in the remaining tabs`, async () => (await Promise.all(pages.map(log))).every(l => l.events.length >= n))
      for (const p of pages) expect(dataOf(await log(p))).toEqual(range(1, n))
    }
    // Latency seen by a follower tab (publish → leader → BroadcastChannel → follower).
    const t0 = Date.now()
    await publishBatch(1)
    await until('one more in every tab', async () => (await Promise.all(pages.map(log))).every(l => l.events.length === n))
    const follower = pages[(await roles()).indexOf('follower')]
    const last = (await log(follower)).events.at(-1)!
    console.log(`[e2e] cross-tab: 4 tabs, 2 leader hand-overs, ${n} events, every tab got exactly 1..${n}; follower delay ${last.at - t0} ms`)
    for (const p of pages) expect(dataOf(await log(p))).toEqual(range(1, n))
    for (const p of pages) await p.close()
    // Three leaders in total, each holding one stream: four tabs never opened four streams. (Closing the last tabs one
    // by one may hand over once more, from the final id: that stream is opened during tear-down and not counted.)
    const streams = (): string[] => nginx.accessLog().split('\n')
      .filter(l => l.includes('GET /events?topic=e2e.tabs') && !new RegExp(`lastEventId=[^ &]+\\.${n} `).test(l))
    await until('nginx logged the three streams', () => streams().length >= 3, 5000)
    await new Promise(resolve => setTimeout(resolve, 300))
    expect(streams(), nginx.accessLog()).toHaveLength(3)
    // The hand-overs resumed from a cursor.
    expect(streams().filter(l => l.includes('lastEventId=')).length).toBe(2)
  }, 60_000)

  it('falls back to long-poll behind a buffering proxy, and delivers in order', async () => {
    const page = await browser.context.newPage()
    await page.goto(`http://127.0.0.1:${buffering}/client.html?topic=e2e.poll&probeMs=1500`)
    await until('poll transport open', async () => (await log(page)).statuses.some(s => s.transport === 'poll' && s.state === 'open'), 10_000)
    const l0 = await log(page)
    expect(l0.statuses.find(s => s.transport === 'poll')?.reason).toBe('probe')
    const sent: number[] = []
    for (let i = 1; i <= 10; i++) {
      sent.push(Date.now())
      await gw.publish('e2e.poll', { n: i })
      await until(`poll event ${i}`, async () => (await log(page)).events.length >= i, 10_000)
    }
    const l = await log(page)
    expect(dataOf(l)).toEqual(range(1, 10))
    expect(l.events[0]).toMatchObject({ subject: 'e2e.poll', data: { n: 1 } })
    expect(l.events[0].event).toBeUndefined()
    const st = stats(l.events.map((e, i) => e.at - sent[i]))
    console.log(`[e2e] long-poll through buffering nginx: publish → page delay ms ${JSON.stringify(st)}`)
    expect(st.max).toBeLessThan(1000)
    await gw.publish('e2e.poll', 'plain text', 'created')
    await until('named event over long-poll', async () => (await log(page)).events.length === 11)
    expect((await log(page)).events[10]).toMatchObject({ subject: 'e2e.poll', event: 'created', data: 'plain text' })
    await page.close()
  }, 30_000)

  it('the demo page at / shows published events through the client', async () => {
    const page = await browser.context.newPage()
    await page.goto(`${gw.url}/?topic=e2e.demo.>`)
    await until('demo connected', async () => (await page.textContent('#log'))?.includes('open (sse, leader)') === true)
    await gw.publish('e2e.demo.hello', { msg: 'hi' })
    await until('demo shows the event', async () => (await page.textContent('#log'))?.includes('e2e.demo.hello  {"msg":"hi"}') === true)
    await page.close()
  })

  it('on SSE: recovers by itself after the browser gave up on a 502, and maps the reset to onReset', async () => {
    const page = await browser.context.newPage()
    await page.goto(`http://127.0.0.1:${plain}/client.html?topic=e2e.sse-reset&event=created`)
    await until('sse open', async () => (await log(page)).statuses.some(s => s.transport === 'sse' && s.state === 'open'))
    await gw.publish('e2e.sse-reset', { n: 1 })
    await until('first event', async () => (await log(page)).events.length === 1)
    // Down for longer than the 500 ms retry: the browser's reconnect gets nginx's 502 and EventSource stops for good.
    await gw.kill()
    await until('nginx answered 502', () => nginx.accessLog().split('\n').some(l => l.includes('/events?topic=e2e.sse-reset') && l.includes('" 502 ')), 10_000)
    await new Promise(resolve => setTimeout(resolve, 500))
    gw = await startGateway({ SSE_HEARTBEAT_MS: '2000', SSE_RETRY_MS: '500', SSE_AUTH: 'none' }, gwPort)
    // The client reopens from its last id; the new embedded bus has a new epoch, so the gateway says reset.
    await until('reset after restart', async () => (await log(page)).resets.length === 1, 15_000)
    const l = await log(page)
    expect(l.resets[0].reason).toBe('epoch')
    expect(l.statuses.some(s => s.state === 'reconnecting')).toBe(true)
    await gw.publish('e2e.sse-reset', { n: 2 })
    await until('event after reset', async () => (await log(page)).events.length === 2, 10_000)
    expect(dataOf(await log(page))).toEqual([1, 2])
    // A named event with a text payload: same shape as over long-poll (below).
    await gw.publish('e2e.sse-reset', 'plain text', 'created')
    await until('named event', async () => (await log(page)).events.length === 3)
    expect((await log(page)).events[2]).toMatchObject({ subject: 'e2e.sse-reset', event: 'created', data: 'plain text' })
    // A publisher cannot name its events like the gateway's control events (the gateway refuses them), so the page
    // never mistakes one for a reset or a logout.
    await expect(gw.publish('e2e.sse-reset', { x: 1 }, 'unauthorized')).rejects.toThrow(/→ 400/)
    await expect(gw.publish('e2e.sse-reset', { x: 2 }, 'reset')).rejects.toThrow(/→ 400/)
    await gw.publish('e2e.sse-reset', { n: 3 })
    await until('event after the look-alikes', async () => (await log(page)).events.length === 4)
    const after = await log(page)
    expect(after.unauthorized).toBe(0)
    expect(after.resets).toHaveLength(1)
    expect(after.statuses.at(-1)?.state).toBe('open')
    expect((await log(page)).statuses.at(-1)?.transport).toBe('sse')
    await page.close()
  }, 40_000)

  it('uses long-poll at once without EventSource, and maps a reset (gateway restarted) to onReset', async () => {
    const page = await browser.context.newPage()
    await page.goto(`http://127.0.0.1:${plain}/client.html?topic=e2e.noes&noes=1`)
    await until('poll open', async () => (await log(page)).statuses.some(s => s.transport === 'poll' && s.state === 'open'))
    expect((await log(page)).statuses.find(s => s.transport === 'poll')?.reason).toBe('no-eventsource')
    await gw.publish('e2e.noes', { n: 1 })
    await until('first event', async () => (await log(page)).events.length === 1)
    // A restart of the embedded bus starts a new epoch: the page's cursor cannot be honoured → reset, then live.
    await gw.kill()
    gw = await startGateway({ SSE_HEARTBEAT_MS: '2000', SSE_RETRY_MS: '500', SSE_AUTH: 'none' }, gwPort)
    await until('reset after restart', async () => (await log(page)).resets.length === 1, 15_000)
    expect((await log(page)).resets[0].reason).toBe('epoch')
    await gw.publish('e2e.noes', { n: 2 })
    await until('event after reset', async () => (await log(page)).events.length === 2, 10_000)
    expect(dataOf(await log(page))).toEqual([1, 2])
    await page.close()
  }, 40_000)
})
