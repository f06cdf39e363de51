/**
 * Probes for orchestrators:
 *
 *   GET /healthz   200 while the process can answer HTTP at all (liveness)
 *   GET /readyz    200 when the bus can serve (NATS connected; JetStream stream reachable when configured) and the
 *                  instance is not draining; otherwise 503 with the gateway's error body, so a load balancer stops
 *                  sending new streams here the moment a drain starts
 */
import type { FastifyInstance } from 'fastify'
import fp from 'fastify-plugin'
import { GatewayError } from '../src/errors.js'

export interface SseHealthOptions {
  /** Default `/healthz`. */
  livenessPath?: string
  /** Default `/readyz`. */
  readinessPath?: string
}

async function sseHealth (fastify: FastifyInstance, opts: SseHealthOptions): Promise<void> {
  const gateway = fastify.sseGateway

  fastify.get(opts.livenessPath ?? '/healthz', async (_request, reply) => {
    return reply.header('Cache-Control', 'no-store').send({ status: 'ok' })
  })

  fastify.get(opts.readinessPath ?? '/readyz', async (_request, reply) => {
    const health = gateway.bus.health()
    // Only kind/state/ready: the bus detail may name servers and cursors, which a probe has no use for.
    const bus = { kind: gateway.bus.kind, state: health.state, ready: health.ready }
    reply.header('Cache-Control', 'no-store')
    if (!gateway.draining && health.ready) return reply.send({ status: 'ready', streams: gateway.size, bus })
    const err = new GatewayError(gateway.draining ? 'SSE_ERR_DRAINING' : 'SSE_ERR_BUS_UNAVAILABLE')
    return reply.code(503).type('application/json; charset=utf-8').send({ ...err.toJSON(), status: 'not_ready', bus })
  })
}

export const sseHealthPlugin = fp(sseHealth, { fastify: '5.x', name: 'sse-gateway-health', dependencies: ['sse-gateway-events'] })
export default sseHealthPlugin
