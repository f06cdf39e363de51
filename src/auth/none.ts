/**
 * The `none` strategy: development only. Every request is the same principal.
 * Refused when NODE_ENV=production, so a forgotten SSE_AUTH cannot open a production gateway to everyone.
 */
import { GatewayError } from '../errors.js'
import type { Authenticate } from './types.js'

export const NONE_WARNING = 'SSE_AUTH=none, no authentication configured: every request is accepted as the same anonymous user. Development only; never deploy this.'

export interface NoneOptions {
  user?: string
  subjects?: string[]
  /** NODE_ENV (defaults to process.env.NODE_ENV). */
  nodeEnv?: string
}

export function noneAuthenticator (opts: NoneOptions = {}): Authenticate {
  const env = opts.nodeEnv ?? process.env.NODE_ENV
  if (env === 'production') throw new GatewayError('SSE_ERR_CONFIG', ['SSE_AUTH: none is refused when NODE_ENV=production'])
  const user = opts.user ?? 'anonymous'
  const subjects = opts.subjects
  return async function authenticateNone () {
    // anonymous: every browser shares this one "user", so the per-user connection cap must not apply.
    return { user, anonymous: true, ...(subjects ? { subjects: [...subjects] } : {}) }
  }
}
