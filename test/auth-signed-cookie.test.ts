import { describe, expect, it } from 'vitest'
import { Signer } from '@fastify/cookie'
import { signedCookieAuthenticator } from '../src/auth/signed-cookie.js'
import { noneAuthenticator } from '../src/auth/none.js'
import { isGatewayError } from '../src/errors.js'

const NEW = 'new-secret-0123456789abcdef0123456789'
const OLD = 'old-secret-0123456789abcdef0123456789'
const NOW = 1_767_225_600_000
const exp = NOW / 1000 + 600

describe('signed-cookie strategy', () => {
  const auth = signedCookieAuthenticator({ secrets: [NEW, OLD], now: () => NOW, sessionHashKey: 'k' })
  const withOld = signedCookieAuthenticator({ secrets: [OLD], now: () => NOW })
  const good = auth.sign({ user: 'alice', subjects: ['ops.>'], exp })
  const b64 = (o: unknown): string => Buffer.from(JSON.stringify(o)).toString('base64url')
  const signNew = (v: string): string => new Signer(NEW).sign(v)

  const table: Array<[string, string | undefined, string | null]> = [
    ['signed by the first secret', good, 'alice'],
    ['signed by a rotated secret', withOld.sign({ user: 'bob', exp }), 'bob'],
    ['raw JSON payload', signNew(JSON.stringify({ user: 'carol', exp })), 'carol'],
    ['URI-encoded as setCookie does', encodeURIComponent(signNew(JSON.stringify({ user: 'dave', exp }))), 'dave'],
    ['missing', undefined, null],
    ['empty', '', null],
    ['unsigned', b64({ user: 'alice', exp }), null],
    ['trailing garbage', good + 'x', null],
    ['signature truncated', good.slice(0, -1), null],
    ['payload tampered', 'A' + good.slice(1), null],
    ['unknown secret', new Signer('another-secret-that-is-long-enough-00').sign(b64({ user: 'eve', exp })), null],
    ['expired', signNew(b64({ user: 'alice', exp: NOW / 1000 - 1 })), null],
    ['no exp', signNew(b64({ user: 'alice' })), null],
    ['exp not a number', signNew(b64({ user: 'alice', exp: 'tomorrow' })), null],
    ['no user', signNew(b64({ exp })), null],
    ['user not a string', signNew(b64({ user: 42, exp })), null],
    ['invalid subject', signNew(b64({ user: 'alice', exp, subjects: ['a..b'] })), null],
    ['subjects not a list', signNew(b64({ user: 'alice', exp, subjects: 'a.>' })), null],
    ['not JSON', signNew('bm90IGpzb24'), null],
    ['bad URI encoding', '%E0%A4%A' + good, null],
    ['huge', 'x'.repeat(10_000), null],
  ]
  it.each(table)('%s', async (_n, cookie, user) => {
    const p = await auth({ cookies: cookie === undefined ? {} : { sse_session: cookie }, headers: {} })
    expect(p?.user ?? null).toBe(user)
  })

  it('carries subjects, expiry and a session hash', async () => {
    const p = await auth({ cookies: { sse_session: good }, headers: {} })
    expect(p).toMatchObject({ user: 'alice', subjects: ['ops.>'], expiresAt: exp * 1000 })
    expect(p?.session).toMatch(/^[0-9a-f]{32}$/)
  })

  it('needs a secret', () => {
    expect(() => signedCookieAuthenticator({ secrets: [] })).toThrow()
  })
})

describe('none strategy', () => {
  it('is refused in production', () => {
    try {
      noneAuthenticator({ nodeEnv: 'production' })
      expect.unreachable()
    } catch (err) {
      expect(isGatewayError(err) && err.code).toBe('SSE_ERR_CONFIG')
    }
  })
  it('accepts everyone as one user in development', async () => {
    const a = noneAuthenticator({ nodeEnv: 'development' })
    expect(await a({ cookies: {}, headers: {} })).toEqual({ user: 'anonymous', anonymous: true })
  })
})
