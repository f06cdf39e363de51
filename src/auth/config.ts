/**
 * Authentication and authorization settings from `SSE_*` environment variables, read once and validated.
 * A bad value throws GatewayError('SSE_ERR_CONFIG', ['<VAR>: why']); see README "Configuration".
 */
import { GatewayError } from '../errors.js'
import { checkSubject } from '../subject.js'
import { parseRules } from './authorize.js'
import { DEFAULT_DJANGO_COOKIE, DEFAULT_DJANGO_MAX_AGE_S } from './django.js'
import {
  DEFAULT_INTROSPECT_CACHE_MAX, DEFAULT_INTROSPECT_CONNECTIONS, DEFAULT_INTROSPECT_MAX_BODY_BYTES,
  DEFAULT_INTROSPECT_NEGATIVE_TTL_MS, DEFAULT_INTROSPECT_TIMEOUT_MS, DEFAULT_INTROSPECT_TTL_MS,
} from './introspect.js'
import { normalizeOrigin } from './origin.js'
import { DEFAULT_SIGNED_COOKIE } from './signed-cookie.js'

export const AUTH_STRATEGIES = ['django', 'introspect', 'signed-cookie', 'none'] as const
export type AuthStrategy = typeof AUTH_STRATEGIES[number]

export const DEFAULT_REVALIDATE_MS = 60_000
export const DEFAULT_REVALIDATE_GRACE_MS = 300_000
export const DEFAULT_CONTROL_SUBJECT = 'sse.control'
/** Signing secrets shorter than this are guessable offline from one cookie. */
export const MIN_COOKIE_SECRET_LENGTH = 32

export interface AuthConfig {
  strategy: AuthStrategy
  /** Session cookie name(s): django and signed-cookie read the first; introspect forwards all of them. */
  cookieNames: string[]
  django?: { secretKey: string, fallbackKeys: string[], maxAgeSeconds: number }
  introspect?: {
    url: string, timeoutMs: number, ttlMs: number, negativeTtlMs: number, cacheMax: number, maxBodyBytes: number, connections: number
  }
  /** signed-cookie secrets; the first signs. */
  cookieSecrets?: string[]
  /** Key of the session hash shared by every instance (revocation by session); unset → per-process random key. */
  sessionHashKey?: string
  /** SSE_ALLOW rules (validated patterns with `{placeholders}`). */
  allow: string[]
  /** SSE_ORIGINS (normalised); empty → the request's own origin. */
  origins: string[]
  trustProxy: boolean
  revalidateMs: number
  revalidateGraceMs: number
  controlSubject: string
  nodeEnv?: string
}

type Env = Record<string, string | undefined>

function fail (name: string, why: string): never {
  throw new GatewayError('SSE_ERR_CONFIG', [`${name}: ${why}`])
}

function str (env: Env, name: string): string | undefined {
  const v = env[name]
  return v === undefined || v.trim() === '' ? undefined : v.trim()
}

function list (env: Env, name: string): string[] {
  const v = str(env, name)
  return v === undefined ? [] : v.split(',').map((s) => s.trim()).filter((s) => s !== '')
}

function int (env: Env, name: string, fallback: number, min: number, max = Number.MAX_SAFE_INTEGER): number {
  const v = str(env, name)
  if (v === undefined) return fallback
  if (!/^\d+$/.test(v)) fail(name, `must be a whole number, got ${JSON.stringify(v)}`)
  const n = Number(v)
  if (!Number.isSafeInteger(n) || n < min || n > max) fail(name, `must be between ${min} and ${max}, got ${v}`)
  return n
}

function bool (env: Env, name: string, fallback: boolean): boolean {
  const v = str(env, name)?.toLowerCase()
  if (v === undefined) return fallback
  if (['1', 'true', 'yes', 'on'].includes(v)) return true
  if (['0', 'false', 'no', 'off'].includes(v)) return false
  return fail(name, `must be true or false, got ${JSON.stringify(v)}`)
}

// RFC 6265 cookie-name = token.
const COOKIE_NAME = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]{1,128}$/

export function authConfigFromEnv (env: Env = process.env): AuthConfig {
  const nodeEnv = str(env, 'NODE_ENV')
  const production = nodeEnv === 'production'
  const rawStrategy = str(env, 'SSE_AUTH')
  if (rawStrategy === undefined && production) fail('SSE_AUTH', `is required when NODE_ENV=production (one of ${AUTH_STRATEGIES.join(', ')})`)
  const strategy = (rawStrategy ?? 'none') as AuthStrategy
  if (!AUTH_STRATEGIES.includes(strategy)) fail('SSE_AUTH', `must be one of ${AUTH_STRATEGIES.join(', ')}, got ${JSON.stringify(rawStrategy)}`)
  if (strategy === 'none' && production) fail('SSE_AUTH', 'none is refused when NODE_ENV=production')

  const defaultCookie = strategy === 'signed-cookie' ? DEFAULT_SIGNED_COOKIE : DEFAULT_DJANGO_COOKIE
  const cookieNames = list(env, 'SSE_SESSION_COOKIE')
  if (cookieNames.length === 0) cookieNames.push(defaultCookie)
  for (const c of cookieNames) if (!COOKIE_NAME.test(c)) fail('SSE_SESSION_COOKIE', `${JSON.stringify(c)} is not a cookie name`)
  if (strategy !== 'introspect' && cookieNames.length > 1) fail('SSE_SESSION_COOKIE', `only introspect forwards several cookies; ${strategy} reads one`)

  const cfg: AuthConfig = {
    strategy,
    cookieNames,
    allow: [],
    origins: [],
    trustProxy: bool(env, 'SSE_TRUST_PROXY', false),
    revalidateMs: int(env, 'SSE_REVALIDATE_MS', DEFAULT_REVALIDATE_MS, 100, 86_400_000),
    revalidateGraceMs: int(env, 'SSE_REVALIDATE_GRACE_MS', DEFAULT_REVALIDATE_GRACE_MS, 0, 86_400_000),
    controlSubject: str(env, 'SSE_CONTROL_SUBJECT') ?? DEFAULT_CONTROL_SUBJECT,
    ...(nodeEnv !== undefined ? { nodeEnv } : {}),
  }
  const hashKey = str(env, 'SSE_SESSION_HASH_KEY')
  if (hashKey !== undefined) {
    if (hashKey.length < 16) fail('SSE_SESSION_HASH_KEY', 'must be at least 16 characters')
    cfg.sessionHashKey = hashKey
  }
  const control = checkSubject(cfg.controlSubject, { wildcards: false })
  if (control !== undefined) fail('SSE_CONTROL_SUBJECT', `${JSON.stringify(cfg.controlSubject)} is not a literal subject (${control})`)

  const allow = list(env, 'SSE_ALLOW')
  parseRules(allow, 'SSE_ALLOW')
  // Development convenience: with no auth and no rules every topic is allowed (there is nobody to tell apart).
  cfg.allow = allow.length === 0 && strategy === 'none' ? ['>'] : allow

  for (const o of list(env, 'SSE_ORIGINS')) {
    if (o === '*' || o === 'null') fail('SSE_ORIGINS', `${o} is never allowed with credentials; list exact origins`)
    const n = normalizeOrigin(o)
    if (n === undefined) fail('SSE_ORIGINS', `${JSON.stringify(o)} is not an origin (scheme://host[:port])`)
    cfg.origins.push(n)
  }

  switch (strategy) {
    case 'django': {
      const secretKey = env.SSE_DJANGO_SECRET_KEY
      if (secretKey === undefined || secretKey === '') fail('SSE_DJANGO_SECRET_KEY', 'is required with SSE_AUTH=django (Django\'s SECRET_KEY)')
      cfg.django = {
        // Not trimmed: Django uses SECRET_KEY byte for byte.
        secretKey,
        fallbackKeys: list(env, 'SSE_DJANGO_SECRET_KEY_FALLBACKS'),
        maxAgeSeconds: int(env, 'SSE_SESSION_MAX_AGE', DEFAULT_DJANGO_MAX_AGE_S, 1),
      }
      break
    }
    case 'introspect': {
      const url = str(env, 'SSE_INTROSPECT_URL')
      if (url === undefined) fail('SSE_INTROSPECT_URL', 'is required with SSE_AUTH=introspect')
      let u: URL
      try { u = new URL(url) } catch { fail('SSE_INTROSPECT_URL', `${JSON.stringify(url)} is not a URL`) }
      if (u.protocol !== 'http:' && u.protocol !== 'https:') fail('SSE_INTROSPECT_URL', 'must be http(s)')
      if (u.username !== '' || u.password !== '') fail('SSE_INTROSPECT_URL', 'must not carry credentials')
      cfg.introspect = {
        url,
        timeoutMs: int(env, 'SSE_INTROSPECT_TIMEOUT_MS', DEFAULT_INTROSPECT_TIMEOUT_MS, 10, 60_000),
        ttlMs: int(env, 'SSE_INTROSPECT_TTL_MS', DEFAULT_INTROSPECT_TTL_MS, 1, 3_600_000),
        negativeTtlMs: int(env, 'SSE_INTROSPECT_NEGATIVE_TTL_MS', DEFAULT_INTROSPECT_NEGATIVE_TTL_MS, 0, 3_600_000),
        cacheMax: int(env, 'SSE_INTROSPECT_CACHE_MAX', DEFAULT_INTROSPECT_CACHE_MAX, 1, 10_000_000),
        maxBodyBytes: int(env, 'SSE_INTROSPECT_MAX_BODY_BYTES', DEFAULT_INTROSPECT_MAX_BODY_BYTES, 64, 16 * 1024 * 1024),
        connections: int(env, 'SSE_INTROSPECT_CONNECTIONS', DEFAULT_INTROSPECT_CONNECTIONS, 1, 1024),
      }
      break
    }
    case 'signed-cookie': {
      const secrets = list(env, 'SSE_COOKIE_SECRET')
      if (secrets.length === 0) fail('SSE_COOKIE_SECRET', 'is required with SSE_AUTH=signed-cookie')
      if (secrets.some((s) => s.length < MIN_COOKIE_SECRET_LENGTH)) fail('SSE_COOKIE_SECRET', `every secret must be at least ${MIN_COOKIE_SECRET_LENGTH} characters`)
      cfg.cookieSecrets = secrets
      break
    }
    case 'none':
      break
  }
  return cfg
}
