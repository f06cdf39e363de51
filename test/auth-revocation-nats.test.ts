/**
 * Revocation push across instances: two gateways on one real nats-server; one message on the control subject
 * (published by a plain NATS client, as a dashboard would) ends the user's streams on both at once.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import Fastify, { type FastifyInstance } from 'fastify'
import { connect, type NatsConnection } from 'nats'
import { Signer } from '@fastify/cookie'
import { sseGatewayPlugin } from '../plugins/gateway.js'
import { NatsCoreBus } from '../src/bus/nats.js'
import { JetStreamBus } from '../src/bus/jetstream.js'
import { authConfigFromEnv, createAuthFromConfig } from '../src/auth/index.js'
import { NatsServer, natsAvailable } from './helpers/nats-server.js'
import { quietLogger } from './helpers/wait.js'
import { openRaw, type RawStream } from './helpers/stream.js'

const enabled = natsAvailable()

/**
 * Starts a server and connects to it, once more if the connection is refused: with many suites starting servers on
 * free ports at once, the monitor port polled for readiness can briefly belong to another test's server.
 */
async function startAndConnect (jetstream: boolean): Promise<{ server: NatsServer, nc: NatsConnection }> {
  for (let attempt = 1; ; attempt++) {
    const server = await NatsServer.start({ jetstream })
    try {
      return { server, nc: await connect({ servers: [server.url] }) }
    } catch (err) {
      await server.dispose()
      if (attempt >= 3) throw err
    }
  }
}
const SECRET = 'revocation-test-secret-0123456789abcdef'

describe.skipIf(!enabled)('revocation over the NATS control subject', () => {
  let server: NatsServer
  let nc: NatsConnection
  const cleanups: Array<() => unknown> = []
  beforeAll(async () => {
    ;({ server, nc } = await startAndConnect(false))
  })
  afterAll(async () => { await nc?.close(); await server?.dispose() })
  afterEach(async () => { for (const c of cleanups.splice(0).reverse()) await c() })

  async function instance (): Promise<{ app: FastifyInstance, url: string }> {
    const bus = new NatsCoreBus({ servers: [server.url], logger: quietLogger() })
    const auth = createAuthFromConfig(authConfigFromEnv({
      SSE_AUTH: 'signed-cookie', SSE_COOKIE_SECRET: SECRET, SSE_ALLOW: 'dashboard.user.{user}.>', SSE_REVALIDATE_MS: '60000',
    }))
    const app = Fastify({ logger: false })
    await app.register(sseGatewayPlugin, { bus, auth, retryMs: 50 })
    const url = await app.listen({ host: '127.0.0.1', port: 0 })
    cleanups.push(async () => { await app.close(); await bus.close() })
    return { app, url }
  }

  const cookie = (user: string): string =>
    'sse_session=' + encodeURIComponent(new Signer(SECRET).sign(Buffer.from(JSON.stringify({ user, exp: Date.now() / 1000 + 3600 })).toString('base64url')))

  function stream (url: string, user: string): RawStream {
    const s = openRaw(url, `/events?topic=dashboard.user.${user}.x`, { cookie: cookie(user) })
    cleanups.push(() => s.close())
    return s
  }

  it('one message closes the user\'s streams on every instance, and nobody else\'s', async () => {
    const [g1, g2] = await Promise.all([instance(), instance()])
    const a1 = stream(g1.url, 'alice')
    const a2 = stream(g2.url, 'alice')
    const b2 = stream(g2.url, 'bob')
    await Promise.all([a1, a2, b2].map(async (s) => await s.until((t) => t.includes('\r\n\r\nretry:'))))
    // Each instance subscribed to the control subject on the server before this message goes out.
    await nc.flush()
    const t0 = Date.now()
    nc.publish('sse.control', JSON.stringify({ user: 'alice' }))
    const [e1, e2] = await Promise.all([a1.ended(3000), a2.ended(3000)])
    expect(Math.max(e1, e2) - t0).toBeLessThan(1000)
    expect(a1.text()).toContain('event: unauthorized')
    expect(a2.text()).toContain('event: unauthorized')
    nc.publish('dashboard.user.bob.x', 'bob stays')
    await b2.until((t) => t.includes('data: bob stays'))
    expect(g1.app.sseSessionGuard.stats.closedRevoked + g2.app.sseSessionGuard.stats.closedRevoked).toBe(2)
  })

  it('ignores malformed control messages', async () => {
    const g = await instance()
    const a = stream(g.url, 'alice')
    await a.until((t) => t.includes('\r\n\r\nretry:'))
    await nc.flush()
    for (const m of ['not json', '{}', '{"user":{"$ne":1}}', '[1]', 'x'.repeat(10_000)]) nc.publish('sse.control', m)
    nc.publish('dashboard.user.alice.x', 'alive')
    await a.until((t) => t.includes('data: alive'))
    expect(a.text()).not.toContain('event: unauthorized')
  })
})

describe.skipIf(!enabled)('revocation in JetStream mode (control subject in the stream)', () => {
  let server: NatsServer
  let nc: NatsConnection
  const cleanups: Array<() => unknown> = []
  beforeAll(async () => {
    ;({ server, nc } = await startAndConnect(true))
    const jsm = await nc.jetstreamManager()
    await jsm.streams.add({ name: 'REVOKE', subjects: ['dashboard.>', 'sse.control'] })
  })
  afterAll(async () => { await nc?.close(); await server?.dispose() })
  afterEach(async () => { for (const c of cleanups.splice(0).reverse()) await c() })

  it('a control message stored in the stream ends the user\'s streams on both instances', async () => {
    const instances = await Promise.all([0, 1].map(async () => {
      const bus = new JetStreamBus({ servers: [server.url], logger: quietLogger(), jetstream: { stream: 'REVOKE', heartbeatMs: 1000 } })
      const auth = createAuthFromConfig(authConfigFromEnv({
        SSE_AUTH: 'signed-cookie', SSE_COOKIE_SECRET: SECRET, SSE_ALLOW: 'dashboard.user.{user}.>', SSE_REVALIDATE_MS: '60000',
      }))
      const app = Fastify({ logger: false })
      await app.register(sseGatewayPlugin, { bus, auth, retryMs: 50 })
      const url = await app.listen({ host: '127.0.0.1', port: 0 })
      cleanups.push(async () => { await app.close(); await bus.close() })
      return url
    }))
    const cookie = 'sse_session=' + encodeURIComponent(new Signer(SECRET).sign(Buffer.from(JSON.stringify({ user: 'alice', exp: Date.now() / 1000 + 3600 })).toString('base64url')))
    const streams = instances.map((url) => {
      const s = openRaw(url, '/events?topic=dashboard.user.alice.x', { cookie })
      cleanups.push(() => s.close())
      return s
    })
    await Promise.all(streams.map(async (s) => await s.until((t) => t.includes('\r\n\r\nretry:'))))
    const js = nc.jetstream()
    // Live delivery works first (so the consumers are up), then the revocation.
    await js.publish('dashboard.user.alice.x', new TextEncoder().encode('hello'))
    await Promise.all(streams.map(async (s) => await s.until((t) => t.includes('data: hello'))))
    await js.publish('sse.control', new TextEncoder().encode(JSON.stringify({ user: 'alice' })))
    await Promise.all(streams.map(async (s) => await s.ended(3000)))
    for (const s of streams) expect(s.text()).toContain('event: unauthorized')
  })
})
