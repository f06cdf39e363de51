/**
 * Verifies Django `signed_cookies` sessions locally, exactly as `django.core.signing` signs them
 * (Django >= 4.0: HMAC-SHA256 only; SECRET_KEY_FALLBACKS as in 4.1+).
 *
 * Cookie: `<payload>:<timestamp>:<signature>`
 * - payload: URL-safe base64 (no padding) of the JSON session; a leading `.` marks zlib compression.
 * - timestamp: base62 seconds since the epoch (digits 0-9A-Za-z).
 * - signature: URL-safe base64 (no padding) of HMAC-SHA256(key, `<payload>:<timestamp>`) where
 *   key = SHA-256(salt + 'signer' + SECRET_KEY) and salt = 'django.contrib.sessions.backends.signed_cookies'.
 *
 * Never throws: every malformed, tampered, expired or foreign cookie is `null`.
 * @see https://docs.djangoproject.com/en/stable/topics/signing/
 */
import { createHash, createHmac, timingSafeEqual } from 'node:crypto'
import { inflateSync } from 'node:zlib'
import type { Authenticate, Principal } from './types.js'
import { createSessionHasher, type SessionHasher } from './session-hash.js'

export const DJANGO_SESSION_SALT = 'django.contrib.sessions.backends.signed_cookies'
/** Django's SESSION_COOKIE_AGE default: two weeks. */
export const DEFAULT_DJANGO_MAX_AGE_S = 1_209_600
/** Timestamps this far ahead of our clock are tolerated (dashboard and gateway clocks differ a little). */
export const DEFAULT_CLOCK_SKEW_S = 60
/** Browsers cap a cookie at about 4 KiB; anything much longer is not a Django session. */
export const DEFAULT_MAX_COOKIE_LENGTH = 8192
/** Zip-bomb guard: the signature is checked first, but a leaked key must not also take the process down. */
export const DEFAULT_MAX_SESSION_BYTES = 65_536

export interface DjangoVerifierOptions {
  /** Django's SECRET_KEY. */
  secretKey: string
  /** Django's SECRET_KEY_FALLBACKS: older keys still accepted during rotation. */
  fallbackKeys?: readonly string[]
  /** SESSION_COOKIE_AGE in seconds. */
  maxAgeSeconds?: number
  clockSkewSeconds?: number
  maxCookieLength?: number
  maxSessionBytes?: number
  salt?: string
  /** Clock in epoch milliseconds (tests). */
  now?: () => number
}

export interface DjangoSession {
  data: Record<string, unknown>
  /** Epoch seconds at which Django signed the cookie. */
  signedAt: number
}

const COOKIE_CHARS = /^[A-Za-z0-9_\-.:]+$/
const B64URL = /^[A-Za-z0-9_-]*$/
const BASE62 = /^[0-9A-Za-z]{1,11}$/
// HMAC-SHA256 is 32 bytes → 43 base64 characters without padding.
const SIG_LENGTH = 43

function base62Decode (s: string): number {
  let n = 0
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i)
    const d = c <= 57 ? c - 48 : c <= 90 ? c - 55 : c - 61
    n = n * 62 + d
  }
  return n
}

/** Returns a verifier of Django session cookie values: the session, or null. */
export function createDjangoVerifier (opts: DjangoVerifierOptions): (cookie: string) => DjangoSession | null {
  const salt = opts.salt ?? DJANGO_SESSION_SALT
  const maxAge = opts.maxAgeSeconds ?? DEFAULT_DJANGO_MAX_AGE_S
  const skew = opts.clockSkewSeconds ?? DEFAULT_CLOCK_SKEW_S
  const maxLen = opts.maxCookieLength ?? DEFAULT_MAX_COOKIE_LENGTH
  const maxBytes = opts.maxSessionBytes ?? DEFAULT_MAX_SESSION_BYTES
  const now = opts.now ?? Date.now
  if (typeof opts.secretKey !== 'string' || opts.secretKey.length === 0) throw new TypeError('secretKey is required')
  // django.utils.crypto.salted_hmac: key = H(key_salt + secret), key_salt = salt + 'signer' (Signer.signature).
  const keys = [opts.secretKey, ...(opts.fallbackKeys ?? [])]
    .map((secret) => createHash('sha256').update(salt + 'signer' + secret, 'utf8').digest())

  return function verifyDjangoSession (cookie: string): DjangoSession | null {
    if (typeof cookie !== 'string' || cookie.length === 0 || cookie.length > maxLen || !COOKIE_CHARS.test(cookie)) return null
    const sigSep = cookie.lastIndexOf(':')
    if (sigSep <= 0) return null
    const value = cookie.slice(0, sigSep)
    const sig = cookie.slice(sigSep + 1)
    // The length of a valid signature is public; comparing lengths first keeps timingSafeEqual from throwing.
    if (sig.length !== SIG_LENGTH) return null
    const given = Buffer.from(sig, 'latin1')
    let ok = false
    for (const key of keys) {
      const expected = Buffer.from(createHmac('sha256', key).update(value, 'utf8').digest('base64url'), 'latin1')
      // No early exit: every key is tried, so timing does not reveal which key (if any) matched.
      if (timingSafeEqual(expected, given)) ok = true
    }
    if (!ok) return null

    const tsSep = value.lastIndexOf(':')
    if (tsSep < 0) return null
    const ts = value.slice(tsSep + 1)
    if (!BASE62.test(ts)) return null
    const signedAt = base62Decode(ts)
    const nowS = now() / 1000
    if (nowS - signedAt > maxAge) return null
    if (signedAt - nowS > skew) return null

    let payload = value.slice(0, tsSep)
    const compressed = payload.startsWith('.')
    if (compressed) payload = payload.slice(1)
    if (!B64URL.test(payload) || payload.length % 4 === 1) return null
    try {
      let bytes = Buffer.from(payload, 'base64url')
      if (compressed) bytes = inflateSync(bytes, { maxOutputLength: maxBytes })
      if (bytes.length > maxBytes) return null
      // django.core.signing.JSONSerializer decodes latin-1 (json.dumps output is ASCII anyway).
      const data: unknown = JSON.parse(bytes.toString('latin1'))
      if (data === null || typeof data !== 'object' || Array.isArray(data)) return null
      return { data: data as Record<string, unknown>, signedAt }
    } catch {
      return null
    }
  }
}

export interface DjangoAuthOptions extends DjangoVerifierOptions {
  /** SESSION_COOKIE_NAME. */
  cookieName?: string
  /** Key for the session hash (`Principal.session`); see createSessionHasher. */
  sessionHashKey?: string | Buffer
  sessionHasher?: SessionHasher
}

export const DEFAULT_DJANGO_COOKIE = 'sessionid'

/** Turns a Django session into a principal: `_auth_user_id` is the user; no user → null (anonymous session). */
export function principalFromDjangoSession (s: DjangoSession, maxAgeSeconds: number): Principal | null {
  const id = s.data._auth_user_id
  let user: string
  if (typeof id === 'string') user = id
  else if (typeof id === 'number' && Number.isSafeInteger(id)) user = String(id)
  else return null
  if (user.length === 0 || user.length > 256) return null
  return { user, data: s.data, expiresAt: (s.signedAt + maxAgeSeconds) * 1000 }
}

/** The `django` strategy: verifies the session cookie locally, with no network call. */
export function djangoAuthenticator (opts: DjangoAuthOptions): Authenticate {
  const verify = createDjangoVerifier(opts)
  const cookieName = opts.cookieName ?? DEFAULT_DJANGO_COOKIE
  const maxAge = opts.maxAgeSeconds ?? DEFAULT_DJANGO_MAX_AGE_S
  const hash = opts.sessionHasher ?? createSessionHasher(opts.sessionHashKey)
  return async function authenticateDjango (req) {
    const cookie = req.cookies[cookieName]
    if (cookie === undefined) return null
    const session = verify(cookie)
    if (session === null) return null
    const p = principalFromDjangoSession(session, maxAge)
    if (p === null) return null
    p.session = hash(cookie)
    return p
  }
}
