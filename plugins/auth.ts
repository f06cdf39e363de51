/**
 * Fastify wiring of the session guard: re-validation of open streams and the revocation subscription.
 * Registered by plugins/gateway.ts after `/events` when an `auth` runtime is given; the logic is in src/auth/guard.ts.
 */
import type { FastifyInstance } from 'fastify'
import fp from 'fastify-plugin'
import type { AuthRuntime } from '../src/auth/index.js'
import { SessionGuard } from '../src/auth/guard.js'

export interface SseAuthOptions {
  auth: AuthRuntime
}

declare module 'fastify' {
  interface FastifyInstance {
    /** Re-validation and revocation of open streams (present when the gateway was given an `auth` runtime). */
    sseSessionGuard: SessionGuard
  }
}

async function sseAuth (fastify: FastifyInstance, opts: SseAuthOptions): Promise<void> {
  const { auth } = opts
  for (const w of auth.warnings) fastify.log.warn(`sse-gateway: ${w}`)
  const guard = new SessionGuard(fastify.sseGateway, {
    revalidate: auth.revalidate,
    authorize: auth.authorize,
    forget: auth.forget,
    intervalMs: auth.revalidateMs,
    graceMs: auth.revalidateGraceMs,
    controlSubject: auth.controlSubject,
    log: fastify.log,
  })
  fastify.decorate('sseSessionGuard', guard)
  // The guard's subscription goes through the hub, which needs the bus started by the events plugin.
  fastify.addHook('onReady', async () => { guard.start() })
  fastify.addHook('preClose', async () => { guard.stop() })
  fastify.addHook('onClose', async () => { await auth.close() })
}

export const sseAuthPlugin = fp(sseAuth, { fastify: '5.x', name: 'sse-gateway-auth', dependencies: ['sse-gateway-events'] })
export default sseAuthPlugin
