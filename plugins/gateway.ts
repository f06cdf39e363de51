/**
 * The whole gateway as one plugin: `/events` (stream, cursor, publish) and whatever the other plugins add.
 * Register this in an existing Fastify app, or run the standalone server in bin/.
 */
import type { FastifyInstance } from 'fastify'
import fp from 'fastify-plugin'
import { sseEventsPlugin, type SseEventsOptions } from './events.js'
import { ssePollPlugin } from './poll.js'
import { sseGatewayClientPlugin, type ClientPluginOptions } from './client.js'
import { sseHealthPlugin, type SseHealthOptions } from './health.js'
import { sseMetricsPlugin, type SseMetricsOptions } from './metrics.js'
import { sseAuthPlugin } from './auth.js'
import type { AuthRuntime } from '../src/auth/index.js'

export interface SseGatewayOptions extends SseEventsOptions {
  /** Options of the browser client route (`/events/client.js`), or false to not serve it. */
  client?: ClientPluginOptions | false
  /** `/healthz` and `/readyz`; `false` to leave probes to the app. Default on. */
  health?: SseHealthOptions | false
  /** `/metrics` (Prometheus); `false` to disable. Default on. */
  metrics?: SseMetricsOptions | false
  /**
   * Authentication, authorization, Origin check, re-validation and revocation from one runtime
   * (`createAuthFromConfig(authConfigFromEnv())`). Explicit `authenticate` / `authorize` / `checkOrigin` win.
   */
  auth?: AuthRuntime
}

async function sseGateway (fastify: FastifyInstance, opts: SseGatewayOptions): Promise<void> {
  const { client, health, metrics, auth, ...events } = opts
  await fastify.register(sseEventsPlugin, auth === undefined
    ? events
    : {
        ...events,
        authenticate: events.authenticate ?? auth.authenticate,
        authorize: events.authorize ?? auth.authorize,
        checkOrigin: events.checkOrigin ?? auth.checkOrigin,
        authMetrics: events.authMetrics ?? auth.metrics,
      })
  if (auth !== undefined) await fastify.register(sseAuthPlugin, { auth })
  await fastify.register(ssePollPlugin, { path: opts.path })
  if (client !== false) {
    await fastify.register(sseGatewayClientPlugin, { path: `${opts.path ?? '/events'}/client.js`, ...client })
  }
  if (health !== false) await fastify.register(sseHealthPlugin, health ?? {})
  if (metrics !== false) await fastify.register(sseMetricsPlugin, metrics ?? {})
}

export const sseGatewayPlugin = fp(sseGateway, { fastify: '5.x', name: 'sse-gateway' })
export default sseGatewayPlugin
export { sseEventsPlugin } from './events.js'
export type { SseEventsOptions } from './events.js'
export { sseHealthPlugin } from './health.js'
export { sseMetricsPlugin } from './metrics.js'
export { sseAuthPlugin } from './auth.js'
export { authConfigFromEnv, createAuthFromConfig } from '../src/auth/index.js'
export type { AuthConfig, AuthRuntime } from '../src/auth/index.js'
