/**
 * The `introspect` strategy: asks the dashboard who owns a session, for any session store.
 *
 * Only the configured cookie names are forwarded (never the whole Cookie header) to one fixed URL,
 * over a keep-alive pool with a timeout and a body cap. Answers are cached in a bounded LRU keyed by a
 * keyed hash of the forwarded cookies, and concurrent look-ups of one key share one request
 * (lru-cache's `fetch` coalesces them), so a thousand tabs reconnecting at once cost one dashboard call.
 *
 * - 200 + `{ user, subjects?, expiresIn? }` → principal (cached `positiveTtlMs`, never past `expiresIn`)
 * - 401 / 403 → null (cached `negativeTtlMs`)
 * - anything else (5xx, time-out, refused connection, garbage, oversized body) → throws
 *   GatewayError('SSE_ERR_AUTH_UNAVAILABLE'), never cached: the next look-up asks again.
 */
import type { AuthMetrics } from '../telemetry.js'
import { Pool } from 'undici'
import { LRUCache } from 'lru-cache'
import { GatewayError, isGatewayError } from '../errors.js'
import { checkSubject } from '../subject.js'
import type { Authenticate, AuthRequest, Principal } from './types.js'
import { createSessionHasher, type SessionHasher } from './session-hash.js'

export const DEFAULT_INTROSPECT_TIMEOUT_MS = 1000
export const DEFAULT_INTROSPECT_MAX_BODY_BYTES = 65_536
export const DEFAULT_INTROSPECT_TTL_MS = 30_000
export const DEFAULT_INTROSPECT_NEGATIVE_TTL_MS = 5_000
export const DEFAULT_INTROSPECT_CACHE_MAX = 10_000
export const DEFAULT_INTROSPECT_CONNECTIONS = 16
const MAX_USER_LENGTH = 256
const MAX_SUBJECTS = 256

export interface IntrospectOptions {
  /** Absolute http(s) URL of the dashboard's introspection endpoint (GET). */
  url: string
  /** Cookie names forwarded to the dashboard. Default ['sessionid']. */
  cookieNames?: readonly string[]
  timeoutMs?: number
  maxBodyBytes?: number
  /** How long a 200 answer is reused. */
  ttlMs?: number
  /** How long a 401/403 answer is reused. 0 disables negative caching. */
  negativeTtlMs?: number
  /** Maximum number of cached sessions. */
  cacheMax?: number
  /** Cache hits and misses, dashboard latency and outcomes (exported at /metrics). */
  metrics?: AuthMetrics
  /** Keep-alive connections to the dashboard. */
  connections?: number
  sessionHashKey?: string | Buffer
  sessionHasher?: SessionHasher
  now?: () => number
}

export interface IntrospectAuthenticate extends Authenticate {
  /** Closes the connection pool. */
  close: () => Promise<void>
  /** Forgets cached answers: all of them, or those of one user or session hash (revocation). */
  forget: (who?: { user?: string, session?: string }) => void
}

interface Entry { principal: Principal | null, session: string }

function unavailable (why: string, cause?: unknown): GatewayError {
  return new GatewayError('SSE_ERR_AUTH_UNAVAILABLE', [], { cause: cause ?? new Error(why) })
}

/** Validates the dashboard's 200 body; anything unexpected is garbage (→ unavailable, not a denial). */
function parsePrincipal (body: unknown, now: number): Principal {
  if (body === null || typeof body !== 'object' || Array.isArray(body)) throw unavailable('introspection body is not an object')
  const b = body as Record<string, unknown>
  if (typeof b.user !== 'string' || b.user.length === 0 || b.user.length > MAX_USER_LENGTH) throw unavailable('introspection body has no valid user')
  const p: Principal = { user: b.user, data: b }
  if (b.subjects !== undefined) {
    if (!Array.isArray(b.subjects) || b.subjects.length > MAX_SUBJECTS) throw unavailable('introspection subjects is not a list')
    for (const s of b.subjects) {
      if (typeof s !== 'string' || checkSubject(s) !== undefined) throw unavailable('introspection subjects holds an invalid subject')
    }
    p.subjects = b.subjects as string[]
  }
  if (b.expiresIn !== undefined) {
    if (typeof b.expiresIn !== 'number' || !Number.isFinite(b.expiresIn) || b.expiresIn < 0) throw unavailable('introspection expiresIn is invalid')
    p.expiresAt = now + b.expiresIn * 1000
  }
  return p
}

// A cookie value as RFC 6265 allows it (cookie-octets, optionally quoted): nothing that could split the header.
const COOKIE_VALUE = /^"?[\x21\x23-\x2b\x2d-\x3a\x3c-\x5b\x5d-\x7e]*"?$/

/** The raw (not URI-decoded) values of `names` in a Cookie header; the first occurrence of a name wins. */
export function rawCookies (header: string | string[], names: readonly string[]): Record<string, string | undefined> {
  const out: Record<string, string | undefined> = {}
  const text = Array.isArray(header) ? header.join('; ') : header
  for (const part of text.split(';')) {
    const eq = part.indexOf('=')
    if (eq < 0) continue
    const name = part.slice(0, eq).trim()
    if (!names.includes(name) || out[name] !== undefined) continue
    const value = part.slice(eq + 1).trim()
    if (value.length <= 4096 && COOKIE_VALUE.test(value)) out[name] = value
  }
  return out
}

export function introspectAuthenticator (opts: IntrospectOptions): IntrospectAuthenticate {
  const url = new URL(opts.url)
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new TypeError('introspection url must be http(s)')
  const path = url.pathname + url.search
  const cookieNames = opts.cookieNames ?? ['sessionid']
  if (cookieNames.length === 0) throw new TypeError('at least one cookie name is required')
  const sortedNames = [...cookieNames].sort()
  const timeoutMs = opts.timeoutMs ?? DEFAULT_INTROSPECT_TIMEOUT_MS
  const maxBody = opts.maxBodyBytes ?? DEFAULT_INTROSPECT_MAX_BODY_BYTES
  const ttl = opts.ttlMs ?? DEFAULT_INTROSPECT_TTL_MS
  const negTtl = opts.negativeTtlMs ?? DEFAULT_INTROSPECT_NEGATIVE_TTL_MS
  const now = opts.now ?? Date.now
  const hash = opts.sessionHasher ?? createSessionHasher(opts.sessionHashKey)
  const pool = new Pool(url.origin, {
    connections: opts.connections ?? DEFAULT_INTROSPECT_CONNECTIONS,
    headersTimeout: timeoutMs,
    bodyTimeout: timeoutMs,
    connectTimeout: timeoutMs,
  })

  const metrics = opts.metrics

  async function lookup (cookieHeader: string, session: string): Promise<Entry> {
    const started = performance.now()
    try {
      const entry = await lookupOnce(cookieHeader, session)
      metrics?.dashboardCall(performance.now() - started, entry.principal === null ? 'denied' : 'ok')
      return entry
    } catch (err) {
      metrics?.dashboardCall(performance.now() - started, 'unavailable')
      throw err
    }
  }

  async function lookupOnce (cookieHeader: string, session: string): Promise<Entry> {
    let res
    try {
      res = await pool.request({
        path,
        method: 'GET',
        headers: { cookie: cookieHeader, accept: 'application/json' },
        signal: AbortSignal.timeout(timeoutMs),
      })
    } catch (err) {
      throw unavailable('introspection request failed', err)
    }
    const { statusCode, body } = res
    if (statusCode === 401 || statusCode === 403) {
      body.resume()
      return { principal: null, session }
    }
    if (statusCode !== 200) {
      body.resume()
      throw unavailable(`introspection answered ${statusCode}`)
    }
    const declared = Number(res.headers['content-length'])
    if (declared > maxBody) {
      body.destroy()
      throw unavailable('introspection body too large')
    }
    const chunks: Buffer[] = []
    let size = 0
    try {
      for await (const chunk of body) {
        size += (chunk as Buffer).length
        if (size > maxBody) {
          body.destroy()
          throw unavailable('introspection body too large')
        }
        chunks.push(chunk as Buffer)
      }
    } catch (err) {
      throw isGatewayError(err) ? err : unavailable('introspection body failed', err)
    }
    let parsed: unknown
    try {
      parsed = JSON.parse(Buffer.concat(chunks).toString('utf8'))
    } catch (err) {
      throw unavailable('introspection body is not JSON', err)
    }
    return { principal: parsePrincipal(parsed, now()), session }
  }

  const cache = new LRUCache<string, Entry, { header: string, session: string }>({
    max: opts.cacheMax ?? DEFAULT_INTROSPECT_CACHE_MAX,
    ttl: Math.max(ttl, 1),
    // lru-cache coalesces concurrent fetch() calls for one key into one fetchMethod call.
    fetchMethod: async (_key, _stale, { context, options }) => {
      const entry = await lookup(context.header, context.session)
      if (entry.principal === null) {
        options.ttl = Math.max(negTtl, 1)
      } else if (entry.principal.expiresAt !== undefined) {
        options.ttl = Math.max(1, Math.min(ttl, entry.principal.expiresAt - now()))
      }
      return entry
    },
    // A failed look-up (time-out, 5xx, garbage) must never be cached, nor serve a stale answer.
    allowStaleOnFetchRejection: false,
    noDeleteOnFetchRejection: false,
  })

  const authenticate = async function authenticateIntrospect (req: AuthRequest): Promise<Principal | null> {
    // Forward the cookies byte for byte as the browser sent them (a URI-decoded value may not be what the
    // dashboard issued); fall back to parsed cookies when there is no header (programmatic callers).
    const cookies = req.headers.cookie !== undefined ? rawCookies(req.headers.cookie, cookieNames) : req.cookies
    // Canonical, name-sorted list of only the configured cookies: the cache key and what the dashboard sees.
    const parts: string[] = []
    for (const name of sortedNames) {
      const v = cookies[name]
      if (v !== undefined && v !== '') parts.push(`${name}=${v}`)
    }
    if (parts.length === 0) return null
    const header = parts.join('; ')
    // The session hash names the primary cookie's value alone, as in the other strategies, so a dashboard can
    // compute it for a revocation; the cache key covers every forwarded cookie.
    const primary = cookies[cookieNames[0]]
    const session = hash(primary !== undefined && primary !== '' ? primary : header)
    const key = parts.length === 1 && primary !== undefined ? session : hash(header)
    if (metrics !== undefined) {
      if (cache.has(key)) metrics.cacheHit(); else metrics.cacheMiss()
    }
    const entry = await cache.fetch(key, { context: { header, session } })
    if (entry === undefined || entry.principal === null) {
      if (negTtl <= 0) cache.delete(key)
      return null
    }
    // A fresh object per caller, so nobody mutates the cached principal.
    return { ...entry.principal, subjects: entry.principal.subjects?.slice(), session }
  } as IntrospectAuthenticate
  authenticate.close = async () => { await pool.close() }
  authenticate.forget = (who) => {
    if (who === undefined) return cache.clear()
    for (const [key, entry] of cache.entries()) {
      if ((who.session !== undefined && entry.session === who.session) ||
        (who.user !== undefined && entry.principal?.user === who.user)) cache.delete(key)
    }
  }
  return authenticate
}
