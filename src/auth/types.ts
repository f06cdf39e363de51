/**
 * Authentication turns a request's cookies into a principal; authorization decides which subjects it may see.
 * Strategies are factories returning one `Authenticate` function (src/auth/<strategy>.ts).
 */
import type { IncomingHttpHeaders } from 'node:http'

export interface Principal {
  /** Stable user id (Django `_auth_user_id`, the introspection `user`, the signed cookie's `user`). */
  user: string
  /** Extra subject patterns this principal may subscribe to, on top of the configured rules. */
  subjects?: string[]
  /** A keyed hash of the session cookie: identifies the session in logs and revocations, never the cookie itself. */
  session?: string
  /** Epoch milliseconds after which the session is no longer valid. */
  expiresAt?: number
  /** Strategy-specific fields (Django session data, introspection body) usable as `{placeholders}` in rules. */
  data?: Record<string, unknown>
  /** Development mode (no authentication): no per-user connection cap applies. */
  anonymous?: boolean
}

/** What a strategy sees of a request: no Fastify types, so the core stays framework-free. */
export interface AuthRequest {
  cookies: Record<string, string | undefined>
  headers: IncomingHttpHeaders
  /** True when the request arrived over TLS at this process (its own scheme when no trusted proxy says otherwise). */
  encrypted?: boolean
}

/**
 * Returns the principal, or null when there is no valid session (→ 401).
 * Throws `GatewayError('SSE_ERR_AUTH_UNAVAILABLE')` when the answer is not known right now (backend slow or down).
 */
export type Authenticate = (req: AuthRequest) => Promise<Principal | null>

/** Returns the first topic the principal may not see, or undefined when all are allowed. */
export type Authorize = (principal: Principal, topics: readonly string[]) => string | undefined
