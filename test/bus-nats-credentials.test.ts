/**
 * The NATS credentials options against real servers that require them: user/password and token, from the same
 * environment variables the standalone server reads.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { busConfigFromEnv, createBus } from '../src/bus/config.js'
import type { Bus, BusEvent } from '../src/bus/types.js'
import { NatsServer, natsAvailable } from './helpers/nats-server.js'
import { quietLogger, waitUntil } from './helpers/wait.js'

const enabled = natsAvailable()

describe.skipIf(!enabled)('NATS credentials', () => {
  let withUser: NatsServer
  let withToken: NatsServer
  const buses: Bus[] = []
  beforeAll(async () => {
    withUser = await NatsServer.start({ jetstream: false, args: ['--user', 'gateway', '--pass', 'pass-word-0123456789'] })
    withToken = await NatsServer.start({ jetstream: false, args: ['--auth', 'token-0123456789abcdef'] })
  })
  afterAll(async () => {
    await Promise.all(buses.map(b => b.close()))
    await withUser?.dispose()
    await withToken?.dispose()
  })

  async function relays (env: Record<string, string>): Promise<Bus> {
    const cfg = busConfigFromEnv(env)!
    const bus = createBus({ nats: cfg, logger: quietLogger(), history: { maxEvents: 100, maxBytes: 1 << 20 } })
    buses.push(bus)
    const got: BusEvent[] = []
    await bus.start({ onEvent: e => got.push(e) })
    return Object.assign(bus, { got })
  }

  it('connects with SSE_NATS_USER / SSE_NATS_PASSWORD and relays', async () => {
    const bus = await relays({ SSE_NATS_URL: withUser.url, SSE_NATS_USER: 'gateway', SSE_NATS_PASSWORD: 'pass-word-0123456789' }) as Bus & { got: BusEvent[] }
    expect(bus.health().ready).toBe(true)
    bus.addInterest('cred.a')
    await (bus as Bus & { flush?: () => Promise<void> }).flush?.()
    await bus.publish({ subject: 'cred.a', data: 'hello' })
    await waitUntil(() => bus.got.length === 1, 5000, 'event through an authenticated connection')
    expect(bus.got[0].data).toBe('hello')
  })

  it('connects with SSE_NATS_TOKEN and relays', async () => {
    const bus = await relays({ SSE_NATS_URL: withToken.url, SSE_NATS_TOKEN: 'token-0123456789abcdef' }) as Bus & { got: BusEvent[] }
    expect(bus.health().ready).toBe(true)
    bus.addInterest('cred.b')
    await (bus as Bus & { flush?: () => Promise<void> }).flush?.()
    await bus.publish({ subject: 'cred.b', data: 'x' })
    await waitUntil(() => bus.got.length === 1, 5000, 'event through a token connection')
  })

  it('is never ready with a wrong password', async () => {
    const cfg = busConfigFromEnv({ SSE_NATS_URL: withUser.url, SSE_NATS_USER: 'gateway', SSE_NATS_PASSWORD: 'wrong-password-000' })!
    const bus = createBus({ nats: { ...cfg, startWaitMs: 500 }, logger: quietLogger(), history: { maxEvents: 10, maxBytes: 1 << 20 } })
    buses.push(bus)
    await bus.start({ onEvent () {} }).catch(() => {})
    await new Promise(resolve => setTimeout(resolve, 300))
    expect(bus.health().ready).toBe(false)
  })
})
