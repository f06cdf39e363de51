/**
 * RELIABILITY.md #23: NATS unreachable at start. The gateway starts anyway, /readyz is 503 and /events answers
 * retry-later (200 + `unavailable`), and once NATS appears it becomes ready and relays events.
 * Uses a real nats-server (test/helpers/nats-server.ts): skipped loudly without one, a failure under CI=true.
 */
import { afterAll, describe, expect, it } from 'vitest'
import { NatsCoreBus } from '../src/bus/nats.js'
import { NatsServer, natsAvailable } from './helpers/nats-server.js'
import { quietLogger, waitUntil } from './helpers/wait.js'
import { rawGet, recordingClient, startGateway, type TestGateway } from './helpers/gateway.js'

describe.skipIf(!natsAvailable())('NATS unreachable at start-up', () => {
  let server: NatsServer | undefined
  let gw: TestGateway | undefined
  afterAll(async () => {
    await gw?.close()
    await server?.dispose()
  })

  it('starts, reports not ready, refuses streams with retry-later, then serves once NATS appears', async () => {
    server = await NatsServer.start({ jetstream: false })
    await server.stop() // ports known, nothing listening
    const bus = new NatsCoreBus({
      servers: [server.url],
      startWaitMs: 200,
      reconnectTimeWaitMs: 100,
      reconnectJitterMs: 50,
      logger: quietLogger()
    })
    const started = Date.now()
    gw = await startGateway({ bus })
    expect(Date.now() - started).toBeLessThan(5000)
    expect((await fetch(`${gw.url}/healthz`)).status).toBe(200)
    const ready = await fetch(`${gw.url}/readyz`)
    expect(ready.status).toBe(503)
    expect(await ready.json()).toMatchObject({ error: { code: 'SSE_ERR_BUS_UNAVAILABLE' }, bus: { kind: 'nats', ready: false } })
    const raw = await rawGet(gw.url, '/events?topic=orders.x')
    expect(raw).toMatch(/^HTTP\/1.1 200/)
    expect(raw).toContain('event: unavailable')
    expect(raw).toContain('SSE_ERR_BUS_UNAVAILABLE')
    const metrics = await (await fetch(`${gw.url}/metrics`)).text()
    expect(metrics).toMatch(/^sse_bus_ready 0$/m)

    await server.restart()
    await waitUntil(async () => (await fetch(`${gw!.url}/readyz`)).status === 200, 15_000, '/readyz 200 after NATS appears')
    const c = recordingClient(`${gw.url}/events?topic=orders.x`)
    try {
      await c.until(() => c.opens.length > 0 && gw!.app.sseGateway.size === 1, 10_000)
      expect((await gw.publish('orders.x', { n: 1 })).status).toBe(200)
      await c.until(() => c.data().length === 1, 10_000)
      expect(JSON.parse(c.data()[0])).toEqual({ n: 1 })
    } finally {
      c.close()
    }
    expect(await (await fetch(`${gw.url}/metrics`)).text()).toMatch(/^sse_bus_ready 1$/m)
  })

  it('exports the NATS connection state and counts a disconnect and a reconnect across a server restart', async () => {
    const metric = async (line: string): Promise<number> => {
      const text = await (await fetch(`${gw!.url}/metrics`)).text()
      const found = text.split('\n').find(l => l.startsWith(line + ' '))
      return found === undefined ? NaN : Number(found.slice(line.length + 1))
    }
    expect(await metric('sse_bus_state{kind="nats",state="connected"}')).toBe(1)
    const before = await metric('sse_bus_reconnects_total')
    await server!.restart()
    await waitUntil(async () => await metric('sse_bus_reconnects_total') > before, 15_000, 'a counted reconnect')
    expect(await metric('sse_bus_disconnects_total')).toBeGreaterThanOrEqual(1)
    expect(await metric('sse_bus_state{kind="nats",state="connected"}')).toBe(1)
    expect((await fetch(`${gw!.url}/readyz`)).status).toBe(200)
  })
})
