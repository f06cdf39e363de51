import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { busConfigFromEnv, createBus } from '../src/bus/config.js'
import { redactUrl } from '../src/bus/nats-common.js'
import { JetStreamBus } from '../src/bus/jetstream.js'
import { MemoryBus } from '../src/bus/memory.js'
import { NatsCoreBus } from '../src/bus/nats.js'
import { configFromEnv } from '../src/config.js'

const history = { maxEvents: 10, maxBytes: 1000 }

describe('busConfigFromEnv', () => {
  it('is undefined without SSE_NATS_URL (embedded bus)', () => {
    expect(busConfigFromEnv({})).toBeUndefined()
  })

  it('reads servers, credentials and JetStream settings', () => {
    const dir = mkdtempSync(join(tmpdir(), 'creds-'))
    const creds = join(dir, 'gw.creds')
    writeFileSync(creds, 'x')
    expect(busConfigFromEnv({
      SSE_NATS_URL: 'nats://a:4222, nats://b:4222,tls://c',
      SSE_NATS_CREDS: creds,
      SSE_NATS_NAME: 'gw-1',
      SSE_JETSTREAM_STREAM: 'EVENTS',
      SSE_JETSTREAM_SUBJECTS: 'events.>, alerts.*',
      SSE_JETSTREAM_CREATE: 'true',
      SSE_JETSTREAM_REPLICAS: '3',
      SSE_JETSTREAM_MAX_AGE_S: '3600'
    })).toEqual({
      servers: ['nats://a:4222', 'nats://b:4222', 'tls://c'],
      creds,
      name: 'gw-1',
      jetstream: { stream: 'EVENTS', subjects: ['events.>', 'alerts.*'], create: true, replicas: 3, maxAgeMs: 3_600_000 }
    })
    expect(busConfigFromEnv({ SSE_NATS_URL: 'localhost:4222', SSE_NATS_USER: 'u', SSE_NATS_PASSWORD: 'p w' }))
      .toEqual({ servers: ['localhost:4222'], user: 'u', pass: 'p w' })
    expect(busConfigFromEnv({ SSE_NATS_URL: 'nats://h', SSE_NATS_TOKEN: 's3cret' })).toEqual({ servers: ['nats://h'], token: 's3cret' })
  })

  const bad: Array<[Record<string, string>, string]> = [
    [{ SSE_NATS_URL: 'http://x y' }, 'SSE_NATS_URL'],
    [{ SSE_NATS_URL: ' , ' }, 'SSE_NATS_URL'],
    [{ SSE_NATS_URL: 'nats://h', SSE_NATS_CREDS: '/nonexistent/x.creds' }, 'SSE_NATS_CREDS'],
    [{ SSE_NATS_URL: 'nats://h', SSE_NATS_USER: 'u' }, 'SSE_NATS_USER'],
    [{ SSE_NATS_URL: 'nats://h', SSE_NATS_PASSWORD: 'p' }, 'SSE_NATS_PASSWORD'],
    [{ SSE_NATS_URL: 'nats://h', SSE_NATS_USER: 'u', SSE_NATS_PASSWORD: 'p', SSE_NATS_TOKEN: 't' }, 'SSE_NATS_TOKEN'],
    [{ SSE_NATS_TOKEN: 't' }, 'SSE_NATS_TOKEN'],
    [{ SSE_JETSTREAM_STREAM: 'S' }, 'SSE_JETSTREAM_STREAM'],
    [{ SSE_NATS_URL: 'nats://h', SSE_JETSTREAM_STREAM: 'a.b' }, 'SSE_JETSTREAM_STREAM'],
    [{ SSE_NATS_URL: 'nats://h', SSE_JETSTREAM_SUBJECTS: 'a.>' }, 'SSE_JETSTREAM_SUBJECTS'],
    [{ SSE_NATS_URL: 'nats://h', SSE_JETSTREAM_STREAM: 'S', SSE_JETSTREAM_CREATE: 'yes' }, 'SSE_JETSTREAM_SUBJECTS'],
    [{ SSE_NATS_URL: 'nats://h', SSE_JETSTREAM_STREAM: 'S', SSE_JETSTREAM_CREATE: 'maybe' }, 'SSE_JETSTREAM_CREATE'],
    [{ SSE_NATS_URL: 'nats://h', SSE_JETSTREAM_STREAM: 'S', SSE_JETSTREAM_SUBJECTS: 'a..b' }, 'SSE_JETSTREAM_SUBJECTS'],
    [{ SSE_NATS_URL: 'nats://h', SSE_JETSTREAM_STREAM: 'S', SSE_JETSTREAM_REPLICAS: '7' }, 'SSE_JETSTREAM_REPLICAS'],
    [{ SSE_NATS_URL: 'nats://h', SSE_NATS_PING_INTERVAL_MS: 'often' }, 'SSE_NATS_PING_INTERVAL_MS']
  ]
  for (const [env, name] of bad) {
    it(`rejects ${JSON.stringify(env)} naming ${name}`, () => {
      expect(() => busConfigFromEnv(env)).toThrow(expect.objectContaining({ code: 'SSE_ERR_CONFIG', message: expect.stringContaining(name) }))
    })
  }

  it('never echoes a secret in an error', () => {
    try { busConfigFromEnv({ SSE_NATS_URL: 'nats://user:hunter2@h x' }); expect.unreachable() } catch (err) {
      expect(String((err as Error).message)).not.toContain('hunter2')
    }
  })

  it('masks credentials in server URLs it logs', () => {
    expect(redactUrl('nats://gw:hunter2@n1:4222')).toBe('nats://***@n1:4222')
    expect(redactUrl('tok@n1:4222')).toBe('***@n1:4222')
    expect(redactUrl('nats://n1:4222')).toBe('nats://n1:4222')
  })

  it('is part of the standalone server configuration', () => {
    expect(configFromEnv({ SSE_NATS_URL: 'nats://h:4222' }).nats).toEqual({ servers: ['nats://h:4222'] })
    expect(configFromEnv({}).nats).toBeUndefined()
  })
})

describe('createBus', () => {
  it('prefers the caller’s instance, then NATS options, then memory', () => {
    const mine = new MemoryBus({ history })
    expect(createBus({ bus: mine, nats: { servers: ['nats://h'] }, history })).toBe(mine)
    expect(createBus({ nats: { servers: ['nats://h'] }, history })).toBeInstanceOf(NatsCoreBus)
    expect(createBus({ nats: { servers: ['nats://h'], jetstream: { stream: 'S' } }, history })).toBeInstanceOf(JetStreamBus)
    expect(createBus({ history })).toBeInstanceOf(MemoryBus)
  })
})
