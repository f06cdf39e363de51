#!/usr/bin/env node
/**
 * The standalone server: `SSE_*` environment variables → a Fastify app with the gateway plugin.
 * Invalid configuration exits with code 2 and one line naming the variable.
 */
import { realpathSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import closeWithGrace from 'close-with-grace'
import Fastify, { type FastifyInstance } from 'fastify'
import { configFromEnv, defaultServerLimits, type ServerConfig } from '../src/config.js'
import { isGatewayError } from '../src/errors.js'
import { sseGatewayPlugin, type SseGatewayOptions } from '../plugins/gateway.js'
import { demoPagePlugin } from '../plugins/demo.js'
import { authConfigFromEnv, createAuthFromConfig } from '../src/auth/index.js'

/** Never log credentials: cookies, authorization headers, or query strings (which may carry cursors). */
export const LOG_REDACT = [
  'req.headers.cookie', 'req.headers.authorization', 'req.headers["last-event-id"]',
  'res.headers["set-cookie"]', 'headers.cookie', 'headers.authorization',
  // NATS server URLs the bus logs may carry user:password@.
  'servers[*]', 'server'
]

/** Masks the userinfo of a logged NATS URL (the host stays useful); everything else redacted is replaced whole. */
export function censorLogValue (value: unknown, path: string[]): unknown {
  if ((path[0] === 'servers' || path[0] === 'server') && typeof value === 'string') return value.replace(/\/\/[^@/]*@/, '//[redacted]@')
  if (path[0] === 'server' && typeof value !== 'string') return value
  return '[redacted]'
}

export async function buildServer (config: ServerConfig, extra: Partial<SseGatewayOptions> = {}): Promise<FastifyInstance> {
  const limits = config.server ?? defaultServerLimits()
  const app = Fastify({
    logger: {
      level: config.logLevel,
      redact: { paths: LOG_REDACT, censor: censorLogValue },
      serializers: {
        req (req) {
          return { method: req.method, url: req.url.split('?')[0], remoteAddress: req.ip }
        }
      }
    },
    http: {
      // Larger request heads get 431 before any handler runs (CVE-2018-12121 class).
      maxHeaderSize: limits.maxHeaderBytes,
      // Slowloris: a client must finish its request head within headersTimeout. Node checks open connections every
      // connectionsCheckingInterval (30 s by default, far coarser than the timeout), so check more often.
      headersTimeout: limits.headersTimeoutMs,
      connectionsCheckingInterval: Math.max(100, Math.min(1000, Math.floor(limits.headersTimeoutMs / 4)))
    },
    // No idle-socket timeout: a stream is idle between heartbeats by design. requestTimeout bounds receiving the
    // request (head and body), not the response, so it leaves open streams alone.
    connectionTimeout: 0,
    requestTimeout: limits.requestTimeoutMs,
    // While closing, a stream request must still get the gateway's 200 + `retry:` + `unavailable` answer
    // (SSE_ERR_DRAINING): a 503 would stop a browser's EventSource for good.
    return503OnClosing: false
  })
  await app.register(sseGatewayPlugin, {
    ...config.options,
    ...(limits.metrics ? {} : { metrics: false }),
    ...(config.nats !== undefined ? { nats: config.nats } : {}),
    auth: createAuthFromConfig(config.auth ?? authConfigFromEnv({})),
    ...extra
  })
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
  installShutdown(app, config.server ?? defaultServerLimits())
}

/**
 * SIGTERM/SIGINT (and uncaught errors): readiness fails at once and new streams get the retry-later answer
 * (`drain()` sets the flag first), open streams are closed in batches over `drainMs` with a jittered `retry:`,
 * then Fastify closes (remaining sockets ended, stragglers destroyed after closeGraceMs, the bus drained and closed).
 * close-with-grace exits with 1 if all that outlives `shutdownTimeoutMs`, and at once on a second signal.
 */
function installShutdown (app: FastifyInstance, limits: { drainMs: number, shutdownTimeoutMs: number }): void {
  const logger = { error: (msg: unknown) => { app.log.error(typeof msg === 'string' ? msg : { err: msg }, 'shutdown') } }
  closeWithGrace({ delay: limits.shutdownTimeoutMs, logger }, async ({ signal, err }) => {
    const gateway = app.sseGateway
    const started = Date.now()
    if (err !== undefined) app.log.error({ err }, 'fatal error; shutting down')
    app.log.info({ signal, streams: gateway.size, drainMs: limits.drainMs }, 'draining')
    // On a crash the process state is suspect: skip the spread-out drain, close at once.
    await gateway.drain(err !== undefined ? 0 : limits.drainMs)
    await app.close()
    app.log.info({ signal, ms: Date.now() - started, forcedCloses: gateway.stats.forcedCloses }, 'shut down')
  })
}

// Run only when executed (directly or through the npm bin symlink), not when imported by tests.
if (process.argv[1] !== undefined && realpathSync(process.argv[1]) === fileURLToPath(import.meta.url)) {
  main().catch(err => {
    // A configuration problem found at start-up (e.g. a missing JetStream stream) is one line naming it, exit 2.
    if (isGatewayError(err) && err.code === 'SSE_ERR_CONFIG') { process.stderr.write(`sse-gateway: ${err.message}\n`); process.exit(2) }
    process.stderr.write(`sse-gateway: ${(err as Error).stack ?? String(err)}\n`)
    process.exit(1)
  })
}
