import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { introspectAuthenticator, type IntrospectAuthenticate } from '../src/auth/introspect.js'
import { isGatewayError } from '../src/errors.js'
import { startDashboard, type Dashboard } from './helpers/dashboard.js'

let dash: Dashboard
const made: IntrospectAuthenticate[] = []
function make (opts: Partial<Parameters<typeof introspectAuthenticator>[0]> = {}): IntrospectAuthenticate {
  const a = introspectAuthenticator({ url: dash.url, sessionHashKey: 'test-key', ...opts })
  made.push(a)
  return a
}
const req = (cookies: Record<string, string>, header?: string): Parameters<IntrospectAuthenticate>[0] =>
  ({ cookies, headers: header === undefined ? {} : { cookie: header } })

beforeAll(async () => { dash = await startDashboard() })
afterAll(async () => { await Promise.all(made.map((a) => a.close())); await dash.close() })
afterEach(() => {
  dash.calls = 0
  dash.cookies = []
  dash.mode = 'ok'
  dash.delayMs = 0
  dash.sessions.clear()
})

async function code (p: Promise<unknown>): Promise<string> {
  try { await p; return 'resolved' } catch (err) { return isGatewayError(err) ? err.code : String(err) }
}

describe('introspect strategy against a real dashboard', () => {
  it('200 → principal; forwards only the configured cookie', async () => {
    dash.sessions.set('abc', { user: 'alice', subjects: ['dashboard.project.7.>'], expiresIn: 600 })
    const auth = make()
    const p = await auth(req({ sessionid: 'abc', csrftoken: 'SECRET-CSRF', other: 'x' }, 'sessionid=abc; csrftoken=SECRET-CSRF; other=x'))
    expect(p?.user).toBe('alice')
    expect(p?.subjects).toEqual(['dashboard.project.7.>'])
    expect(p?.session).toMatch(/^[0-9a-f]{32}$/)
    expect(p?.expiresAt).toBeGreaterThan(Date.now() + 590_000)
    expect(dash.cookies).toEqual(['sessionid=abc'])
  })

  it('forwards the raw header value, not the URI-decoded one', async () => {
    dash.sessions.set('a%3Db', { user: 'raw' })
    const auth = make()
    const p = await auth(req({ sessionid: 'a=b' }, 'sessionid=a%3Db; theme=dark'))
    expect(p?.user).toBe('raw')
    expect(dash.cookies).toEqual(['sessionid=a%3Db'])
  })

  it('no cookie → null without a dashboard call', async () => {
    const auth = make()
    expect(await auth(req({ csrftoken: 'x' }))).toBeNull()
    expect(dash.calls).toBe(0)
  })

  it('1,000 concurrent look-ups with one cookie → one dashboard request; then cached', async () => {
    dash.sessions.set('abc', { user: 'alice' })
    dash.delayMs = 50
    const auth = make()
    const results = await Promise.all(Array.from({ length: 1000 }, () => auth(req({ sessionid: 'abc' }))))
    expect(results.every((p) => p?.user === 'alice')).toBe(true)
    expect(dash.calls).toBe(1)
    await auth(req({ sessionid: 'abc' }))
    expect(dash.calls).toBe(1)
  })

  it('distinct cookies are distinct look-ups', async () => {
    dash.sessions.set('a', { user: 'alice' })
    dash.sessions.set('b', { user: 'bob' })
    const auth = make()
    const [a, b] = await Promise.all([auth(req({ sessionid: 'a' })), auth(req({ sessionid: 'b' }))])
    expect([a?.user, b?.user]).toEqual(['alice', 'bob'])
    expect(dash.calls).toBe(2)
  })

  it('401 is cached negatively for negativeTtlMs only', async () => {
    const auth = make({ negativeTtlMs: 150 })
    expect(await auth(req({ sessionid: 'nope' }))).toBeNull()
    expect(await auth(req({ sessionid: 'nope' }))).toBeNull()
    expect(dash.calls).toBe(1)
    dash.sessions.set('nope', { user: 'late' })
    await new Promise((resolve) => setTimeout(resolve, 200))
    expect((await auth(req({ sessionid: 'nope' })))?.user).toBe('late')
    expect(dash.calls).toBe(2)
  })

  it('positive answers expire after ttlMs (and never outlive expiresIn)', async () => {
    dash.sessions.set('abc', { user: 'alice' })
    dash.sessions.set('short', { user: 'bob', expiresIn: 0.1 })
    // Wide margins: this must hold on a loaded CI machine too.
    const long = make({ ttlMs: 5000 })
    await long(req({ sessionid: 'abc' }))
    await long(req({ sessionid: 'short' }))
    expect(dash.calls).toBe(2)
    await new Promise((resolve) => setTimeout(resolve, 200))
    await long(req({ sessionid: 'short' })) // expiresIn 100 ms < ttl: asked again
    await long(req({ sessionid: 'abc' })) // still cached
    expect(dash.calls).toBe(3)

    const brief = make({ ttlMs: 100 })
    await brief(req({ sessionid: 'abc' }))
    expect(dash.calls).toBe(4)
    dash.sessions.delete('abc')
    await new Promise((resolve) => setTimeout(resolve, 200))
    expect(await brief(req({ sessionid: 'abc' }))).toBeNull()
    expect(dash.calls).toBe(5)
  })

  it.each([
    ['fail', 'a 502'],
    ['garbage', 'a non-JSON body'],
    ['huge', 'a 1 MB body'],
    ['bad-shape', 'a body without a string user'],
  ] as const)('%s (%s) → SSE_ERR_AUTH_UNAVAILABLE, never cached', async (mode, _what) => {
    dash.sessions.set('abc', { user: 'alice' })
    dash.mode = mode
    const auth = make({ maxBodyBytes: 4096 })
    expect(await code(auth(req({ sessionid: 'abc' })))).toBe('SSE_ERR_AUTH_UNAVAILABLE')
    expect(await code(auth(req({ sessionid: 'abc' })))).toBe('SSE_ERR_AUTH_UNAVAILABLE')
    expect(dash.calls).toBe(2)
    dash.mode = 'ok'
    expect((await auth(req({ sessionid: 'abc' })))?.user).toBe('alice')
  })

  it('slow dashboard → unavailable within the timeout; concurrent callers share the failure', async () => {
    dash.sessions.set('abc', { user: 'alice' })
    dash.mode = 'slow'
    const auth = make({ timeoutMs: 200 })
    const t0 = Date.now()
    const codes = await Promise.all(Array.from({ length: 50 }, () => code(auth(req({ sessionid: 'abc' })))))
    const took = Date.now() - t0
    expect(new Set(codes)).toEqual(new Set(['SSE_ERR_AUTH_UNAVAILABLE']))
    expect(took).toBeLessThan(1500)
    expect(dash.calls).toBe(1)
  })

  it('dashboard down (connection refused) → unavailable', async () => {
    const auth = make({ url: 'http://127.0.0.1:1/auth/introspect', timeoutMs: 300 })
    expect(await code(auth(req({ sessionid: 'abc' })))).toBe('SSE_ERR_AUTH_UNAVAILABLE')
  })

  it('forget({ user }) drops cached answers so a revoked session is asked again', async () => {
    dash.sessions.set('abc', { user: 'alice' })
    const auth = make()
    await auth(req({ sessionid: 'abc' }))
    auth.forget({ user: 'alice' })
    dash.sessions.delete('abc')
    expect(await auth(req({ sessionid: 'abc' }))).toBeNull()
    expect(dash.calls).toBe(2)
  })

  it('the cache is bounded', async () => {
    for (let i = 0; i < 20; i++) dash.sessions.set('s' + i, { user: 'u' + i })
    const auth = make({ cacheMax: 5 })
    for (let i = 0; i < 20; i++) await auth(req({ sessionid: 's' + i }))
    expect(dash.calls).toBe(20)
    await auth(req({ sessionid: 's0' })) // evicted long ago
    await auth(req({ sessionid: 's19' })) // still cached
    expect(dash.calls).toBe(21)
  })

  it('callers get their own copy of the principal', async () => {
    dash.sessions.set('abc', { user: 'alice', subjects: ['a.b'] })
    const auth = make()
    const p1 = await auth(req({ sessionid: 'abc' }))
    p1!.subjects!.push('evil.>')
    p1!.user = 'mallory'
    const p2 = await auth(req({ sessionid: 'abc' }))
    expect(p2?.user).toBe('alice')
    expect(p2?.subjects).toEqual(['a.b'])
  })
})

describe('rawCookies', () => {
  it.each([
    ['sessionid=abc', { sessionid: 'abc' }],
    ['a=1; sessionid=a%3Db; c=3', { sessionid: 'a%3Db' }],
    ['sessionid=first; sessionid=second', { sessionid: 'first' }],
    ['sessionid="quoted"', { sessionid: '"quoted"' }],
    ['sessionid=has space', {}],
    ['sessionid=a\r\nx: y', {}],
    ['nosuch=1', {}],
  ])('%s', async (header, expected) => {
    const { rawCookies } = await import('../src/auth/introspect.js')
    expect(rawCookies(header, ['sessionid'])).toEqual(expected)
  })
})

describe('introspect metrics', () => {
  it('reports cache hits and misses, and each dashboard call with its outcome and latency', async () => {
    const { AuthTelemetry } = await import('../src/telemetry.js')
    const metrics = new AuthTelemetry()
    dash.sessions.set('m1', { user: 'alice' })
    const auth = make({ metrics })
    await auth(req({ sessionid: 'm1' }))
    await auth(req({ sessionid: 'm1' }))
    await auth(req({ sessionid: 'nobody' }))
    dash.mode = 'fail'
    expect(await code(auth(req({ sessionid: 'down' })))).toBe('SSE_ERR_AUTH_UNAVAILABLE')
    expect({ hits: metrics.cacheHits, misses: metrics.cacheMisses }).toEqual({ hits: 1, misses: 3 })
    expect(metrics.calls).toEqual({ ok: 1, denied: 1, unavailable: 1 })
    expect(metrics.latencyCount).toBe(3)
  })
})
