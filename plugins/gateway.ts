/**
 * The whole gateway as one plugin: `/events` (stream, cursor, publish) and whatever the other plugins add.
 * Register this in an existing Fastify app, or run the standalone server in bin/.
 */
import type { FastifyInstance } from 'fastify'
import fp from 'fastify-plugin'
import { sseEventsPlugin, type SseEventsOptions } from './events.js'

export type SseGatewayOptions = SseEventsOptions

async function sseGateway (fastify: FastifyInstance, opts: SseGatewayOptions): Promise<void> {
  await fastify.register(sseEventsPlugin, opts)
}

export const sseGatewayPlugin = fp(sseGateway, { fastify: '5.x', name: 'sse-gateway' })
export default sseGatewayPlugin
export { sseEventsPlugin } from './events.js'
export type { SseEventsOptions } from './events.js'
