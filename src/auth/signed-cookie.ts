/**
 * The `signed-cookie` strategy: the dashboard sets a cookie holding the principal, signed with
 * @fastify/cookie's signer (HMAC-SHA256, `<value>.<base64 signature>`), so the gateway verifies it with no call.
 *
 * Value: JSON `{ "user": "…", "subjects"?: ["…"], "exp": <epoch seconds> }`, either as is or URL-safe base64.
 * Secrets: the first signs, every one verifies (rotation: prepend the new secret, drop the old one later).
 */
import { Signer } from '@fastify/cookie'
import { checkSubject } from '../subject.js'
import type { Authenticate, Principal } from './types.js'
import { createSessionHasher, type SessionHasher } from './session-hash.js'

export const DEFAULT_SIGNED_COOKIE = 'sse_session'
const MAX_COOKIE_LENGTH = 8192
const MAX_SUBJECTS = 256

export interface SignedCookieOptions {
  /** One or more secrets; the first signs. */
  secrets: readonly string[]
  cookieName?: string
  sessionHashKey?: string | Buffer
  sessionHasher?: SessionHasher
  now?: () => number
}

export interface SignedCookieAuthenticate extends Authenticate {
  /** Signs a principal the way the dashboard must (for tests, and for dashboards written in Node). */
  sign: (p: { user: string, subjects?: string[], exp: number }) => string
}

function decodePayload (value: string): unknown {
  const text = value.startsWith('{') ? value : Buffer.from(value, 'base64url').toString('utf8')
  return JSON.parse(text)
}

export function signedCookieAuthenticator (opts: SignedCookieOptions): SignedCookieAuthenticate {
  if (!Array.isArray(opts.secrets) || opts.secrets.length === 0 || opts.secrets.some((s) => typeof s !== 'string' || s.length === 0)) {
    throw new TypeError('at least one non-empty secret is required')
  }
  const signer = new Signer([...opts.secrets])
  const cookieName = opts.cookieName ?? DEFAULT_SIGNED_COOKIE
  const now = opts.now ?? Date.now
  const hash = opts.sessionHasher ?? createSessionHasher(opts.sessionHashKey)

  const authenticate = async function authenticateSignedCookie (req) {
    let raw = req.cookies[cookieName]
    if (raw === undefined || raw.length === 0 || raw.length > MAX_COOKIE_LENGTH) return null
    // Cookies set through @fastify/cookie are URI-encoded; the gateway hands strategies raw values.
    if (raw.includes('%')) {
      try { raw = decodeURIComponent(raw) } catch { return null }
    }
    let value: string
    try {
      // Signer.unsign compares with timingSafeEqual after a length check and verifies up to the last '.',
      // so trailing garbage changes the signature and fails.
      const r = signer.unsign(raw)
      if (!r.valid) return null
      value = r.value
    } catch {
      return null
    }
    let body: unknown
    try { body = decodePayload(value) } catch { return null }
    if (body === null || typeof body !== 'object' || Array.isArray(body)) return null
    const b = body as Record<string, unknown>
    if (typeof b.user !== 'string' || b.user.length === 0 || b.user.length > 256) return null
    // exp is required: a signed cookie that never expires could never be revoked by time.
    if (typeof b.exp !== 'number' || !Number.isFinite(b.exp)) return null
    const expiresAt = b.exp * 1000
    if (expiresAt <= now()) return null
    const p: Principal = { user: b.user, expiresAt, data: b, session: hash(raw) }
    if (b.subjects !== undefined) {
      if (!Array.isArray(b.subjects) || b.subjects.length > MAX_SUBJECTS) return null
      if (b.subjects.some((s) => typeof s !== 'string' || checkSubject(s) !== undefined)) return null
      p.subjects = b.subjects as string[]
    }
    return p
  } as SignedCookieAuthenticate
  authenticate.sign = (p) => signer.sign(Buffer.from(JSON.stringify(p)).toString('base64url'))
  return authenticate
}
