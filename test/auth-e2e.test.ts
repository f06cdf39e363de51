/**
 * End to end over real sockets: the gateway with a real auth runtime in front of a real dashboard stand-in.
 */
import { readFileSync } from 'node:fs'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import Fastify, { type FastifyInstance } from 'fastify'
import { sseGatewayPlugin } from '../plugins/gateway.js'
import { authConfigFromEnv, createAuthFromConfig } from '../src/auth/index.js'
import { startDashboard, type Dashboard } from './helpers/dashboard.js'
import { openRaw, type RawStream } from './helpers/stream.js'

const TOKEN = 'test-publish-token-0123456789'
const ORIGIN = 'https://dash.example.com'
const cleanups: Array<() => unknown> = []
afterEach(async () => { for (const c of cleanups.splice(0).reverse()) await c() })

let dash: Dashboard
beforeAll(async () => { dash = await startDashboard() })
afterAll(async () => { await dash.close() })
afterEach(() => { dash.calls = 0; dash.cookies = []; dash.mode = 'ok'; dash.delayMs = 0; dash.sessions.clear() })

async function gateway (env: Record<string, string>, extra: Record<string, unknown> = {}): Promise<{ app: FastifyInstance, url: string }> {
  const auth = createAuthFromConfig(authConfigFromEnv({
    SSE_ALLOW: 'dashboard.user.{user}.>,dashboard.public.>',
    SSE_ORIGINS: ORIGIN,
    SSE_REVALIDATE_MS: '200',
    SSE_SESSION_HASH_KEY: 'shared-session-hash-key-0123',
    ...env,
  }))
  const app = Fastify({ logger: false })
  await app.register(sseGatewayPlugin, { publishToken: TOKEN, retryMs: 50, busyRetryMs: 1000, auth, ...extra })
  const url = await app.listen({ host: '127.0.0.1', port: 0 })
  cleanups.push(() => app.close())
  return { app, url }
}

const introspectEnv = (): Record<string, string> => ({
  SSE_AUTH: 'introspect', SSE_INTROSPECT_URL: dash.url, SSE_INTROSPECT_TTL_MS: '100', SSE_INTROSPECT_NEGATIVE_TTL_MS: '100',
})

function stream (url: string, path: string, headers: Record<string, string> = {}): RawStream {
  const s = openRaw(url, path, headers)
  cleanups.push(() => s.close())
  return s
}

async function publish (url: string, subject: string, data: unknown): Promise<number> {
  const res = await fetch(`${url}/events/publish`, {
    method: 'POST',
    headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' },
    body: JSON.stringify({ subject, data }),
  })
  await res.arrayBuffer()
  return res.status
}

const opened = (t: string): boolean => t.includes('\r\n\r\nretry:')

describe('introspect strategy, end to end', () => {
  it('login cookie → the stream opens and relays the user\'s events; no cookie or an unknown one → 401', async () => {
    dash.sessions.set('abc', { user: 'alice' })
    const g = await gateway(introspectEnv())
    const s = stream(g.url, '/events?topic=dashboard.user.alice.notifications', { cookie: 'sessionid=abc' })
    await s.until(opened)
    expect(s.status()).toBe(200)
    expect(await publish(g.url, 'dashboard.user.alice.notifications', { n: 1 })).toBe(200)
    await s.until((t) => t.includes('data: {"n":1}'))

    for (const cookie of [undefined, 'sessionid=nope']) {
      const res = await fetch(`${g.url}/events?topic=dashboard.user.alice.notifications`, { headers: cookie ? { cookie } : {} })
      expect(res.status).toBe(401)
      expect((await res.json()).error.code).toBe('SSE_ERR_AUTH_REQUIRED')
    }
  })

  it('a topic outside the rules → 403 naming it; containment, not prefix', async () => {
    dash.sessions.set('abc', { user: 'alice' })
    const g = await gateway(introspectEnv())
    for (const topic of ['dashboard.user.bob.x', 'dashboard.user.*.x', 'dashboard.>', 'sse.control']) {
      const res = await fetch(`${g.url}/events?topic=${encodeURIComponent(topic)}`, { headers: { cookie: 'sessionid=abc' } })
      expect(res.status, topic).toBe(403)
      const body = await res.json()
      expect(body.error.code).toBe('SSE_ERR_TOPIC_FORBIDDEN')
      expect(body.error.message).toContain(topic)
    }
  })

  it('logout → `unauthorized` and the stream ends within the re-validation interval; the reconnect gets 401', async () => {
    dash.sessions.set('abc', { user: 'alice' })
    const g = await gateway(introspectEnv())
    const s = stream(g.url, '/events?topic=dashboard.user.alice.x', { cookie: 'sessionid=abc' })
    await s.until(opened)
    const loggedOut = Date.now()
    dash.sessions.delete('abc')
    const end = await s.ended()
    expect(s.text()).toContain('event: unauthorized')
    expect(s.text()).toContain('SSE_ERR_AUTH_EXPIRED')
    // interval 200 ms + cache TTL 100 ms + a sweep's own time (wide margin for loaded CI; the default interval is 60 s)
    expect(end - loggedOut).toBeLessThan(2000)
    const again = await fetch(`${g.url}/events?topic=dashboard.user.alice.x`, { headers: { cookie: 'sessionid=abc' } })
    expect(again.status).toBe(401)
  })

  it('a revocation on the control subject ends that user\'s streams (and only theirs) at once', async () => {
    dash.sessions.set('a1', { user: 'alice' })
    dash.sessions.set('a2', { user: 'alice' })
    dash.sessions.set('b', { user: 'bob' })
    const g = await gateway({ ...introspectEnv(), SSE_REVALIDATE_MS: '60000', SSE_INTROSPECT_TTL_MS: '60000' })
    const a1 = stream(g.url, '/events?topic=dashboard.user.alice.x', { cookie: 'sessionid=a1' })
    const a2 = stream(g.url, '/events?topic=dashboard.public.y', { cookie: 'sessionid=a2' })
    const b = stream(g.url, '/events?topic=dashboard.user.bob.x', { cookie: 'sessionid=b' })
    await Promise.all([a1, a2, b].map(async (s) => await s.until(opened)))
    const t0 = Date.now()
    expect(await publish(g.url, 'sse.control', { user: 'alice' })).toBe(200)
    await Promise.all([a1.ended(), a2.ended()])
    expect(Date.now() - t0).toBeLessThan(2000)
    expect(a1.text()).toContain('event: unauthorized')
    expect(a2.text()).toContain('event: unauthorized')
    expect(await publish(g.url, 'dashboard.user.bob.x', 'still here')).toBe(200)
    await b.until((t) => t.includes('data: still here'))
    // The cached positive answer was dropped: the reconnect asks the dashboard again.
    const calls = dash.calls
    dash.sessions.delete('a1')
    const again = await fetch(`${g.url}/events?topic=dashboard.user.alice.x`, { headers: { cookie: 'sessionid=a1' } })
    expect(again.status).toBe(401)
    expect(dash.calls).toBe(calls + 1)
  })

  it('a revocation also answers a waiting long-poll of that user with 401, at once', async () => {
    dash.sessions.set('p1', { user: 'alice' })
    const g = await gateway({ ...introspectEnv(), SSE_REVALIDATE_MS: '60000', SSE_INTROSPECT_TTL_MS: '60000' })
    const t0 = Date.now()
    const poll = fetch(`${g.url}/events/poll?topic=dashboard.user.alice.x&timeout=20`, { headers: { cookie: 'sessionid=p1' } })
    await new Promise(resolve => setTimeout(resolve, 300))
    expect(await publish(g.url, 'sse.control', { user: 'alice' })).toBe(200)
    const res = await poll
    expect(res.status).toBe(401)
    expect((await res.json()).error.code).toBe('SSE_ERR_AUTH_REQUIRED')
    expect(Date.now() - t0).toBeLessThan(5000)
  })

  it('a revocation by session hash ends only that session', async () => {
    dash.sessions.set('a1', { user: 'alice' })
    dash.sessions.set('a2', { user: 'alice' })
    const g = await gateway({ ...introspectEnv(), SSE_REVALIDATE_MS: '60000' })
    const a1 = stream(g.url, '/events?topic=dashboard.user.alice.x', { cookie: 'sessionid=a1' })
    const a2 = stream(g.url, '/events?topic=dashboard.user.alice.x', { cookie: 'sessionid=a2' })
    await Promise.all([a1, a2].map(async (s) => await s.until(opened)))
    const { createHmac } = await import('node:crypto')
    const hash = createHmac('sha256', 'shared-session-hash-key-0123').update('a1').digest('hex').slice(0, 32)
    await publish(g.url, 'sse.control', { session: hash })
    await a1.ended()
    await publish(g.url, 'dashboard.user.alice.x', 'a2 lives')
    await a2.until((t) => t.includes('data: a2 lives'))
  })

  it.each([
    ['a foreign Origin', { origin: 'https://evil.example' }],
    ['Origin: null', { origin: 'null' }],
    ['Sec-Fetch-Site: cross-site without Origin', { 'sec-fetch-site': 'cross-site' }],
  ])('%s → 403 with zero dashboard calls', async (_n, headers) => {
    dash.sessions.set('abc', { user: 'alice' })
    const g = await gateway(introspectEnv())
    const res = await fetch(`${g.url}/events?topic=dashboard.user.alice.x`, { headers: { cookie: 'sessionid=abc', ...headers } })
    expect(res.status).toBe(403)
    expect((await res.json()).error.code).toBe('SSE_ERR_ORIGIN_FORBIDDEN')
    expect(res.headers.get('access-control-allow-origin')).toBeNull()
    expect(dash.calls).toBe(0)
  })

  it('long-poll gets the same Origin check and authorization, with zero dashboard calls for a foreign Origin', async () => {
    dash.sessions.set('abc', { user: 'alice' })
    const g = await gateway(introspectEnv())
    const foreign = await fetch(`${g.url}/events/poll?topic=dashboard.user.alice.x&timeout=0`, { headers: { cookie: 'sessionid=abc', origin: 'https://evil.example' } })
    expect(foreign.status).toBe(403)
    expect(dash.calls).toBe(0)
    const other = await fetch(`${g.url}/events/poll?topic=dashboard.user.bob.x&timeout=0`, { headers: { cookie: 'sessionid=abc' } })
    expect(other.status).toBe(403)
    const own = await fetch(`${g.url}/events/poll?topic=dashboard.user.alice.x&timeout=0`, { headers: { cookie: 'sessionid=abc', origin: ORIGIN } })
    expect(own.status).toBe(200)
    expect(own.headers.get('access-control-allow-origin')).toBe(ORIGIN)
    await own.arrayBuffer()
  })

  it('a listed Origin gets credentialed CORS echoed exactly, with Vary: Origin', async () => {
    dash.sessions.set('abc', { user: 'alice' })
    const g = await gateway(introspectEnv())
    const s = stream(g.url, '/events?topic=dashboard.user.alice.x', { cookie: 'sessionid=abc', origin: ORIGIN })
    await s.until(opened)
    const head = s.text().split('\r\n\r\n')[0].toLowerCase()
    expect(head).toContain(`access-control-allow-origin: ${ORIGIN}`)
    expect(head).toContain('access-control-allow-credentials: true')
    expect(head).toContain('vary: origin')
  })

  it('over the per-user cap → 200, a long retry, `event: busy`, close; the slot frees when a tab closes', async () => {
    dash.sessions.set('abc', { user: 'alice' })
    const g = await gateway(introspectEnv(), { maxConnectionsPerUser: 2 })
    const s1 = stream(g.url, '/events?topic=dashboard.user.alice.x', { cookie: 'sessionid=abc' })
    const s2 = stream(g.url, '/events?topic=dashboard.user.alice.x', { cookie: 'sessionid=abc' })
    await Promise.all([s1, s2].map(async (s) => await s.until(opened)))
    const s3 = stream(g.url, '/events?topic=dashboard.user.alice.x', { cookie: 'sessionid=abc' })
    await s3.ended()
    expect(s3.status()).toBe(200)
    expect(s3.text()).toContain('event: busy')
    expect(s3.text()).toContain('SSE_ERR_BUSY_USER')
    const retry = Number(/retry: (\d+)/.exec(s3.text())?.[1])
    expect(retry).toBeGreaterThanOrEqual(500)
    s1.close()
    await s1.ended()
    await new Promise((resolve) => setTimeout(resolve, 50))
    const s4 = stream(g.url, '/events?topic=dashboard.user.alice.x', { cookie: 'sessionid=abc' })
    await s4.until(opened)
    await new Promise((resolve) => setTimeout(resolve, 50))
    expect(s4.text()).not.toContain('event: busy')
  })

  it('dashboard down: a new stream gets 200 + `unavailable`; an open one is kept through the grace period, then told `unavailable`', async () => {
    dash.sessions.set('abc', { user: 'alice' })
    const g = await gateway({ ...introspectEnv(), SSE_REVALIDATE_GRACE_MS: '700', SSE_INTROSPECT_TIMEOUT_MS: '100' })
    const open = stream(g.url, '/events?topic=dashboard.user.alice.x', { cookie: 'sessionid=abc' })
    await open.until(opened)
    dash.mode = 'fail'
    const fresh = stream(g.url, '/events?topic=dashboard.user.alice.x', { cookie: 'sessionid=other' })
    await fresh.ended()
    expect(fresh.status()).toBe(200)
    expect(fresh.text()).toContain('event: unavailable')
    const t0 = Date.now()
    // Several failed sweeps pass without cutting the open stream …
    await new Promise((resolve) => setTimeout(resolve, 450))
    await publish(g.url, 'dashboard.user.alice.x', 'kept')
    await open.until((t) => t.includes('data: kept'))
    // … until the grace period ends.
    const end = await open.ended()
    expect(end - t0).toBeGreaterThan(300)
    expect(open.text()).toContain('event: unavailable')
    expect(open.text()).not.toContain('event: unauthorized')
  })
})

describe('introspect runtime: re-validation forwards the same raw cookie as the first look-up', () => {
  it('a URI-encoded session value stays valid across re-validations', async () => {
    dash.sessions.set('a%3Db', { user: 'alice' })
    const auth = createAuthFromConfig(authConfigFromEnv({ ...introspectEnv(), SSE_INTROSPECT_TTL_MS: '1' }))
    cleanups.push(() => auth.close())
    const p = await auth.authenticate({ cookies: { sessionid: 'a=b', theme: 'x' }, headers: { cookie: 'theme=x; sessionid=a%3Db' } })
    expect(p?.user).toBe('alice')
    await new Promise((resolve) => setTimeout(resolve, 10))
    expect((await auth.revalidate(p!)).status).toBe('ok')
    expect(dash.cookies).toEqual(['sessionid=a%3Db', 'sessionid=a%3Db'])
    dash.sessions.delete('a%3Db')
    await new Promise((resolve) => setTimeout(resolve, 10))
    expect((await auth.revalidate(p!)).status).toBe('denied')
  })
})

describe('django strategy, end to end', () => {
  const fx = JSON.parse(readFileSync(new URL('./fixtures/django/vectors.json', import.meta.url), 'utf8')) as {
    vectors: Array<{ name: string, cookie: string, secret: string }>
  }
  const login = fx.vectors.find((v) => v.name === 'login')!
  const tampered = fx.vectors.find((v) => v.name === 'trailing-garbage')!

  it('a real Django session cookie opens a stream for user 42; a tampered one is 401, never 500', async () => {
    // The vectors were signed on 2026-01-01: a max age of ten years keeps them valid for this test.
    const g = await gateway({ SSE_AUTH: 'django', SSE_DJANGO_SECRET_KEY: login.secret, SSE_SESSION_MAX_AGE: String(10 * 365 * 86400) })
    const s = stream(g.url, '/events?topic=dashboard.user.42.x', { cookie: `csrftoken=x; sessionid=${login.cookie}` })
    await s.until(opened)
    expect(s.status()).toBe(200)
    const bad = await fetch(`${g.url}/events?topic=dashboard.user.42.x`, { headers: { cookie: `sessionid=${tampered.cookie}` } })
    expect(bad.status).toBe(401)
    const other = await fetch(`${g.url}/events?topic=dashboard.user.43.x`, { headers: { cookie: `sessionid=${login.cookie}` } })
    expect(other.status).toBe(403)
  })

  it('the stream ends with `unauthorized` when the session reaches its max age', async () => {
    const { createHash, createHmac } = await import('node:crypto')
    const g = await gateway({ SSE_AUTH: 'django', SSE_DJANGO_SECRET_KEY: 'k', SSE_SESSION_MAX_AGE: '10' })
    const salt = 'django.contrib.sessions.backends.signed_cookies'
    const key = createHash('sha256').update(salt + 'signer' + 'k').digest()
    const digits = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz'
    let n = Math.floor(Date.now() / 1000) - 8
    let ts = ''
    do { ts = digits[n % 62] + ts; n = Math.floor(n / 62) } while (n > 0)
    const value = Buffer.from('{"_auth_user_id":"7"}').toString('base64url') + ':' + ts
    const cookie = value + ':' + createHmac('sha256', key).update(value).digest('base64url')
    // Signed 8 s ago with a max age of 10 s: valid now, expired about two seconds from now.
    const s = stream(g.url, '/events?topic=dashboard.user.7.x', { cookie: `sessionid=${cookie}` })
    await s.until(opened)
    await s.ended()
    expect(s.text()).toContain('event: unauthorized')
  })
})

describe('signed-cookie strategy, end to end', () => {
  it('carries its own subjects and ends at exp', async () => {
    const secret = 'signed-cookie-secret-0123456789abcdef'
    const auth = createAuthFromConfig(authConfigFromEnv({ SSE_AUTH: 'signed-cookie', SSE_COOKIE_SECRET: secret }))
    await auth.close()
    const { Signer } = await import('@fastify/cookie')
    const cookie = new Signer(secret).sign(Buffer.from(JSON.stringify({ user: 'ops', subjects: ['ops.alerts.>'], exp: Date.now() / 1000 + 0.6 })).toString('base64url'))
    const g = await gateway({ SSE_AUTH: 'signed-cookie', SSE_COOKIE_SECRET: secret })
    const s = stream(g.url, '/events?topic=ops.alerts.disk', { cookie: `sse_session=${encodeURIComponent(cookie)}` })
    await s.until(opened)
    await publish(g.url, 'ops.alerts.disk', 'full')
    await s.until((t) => t.includes('data: full'))
    await s.ended()
    expect(s.text()).toContain('event: unauthorized')
  })
})
