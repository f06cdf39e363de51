/**
 * Authentication and authorization, assembled from configuration.
 *
 * `createAuthFromConfig(cfg)` returns the three functions the `/events` plugin takes (`authenticate`,
 * `authorize`, `checkOrigin`) plus what the auth plugin needs for open streams: `revalidate` (re-checks a
 * principal without the original request) and its settings.
 * @module
 */
import type { Authenticate, Authorize, AuthRequest, Principal } from './types.js'
import type { AuthConfig } from './config.js'
import { createAuthorizer } from './authorize.js'
import { AuthTelemetry } from '../telemetry.js'
import { djangoAuthenticator } from './django.js'
import { introspectAuthenticator, rawCookies } from './introspect.js'
import { NONE_WARNING, noneAuthenticator } from './none.js'
import { createOriginCheck, type CheckOrigin } from './origin.js'
import { createSessionHasher } from './session-hash.js'
import { matchSubject } from '../subject.js'
import { signedCookieAuthenticator } from './signed-cookie.js'

export type { AuthConfig, AuthStrategy } from './config.js'
export { authConfigFromEnv } from './config.js'
export type { Authenticate, Authorize, AuthRequest, Principal } from './types.js'
export type { CheckOrigin, OriginDecision, OriginRequest } from './origin.js'

/** Outcome of re-checking an open stream's principal. */
export type RevalidateResult =
  | { status: 'ok', principal: Principal }
  /** The session ended (expired, logged out, revoked): `event: unauthorized`, close. */
  | { status: 'denied' }
  /** The answer is not known right now (dashboard down): keep the stream within the grace period. */
  | { status: 'unavailable' }

export interface AuthRuntime {
  strategy: AuthConfig['strategy']
  authenticate: Authenticate
  authorize: Authorize
  checkOrigin: CheckOrigin
  /** Re-checks a principal this runtime authenticated earlier (same cookies, current time). */
  revalidate: (principal: Principal) => Promise<RevalidateResult>
  /** Drops cached answers for a user or session (revocation). */
  forget: (who: { user?: string, session?: string }) => void
  revalidateMs: number
  revalidateGraceMs: number
  controlSubject: string
  cookieNames: readonly string[]
  /** Warnings to log once at start-up (e.g. SSE_AUTH=none). */
  warnings: string[]
  /** Cache and dashboard figures the strategy reports; the gateway exports them at /metrics. */
  metrics: AuthTelemetry
  close: () => Promise<void>
}

export function createAuthFromConfig (cfg: AuthConfig): AuthRuntime {
  const hasher = createSessionHasher(cfg.sessionHashKey)
  const metrics = new AuthTelemetry()
  const warnings: string[] = []
  let base: Authenticate
  let close = async (): Promise<void> => {}
  let forget: AuthRuntime['forget'] = () => {}
  const cookieName = cfg.cookieNames[0]
  switch (cfg.strategy) {
    case 'django':
      base = djangoAuthenticator({ ...cfg.django!, cookieName, sessionHasher: hasher })
      break
    case 'introspect': {
      const a = introspectAuthenticator({ ...cfg.introspect!, cookieNames: cfg.cookieNames, sessionHasher: hasher, metrics })
      base = a
      close = a.close
      forget = a.forget
      break
    }
    case 'signed-cookie':
      base = signedCookieAuthenticator({ secrets: cfg.cookieSecrets!, cookieName, sessionHasher: hasher })
      break
    case 'none':
      base = noneAuthenticator({ nodeEnv: cfg.nodeEnv ?? '' })
      warnings.push(NONE_WARNING)
      break
  }
  if (cfg.sessionHashKey === undefined && cfg.strategy !== 'none') {
    warnings.push('SSE_SESSION_HASH_KEY is not set: revocation by session hash works on this instance only (revocation by user works everywhere).')
  }

  // What revalidation needs from the original request: only the configured cookies, nothing else.
  const origin = new WeakMap<Principal, AuthRequest>()
  const authenticate: Authenticate = async (req) => {
    const p = await base(req)
    if (p !== null) {
      const cookies: Record<string, string | undefined> = {}
      for (const n of cfg.cookieNames) if (req.cookies[n] !== undefined) cookies[n] = req.cookies[n]
      // Keep the raw header values too: introspection forwards them byte for byte, and a URI-decoded value
      // may not be the session the dashboard issued.
      const headers: AuthRequest['headers'] = {}
      if (req.headers.cookie !== undefined) {
        const raw = rawCookies(req.headers.cookie, cfg.cookieNames)
        const parts = cfg.cookieNames.filter((n) => raw[n] !== undefined).map((n) => `${n}=${raw[n]}`)
        if (parts.length > 0) headers.cookie = parts.join('; ')
      }
      origin.set(p, { cookies, headers })
    }
    return p
  }

  const revalidate = async (principal: Principal): Promise<RevalidateResult> => {
    if (principal.expiresAt !== undefined && principal.expiresAt <= Date.now()) return { status: 'denied' }
    const req = origin.get(principal)
    if (req === undefined) return { status: 'ok', principal } // not ours (e.g. a custom authenticate): nothing to re-check
    try {
      const p = await authenticate(req)
      if (p === null || p.user !== principal.user) return { status: 'denied' }
      return { status: 'ok', principal: p }
    } catch {
      // SSE_ERR_AUTH_UNAVAILABLE or anything unexpected: not a definitive answer, so not a reason to cut a stream.
      return { status: 'unavailable' }
    }
  }

  // Browsers never see the control subject, whatever the rules say: it names users and session hashes.
  const rules = createAuthorizer(cfg.allow)
  const authorize: Authorize = (p, topics) =>
    topics.find((t) => matchSubject(t, cfg.controlSubject)) ?? rules(p, topics)

  return {
    strategy: cfg.strategy,
    authenticate,
    authorize,
    checkOrigin: createOriginCheck({ origins: cfg.origins, trustProxy: cfg.trustProxy }),
    revalidate,
    forget,
    revalidateMs: cfg.revalidateMs,
    revalidateGraceMs: cfg.revalidateGraceMs,
    controlSubject: cfg.controlSubject,
    cookieNames: cfg.cookieNames,
    warnings,
    metrics,
    close,
  }
}
