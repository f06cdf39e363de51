import { readFileSync } from 'node:fs'
import { describe, expect, it } from 'vitest'
import { authConfigFromEnv, createAuthFromConfig } from '../src/auth/index.js'
import { isGatewayError } from '../src/errors.js'

const SECRET = 'x'.repeat(40)

function configError (env: Record<string, string>): string {
  try {
    authConfigFromEnv(env)
    return 'no error'
  } catch (err) {
    if (!isGatewayError(err) || err.code !== 'SSE_ERR_CONFIG') throw err
    return err.message
  }
}

describe('authConfigFromEnv', () => {
  it('defaults: none in development, with everything allowed and the documented defaults', () => {
    const c = authConfigFromEnv({})
    expect(c).toMatchObject({
      strategy: 'none', cookieNames: ['sessionid'], allow: ['>'], origins: [], trustProxy: false,
      revalidateMs: 60_000, revalidateGraceMs: 300_000, controlSubject: 'sse.control',
    })
  })

  it('django', () => {
    const c = authConfigFromEnv({
      SSE_AUTH: 'django', SSE_DJANGO_SECRET_KEY: ' secret with spaces ', SSE_DJANGO_SECRET_KEY_FALLBACKS: 'old1, old2',
      SSE_SESSION_MAX_AGE: '3600', SSE_SESSION_COOKIE: 'horizon_session', SSE_ALLOW: 'dashboard.user.{user}.>, dashboard.public.>',
      SSE_ORIGINS: 'https://dash.example.com, https://other.example:8443', SSE_TRUST_PROXY: 'true', SSE_REVALIDATE_MS: '1000',
    })
    expect(c).toMatchObject({
      strategy: 'django',
      cookieNames: ['horizon_session'],
      django: { secretKey: ' secret with spaces ', fallbackKeys: ['old1', 'old2'], maxAgeSeconds: 3600 },
      allow: ['dashboard.user.{user}.>', 'dashboard.public.>'],
      origins: ['https://dash.example.com', 'https://other.example:8443'],
      trustProxy: true,
      revalidateMs: 1000,
    })
  })

  it('introspect', () => {
    const c = authConfigFromEnv({
      SSE_AUTH: 'introspect', SSE_INTROSPECT_URL: 'http://127.0.0.1:8000/auth/introspect', SSE_SESSION_COOKIE: 'sessionid,csrftoken',
      SSE_INTROSPECT_TIMEOUT_MS: '500', SSE_INTROSPECT_TTL_MS: '10000', SSE_INTROSPECT_NEGATIVE_TTL_MS: '0',
    })
    expect(c.cookieNames).toEqual(['sessionid', 'csrftoken'])
    expect(c.introspect).toMatchObject({ url: 'http://127.0.0.1:8000/auth/introspect', timeoutMs: 500, ttlMs: 10_000, negativeTtlMs: 0, cacheMax: 10_000 })
    expect(c.allow).toEqual([])
  })

  it('signed-cookie', () => {
    const c = authConfigFromEnv({ SSE_AUTH: 'signed-cookie', SSE_COOKIE_SECRET: `${SECRET},${SECRET}y` })
    expect(c.cookieSecrets).toEqual([SECRET, SECRET + 'y'])
    expect(c.cookieNames).toEqual(['sse_session'])
  })

  const bad: Array<[string, Record<string, string>, string]> = [
    ['unknown strategy', { SSE_AUTH: 'jwt' }, 'SSE_AUTH'],
    ['none in production', { SSE_AUTH: 'none', NODE_ENV: 'production' }, 'SSE_AUTH'],
    ['no strategy in production', { NODE_ENV: 'production' }, 'SSE_AUTH'],
    ['django without a key', { SSE_AUTH: 'django' }, 'SSE_DJANGO_SECRET_KEY'],
    ['max age not a number', { SSE_AUTH: 'django', SSE_DJANGO_SECRET_KEY: 'k', SSE_SESSION_MAX_AGE: '2w' }, 'SSE_SESSION_MAX_AGE'],
    ['max age zero', { SSE_AUTH: 'django', SSE_DJANGO_SECRET_KEY: 'k', SSE_SESSION_MAX_AGE: '0' }, 'SSE_SESSION_MAX_AGE'],
    ['two cookies for django', { SSE_AUTH: 'django', SSE_DJANGO_SECRET_KEY: 'k', SSE_SESSION_COOKIE: 'a,b' }, 'SSE_SESSION_COOKIE'],
    ['bad cookie name', { SSE_SESSION_COOKIE: 'a b' }, 'SSE_SESSION_COOKIE'],
    ['introspect without url', { SSE_AUTH: 'introspect' }, 'SSE_INTROSPECT_URL'],
    ['introspect url not http', { SSE_AUTH: 'introspect', SSE_INTROSPECT_URL: 'file:///etc/passwd' }, 'SSE_INTROSPECT_URL'],
    ['introspect url with credentials', { SSE_AUTH: 'introspect', SSE_INTROSPECT_URL: 'http://u:p@h/' }, 'SSE_INTROSPECT_URL'],
    ['introspect timeout negative', { SSE_AUTH: 'introspect', SSE_INTROSPECT_URL: 'http://h/', SSE_INTROSPECT_TIMEOUT_MS: '-1' }, 'SSE_INTROSPECT_TIMEOUT_MS'],
    ['signed-cookie without secret', { SSE_AUTH: 'signed-cookie' }, 'SSE_COOKIE_SECRET'],
    ['signed-cookie short secret', { SSE_AUTH: 'signed-cookie', SSE_COOKIE_SECRET: 'short' }, 'SSE_COOKIE_SECRET'],
    ['bad allow rule', { SSE_ALLOW: 'a..b' }, 'SSE_ALLOW'],
    ['origin *', { SSE_ORIGINS: '*' }, 'SSE_ORIGINS'],
    ['origin null', { SSE_ORIGINS: 'null' }, 'SSE_ORIGINS'],
    ['origin with path', { SSE_ORIGINS: 'https://a.example/x' }, 'SSE_ORIGINS'],
    ['trust proxy not boolean', { SSE_TRUST_PROXY: 'maybe' }, 'SSE_TRUST_PROXY'],
    ['revalidate too small', { SSE_REVALIDATE_MS: '5' }, 'SSE_REVALIDATE_MS'],
    ['control subject wildcard', { SSE_CONTROL_SUBJECT: 'sse.>' }, 'SSE_CONTROL_SUBJECT'],
    ['short session hash key', { SSE_SESSION_HASH_KEY: 'short' }, 'SSE_SESSION_HASH_KEY'],
  ]
  it.each(bad)('%s → SSE_ERR_CONFIG', (_n, env, name) => {
    expect(configError(env)).toContain(name + ':')
  })

  it('every SSE_ variable read here is in the README', () => {
    const src = readFileSync(new URL('../src/auth/config.ts', import.meta.url), 'utf8')
    const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8')
    const vars = new Set([...src.matchAll(/'(SSE_[A-Z_]+)'/g)].map((m) => m[1]))
    expect(vars.size).toBeGreaterThan(15)
    for (const v of vars) expect(readme, v).toContain('`' + v + '`')
  })
})

describe('createAuthFromConfig', () => {
  it('none: warns, allows everything', async () => {
    const a = createAuthFromConfig(authConfigFromEnv({}))
    expect(a.warnings.join('\n')).toMatch(/development only/i)
    const p = await a.authenticate({ cookies: {}, headers: {} })
    expect(p?.user).toBe('anonymous')
    expect(a.authorize(p!, ['anything.at.all'])).toBeUndefined()
    expect((await a.revalidate(p!)).status).toBe('ok')
  })

  it('signed-cookie: revalidation denies once the cookie expires', async () => {
    const a = createAuthFromConfig(authConfigFromEnv({ SSE_AUTH: 'signed-cookie', SSE_COOKIE_SECRET: SECRET, SSE_ALLOW: 'u.{user}.>' }))
    const { Signer } = await import('@fastify/cookie')
    const exp = Date.now() / 1000 + 0.2
    const cookie = new Signer(SECRET).sign(JSON.stringify({ user: 'alice', exp }))
    const p = await a.authenticate({ cookies: { sse_session: cookie, other: 'x' }, headers: {} })
    expect(p?.user).toBe('alice')
    expect(a.authorize(p!, ['u.alice.x'])).toBeUndefined()
    expect(a.authorize(p!, ['u.bob.x'])).toBe('u.bob.x')
    expect((await a.revalidate(p!)).status).toBe('ok')
    await new Promise((resolve) => setTimeout(resolve, 250))
    expect((await a.revalidate(p!)).status).toBe('denied')
    await a.close()
  })
})
