/** Issue 7 settings: the new SSE_* variables, their defaults, and the combinations refused at start-up. */
import { describe, expect, it } from 'vitest'
import { configFromEnv, DEFAULT_DRAIN_MS, DEFAULT_HEADERS_TIMEOUT_MS, DEFAULT_MAX_HEADER_BYTES, DEFAULT_REQUEST_TIMEOUT_MS, DEFAULT_SHUTDOWN_TIMEOUT_MS } from '../src/config.js'
import { DEFAULT_CLOSE_GRACE_MS, DEFAULT_MAX_PUBLISH_IN_FLIGHT } from '../src/options.js'
import { buildServer } from '../bin/sse-gateway.js'

describe('operations settings', () => {
  it('has the documented defaults', () => {
    const c = configFromEnv({})
    expect(c.server).toEqual({
      drainMs: DEFAULT_DRAIN_MS,
      shutdownTimeoutMs: DEFAULT_SHUTDOWN_TIMEOUT_MS,
      maxHeaderBytes: DEFAULT_MAX_HEADER_BYTES,
      headersTimeoutMs: DEFAULT_HEADERS_TIMEOUT_MS,
      requestTimeoutMs: DEFAULT_REQUEST_TIMEOUT_MS,
      metrics: true
    })
    expect([DEFAULT_DRAIN_MS, DEFAULT_SHUTDOWN_TIMEOUT_MS, DEFAULT_MAX_HEADER_BYTES, DEFAULT_HEADERS_TIMEOUT_MS, DEFAULT_REQUEST_TIMEOUT_MS])
      .toEqual([10_000, 30_000, 16_384, 10_000, 30_000])
    expect(c.options.maxPublishInFlight).toBe(DEFAULT_MAX_PUBLISH_IN_FLIGHT)
    expect(c.options.closeGraceMs).toBe(DEFAULT_CLOSE_GRACE_MS)
  })

  it('reads every variable', () => {
    const c = configFromEnv({
      SSE_DRAIN_MS: '2000', SSE_SHUTDOWN_TIMEOUT_MS: '9000', SSE_MAX_HEADER_BYTES: '8192', SSE_HEADERS_TIMEOUT_MS: '3000',
      SSE_REQUEST_TIMEOUT_MS: '0', SSE_METRICS: 'off', SSE_MAX_PUBLISH_IN_FLIGHT: '10', SSE_CLOSE_GRACE_MS: '250'
    })
    expect(c.server).toEqual({ drainMs: 2000, shutdownTimeoutMs: 9000, maxHeaderBytes: 8192, headersTimeoutMs: 3000, requestTimeoutMs: 0, metrics: false })
    expect(c.options.maxPublishInFlight).toBe(10)
    expect(c.options.closeGraceMs).toBe(250)
  })

  const bad: Array<[Record<string, string>, string]> = [
    [{ SSE_DRAIN_MS: '30000' }, 'SSE_SHUTDOWN_TIMEOUT_MS'],
    [{ SSE_DRAIN_MS: 'soon' }, 'SSE_DRAIN_MS'],
    [{ SSE_SHUTDOWN_TIMEOUT_MS: '50' }, 'SSE_SHUTDOWN_TIMEOUT_MS'],
    [{ SSE_HEADERS_TIMEOUT_MS: '40000' }, 'SSE_HEADERS_TIMEOUT_MS'],
    [{ SSE_MAX_HEADER_BYTES: '10' }, 'SSE_MAX_HEADER_BYTES'],
    [{ SSE_METRICS: 'maybe' }, 'SSE_METRICS'],
    [{ SSE_MAX_PUBLISH_IN_FLIGHT: '0' }, 'SSE_MAX_PUBLISH_IN_FLIGHT'],
    [{ SSE_CLOSE_GRACE_MS: '-1' }, 'SSE_CLOSE_GRACE_MS']
  ]
  for (const [env, name] of bad) {
    it(`refuses ${JSON.stringify(env)} naming ${name}`, () => {
      expect(() => configFromEnv(env)).toThrow(expect.objectContaining({ code: 'SSE_ERR_CONFIG', message: expect.stringContaining(name) }))
    })
  }

  it('SSE_METRICS=0 removes /metrics; probes stay', async () => {
    const app = await buildServer(configFromEnv({ SSE_METRICS: '0', SSE_LOG_LEVEL: 'silent' }))
    try {
      expect((await app.inject({ url: '/metrics' })).statusCode).toBe(404)
      expect((await app.inject({ url: '/healthz' })).statusCode).toBe(200)
      expect((await app.inject({ url: '/readyz' })).statusCode).toBe(200)
    } finally {
      await app.close()
    }
  })
})
