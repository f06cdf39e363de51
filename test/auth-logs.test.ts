/**
 * Log sweep for the auth paths: the real standalone server at `trace` level, driven through every outcome
 * (admitted, 401, 403 origin, 403 topic, dashboard down, re-validation cut, revocation) with sentinel cookies and
 * secrets; neither stdout nor stderr may contain any of them.
 */
import { createHash, createHmac } from 'node:crypto'
import { Signer } from '@fastify/cookie'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { CHILD_TOKEN, rawStream, startChildGateway, until, type ChildGateway, type RawStream } from './helpers/child-gateway.js'
import { startDashboard, type Dashboard } from './helpers/dashboard.js'

const S = 'SENTINELk3v9'
const children: ChildGateway[] = []
const sockets: RawStream[] = []
afterEach(() => {
  for (const s of sockets.splice(0)) s.socket.destroy()
  for (const c of children.splice(0)) c.kill()
})

let dash: Dashboard
beforeAll(async () => { dash = await startDashboard() })
afterAll(async () => { await dash.close() })

async function child (env: Record<string, string>): Promise<ChildGateway> {
  const c = await startChildGateway({
    SSE_LOG_LEVEL: 'trace', SSE_REVALIDATE_MS: '200', SSE_ALLOW: 'u.{user}.>', SSE_ORIGINS: 'https://dash.example.com',
    SSE_SESSION_HASH_KEY: `${S}hashkey`, ...env,
  })
  children.push(c)
  return c
}
function open (c: ChildGateway, path: string, headers: Record<string, string>): RawStream {
  const s = rawStream(c.port, path, { headers })
  sockets.push(s)
  return s
}
async function get (c: ChildGateway, path: string, headers: Record<string, string>): Promise<number> {
  const res = await fetch(c.url + path, { headers })
  await res.arrayBuffer()
  return res.status
}
async function publish (c: ChildGateway, subject: string, data: unknown): Promise<void> {
  const res = await fetch(`${c.url}/events/publish`, {
    method: 'POST', headers: { authorization: `Bearer ${CHILD_TOKEN}`, 'content-type': 'application/json' }, body: JSON.stringify({ subject, data }),
  })
  await res.arrayBuffer()
}
function expectClean (c: ChildGateway, secrets: string[]): void {
  const logs = c.out() + c.err()
  expect(logs).toContain('incoming request')
  expect(logs).not.toContain(S)
  for (const s of secrets) expect(logs).not.toContain(s)
}

describe('no cookie, secret or session key reaches the logs', () => {
  it('introspect', async () => {
    const good = `${S}goodcookie`
    dash.sessions.set(good, { user: 'alice' })
    const c = await child({ SSE_AUTH: 'introspect', SSE_INTROSPECT_URL: dash.url, SSE_INTROSPECT_TTL_MS: '50', SSE_INTROSPECT_TIMEOUT_MS: '200' })
    const s = open(c, '/events?topic=u.alice.x', { Cookie: `sessionid=${good}; csrftoken=${S}csrf`, Authorization: `Bearer ${S}auth` })
    await until(() => s.retries.length >= 1, 5000, 'stream opened')
    expect(await get(c, '/events?topic=u.alice.x', { cookie: `sessionid=${S}unknown` })).toBe(401)
    expect(await get(c, '/events?topic=u.alice.x', { cookie: `sessionid=${good}`, origin: 'https://evil.example' })).toBe(403)
    expect(await get(c, '/events?topic=u.bob.x', { cookie: `sessionid=${good}` })).toBe(403)
    dash.mode = 'fail'
    expect(await get(c, '/events?topic=u.alice.x', { cookie: `sessionid=${S}other` })).toBe(200)
    dash.mode = 'ok'
    await publish(c, 'sse.control', { user: 'alice' })
    await until(() => s.ended !== undefined, 5000, 'revoked stream closed')
    expect(s.events.map((e) => e.event)).toContain('unauthorized')
    // The revocation is logged (by user and session hash only); stdout arrives a little after the stream ends.
    await until(() => /"msg":"revocation"/.test(c.out()), 5000, 'the revocation log line')
    expect(c.out()).toMatch(/"user":"alice".*"msg":"revocation"|"msg":"revocation".*"user":"alice"/)
    expectClean(c, [good])
  })

  it('django', async () => {
    const secret = `${S}djangosecret`
    const key = createHash('sha256').update('django.contrib.sessions.backends.signed_cookies' + 'signer' + secret).digest()
    const digits = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz'
    const c = await child({ SSE_AUTH: 'django', SSE_DJANGO_SECRET_KEY: secret, SSE_DJANGO_SECRET_KEY_FALLBACKS: `${S}fallback`, SSE_SESSION_MAX_AGE: '4' })
    // Signed now (after the child is up, which can take seconds on a loaded machine), so it is valid when the stream opens.
    let n = Math.floor(Date.now() / 1000) - 1
    let ts = ''
    do { ts = digits[n % 62] + ts; n = Math.floor(n / 62) } while (n > 0)
    const value = Buffer.from('{"_auth_user_id":"alice"}').toString('base64url') + ':' + ts
    const cookie = value + ':' + createHmac('sha256', key).update(value).digest('base64url')
    const s = open(c, '/events?topic=u.alice.x', { Cookie: `sessionid=${cookie}` })
    // Max age 4 s, signed about 1 s ago: admitted, then the re-validation cuts the stream with `unauthorized`.
    await until(() => s.head !== '', 5000, 'response head')
    expect(s.head).toMatch(/^HTTP\/1\.1 200/)
    await until(() => s.ended !== undefined, 8000, 'expired stream closed')
    expect(s.events.map((e) => e.event)).toContain('unauthorized')
    expect(await get(c, '/events?topic=u.alice.x', { cookie: `sessionid=${cookie}x` })).toBe(401)
    expectClean(c, [cookie, cookie.split(':')[2]])
  })

  it('signed-cookie', async () => {
    const secret = `${S}cookiesecret0123456789abcdefghij`
    const cookie = new Signer(secret).sign(Buffer.from(JSON.stringify({ user: 'alice', exp: Date.now() / 1000 + 60 })).toString('base64url'))
    const c = await child({ SSE_AUTH: 'signed-cookie', SSE_COOKIE_SECRET: `${secret},${S}oldsecret0123456789abcdefghijkl` })
    const s = open(c, '/events?topic=u.alice.x', { Cookie: `sse_session=${encodeURIComponent(cookie)}` })
    await until(() => s.retries.length >= 1, 5000, 'stream opened')
    expect(await get(c, '/events?topic=u.alice.x', { cookie: `sse_session=${S}forged` })).toBe(401)
    expectClean(c, [cookie, cookie.split('.').pop()!])
  })
})
