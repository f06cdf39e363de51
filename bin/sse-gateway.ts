#!/usr/bin/env node
/**
 * The standalone server: `SSE_*` environment variables → a Fastify app with the gateway plugin.
 * Invalid configuration exits with code 2 and one line naming the variable.
 */
import { realpathSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import Fastify, { type FastifyInstance } from 'fastify'
import { configFromEnv, type ServerConfig } from '../src/config.js'
import { isGatewayError } from '../src/errors.js'
import { sseGatewayPlugin, type SseGatewayOptions } from '../plugins/gateway.js'
import { demoPagePlugin } from '../plugins/demo.js'

/** Never log credentials: cookies, authorization headers, or query strings (which may carry cursors). */
export const LOG_REDACT = [
  'req.headers.cookie', 'req.headers.authorization', 'req.headers["last-event-id"]',
  'res.headers["set-cookie"]', 'headers.cookie', 'headers.authorization'
]

export async function buildServer (config: ServerConfig, extra: Partial<SseGatewayOptions> = {}): Promise<FastifyInstance> {
  const app = Fastify({
    logger: {
      level: config.logLevel,
      redact: { paths: LOG_REDACT, censor: '[redacted]' },
      serializers: {
        req (req) {
          return { method: req.method, url: req.url.split('?')[0], remoteAddress: req.ip }
        }
      }
    },
    // Slowloris: a client must finish its request head within this time.
    connectionTimeout: 0,
    requestTimeout: 0,
    // During shutdown a new stream must get the retry-later answer (200 + `unavailable`), never a 503 that stops EventSource.
    return503OnClosing: false
  })
  await app.register(sseGatewayPlugin, { ...config.options, ...extra })
  await app.register(demoPagePlugin)
  return app
}

async function main (): Promise<void> {
  let config: ServerConfig
  try {
    config = configFromEnv(process.env)
  } catch (err) {
    process.stderr.write(`sse-gateway: ${isGatewayError(err) ? err.message : String(err)}\n`)
    process.exit(2)
  }
  const app = await buildServer(config)
  const address = await app.listen({ host: config.host, port: config.port })
  const url = address.replace('0.0.0.0', '127.0.0.1')
  process.stdout.write(`sse-gateway listening on ${url} (bus: ${app.sseGateway.bus.kind})\n`)
  if (config.generatedToken) {
    process.stdout.write(`publish token (generated; set SSE_PUBLISH_TOKEN to choose one): ${config.options.publishToken}\n` +
      `try: open ${url}/ and run\n  curl -H 'Authorization: Bearer ${config.options.publishToken}' -H 'Content-Type: application/json' ` +
      `-d '{"subject":"demo.hello","data":{"msg":"hi"}}' ${url}/events/publish\n`)
  }
  let closing = false
  const shutdown = (signal: string): void => {
    if (closing) return
    closing = true
    app.log.info({ signal }, 'shutting down')
    app.close().then(() => process.exit(0), () => process.exit(1))
  }
  process.on('SIGTERM', () => shutdown('SIGTERM'))
  process.on('SIGINT', () => shutdown('SIGINT'))
}

// Run only when executed (directly or through the npm bin symlink), not when imported by tests.
if (process.argv[1] !== undefined && realpathSync(process.argv[1]) === fileURLToPath(import.meta.url)) {
  main().catch(err => {
    process.stderr.write(`sse-gateway: ${(err as Error).stack ?? String(err)}\n`)
    process.exit(1)
  })
}
