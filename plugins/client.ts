/**
 * Serves the browser client (client/index.js) at a stable path, `/events/client.js` by default, so a dashboard adds
 * one `<script type="module">` and picks up the version that matches its gateway.
 */
import { createHash } from 'node:crypto'
import { existsSync, readFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import type { FastifyInstance, FastifyPluginAsync } from 'fastify'
import fp from 'fastify-plugin'

export interface ClientPluginOptions {
  /** Route of the module. Default `/events/client.js`. */
  path?: string
  /**
   * `Cache-Control: max-age` in seconds. Default 300: the path is stable across upgrades, so caches keep it only
   * briefly and then revalidate with the ETag (a 304 costs no body).
   */
  maxAgeS?: number
}

export const DEFAULT_CLIENT_PATH = '/events/client.js'
export const DEFAULT_CLIENT_MAX_AGE_S = 300

/** Finds client/index.js from plugins/ (sources, tsx) or dist/plugins/ (built). */
export function clientSourcePath (): string {
  const here = dirname(fileURLToPath(import.meta.url))
  for (const p of [join(here, '..', 'client', 'index.js'), join(here, '..', '..', 'client', 'index.js')]) {
    if (existsSync(p)) return p
  }
  throw new Error(`sse-gateway: client/index.js not found next to ${here}`)
}

async function sseGatewayClient (fastify: FastifyInstance, opts: ClientPluginOptions): Promise<void> {
  const path = opts.path ?? DEFAULT_CLIENT_PATH
  const maxAge = opts.maxAgeS ?? DEFAULT_CLIENT_MAX_AGE_S
  if (!Number.isInteger(maxAge) || maxAge < 0) throw new TypeError(`invalid option maxAgeS: ${String(maxAge)}`)
  // Read once at registration: the file ships with the package and never changes while the process runs.
  const body = readFileSync(clientSourcePath())
  const etag = `"${createHash('sha256').update(body).digest('base64url').slice(0, 27)}"`

  fastify.route({
    method: ['GET', 'HEAD'],
    url: path,
    handler: async (request, reply) => {
      reply
        .header('content-type', 'text/javascript; charset=utf-8')
        .header('cache-control', `public, max-age=${maxAge}`)
        .header('etag', etag)
        .header('x-content-type-options', 'nosniff')
      const inm = request.headers['if-none-match']
      if (typeof inm === 'string' && inm.split(',').some(t => t.trim().replace(/^W\//, '') === etag)) {
        return await reply.code(304).send()
      }
      return await reply.send(body)
    },
  })
}

export const sseGatewayClientPlugin: FastifyPluginAsync<ClientPluginOptions> = fp(sseGatewayClient, {
  fastify: '5.x',
  name: 'sse-gateway-client',
})

export default sseGatewayClientPlugin
