/**
 * The `/events` plugin: Fastify wiring around the framework-free core in src/.
 *
 *   GET  /events?topic=…[&topic=…][&envelope=1][&lastEventId=…]   one SSE stream for every topic
 *   GET  /events/cursor                                           the current cursor, for gap-free page renders
 *   POST /events/publish                                          publish over HTTP (when a token is configured)
 */
import { Server as HttpServer } from 'node:http'
import type { Socket } from 'node:net'
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import fp from 'fastify-plugin'
import fastifyCookie from '@fastify/cookie'
import type { Bus } from '../src/bus/types.js'
import { createBus, type NatsConfig } from '../src/bus/config.js'
import type { Authenticate, Authorize, Principal, AuthRequest } from '../src/auth/types.js'
import { GatewayError, isGatewayError } from '../src/errors.js'
import { Gateway } from '../src/gateway.js'
import { resolveOptions, type GatewayOptions } from '../src/options.js'
import type { AuthTelemetry } from '../src/telemetry.js'
import { bearerMatches, isTruthyFlag, parsePublishBody, parseTopics, pickLastEventId } from '../src/request.js'

export interface OriginVerdict {
  ok: boolean
  /** The rejected origin, for the error message. */
  origin?: string
  /** Response headers to add (CORS for an allowed cross-origin request). */
  headers?: Record<string, string>
}

export interface SseEventsOptions extends Partial<GatewayOptions> {
  /** The bus to relay; default: a new embedded MemoryBus with `history` limits. Closed on shutdown only if created here. */
  bus?: Bus
  /** Relay NATS instead of the embedded bus (JetStream when `nats.jetstream` is set); ignored when `bus` is given. */
  nats?: NatsConfig
  /** Route prefix; default `/events`. */
  path?: string
  /** Request → principal (or null → 401). Default: everyone is an anonymous principal (development only, warned). */
  authenticate?: Authenticate
  /** First forbidden topic, or undefined. Default: allow all. */
  authorize?: Authorize
  /** Checked before any cookie work, dashboard call or bus work. */
  checkOrigin?: (req: AuthRequest) => OriginVerdict
  /** Counters the authentication strategy feeds (give the same object to the strategy); default: a new one. */
  authMetrics?: AuthTelemetry
}

declare module 'fastify' {
  interface FastifyInstance {
    /** The gateway core behind `/events`: bus, hub, open streams, stats. */
    sseGateway: Gateway
    /**
     * Origin check, authentication and authorization of a gateway request, exactly as `/events` does them (for the
     * other gateway routes, such as `/events/poll`). Sends the 4xx and resolves null on denial; throws
     * GatewayError('SSE_ERR_AUTH_UNAVAILABLE') when the session cannot be verified right now.
     */
    sseAdmit: (request: FastifyRequest, reply: FastifyReply, topics?: readonly string[]) =>
    Promise<{ principal: Principal, headers?: Record<string, string> } | null>
  }
  interface FastifyRequest {
    /** The principal of an authenticated `/events` request (null until authenticated). */
    ssePrincipal: Principal | null
  }
}

const ANONYMOUS: Principal = Object.freeze({ user: 'anonymous', anonymous: true }) as Principal
const allowAll: Authorize = () => undefined

async function sseEvents (fastify: FastifyInstance, opts: SseEventsOptions): Promise<void> {
  const options = resolveOptions(opts)
  const path = opts.path ?? '/events'
  const ownsBus = opts.bus === undefined
  const bus = createBus({ bus: opts.bus, nats: opts.nats, history: options.history, logger: fastify.log })
  const gateway = new Gateway(bus, options, opts.authMetrics)
  const authorize = opts.authorize ?? allowAll
  let authenticate = opts.authenticate
  if (authenticate === undefined) {
    fastify.log.warn('sse-gateway: no authentication configured; every request is allowed (development only)')
    authenticate = async () => ANONYMOUS
  }

  if (!fastify.hasPlugin('@fastify/cookie')) await fastify.register(fastifyCookie)
  fastify.decorate('sseGateway', gateway)
  fastify.decorateRequest('ssePrincipal', null)
  fastify.decorate('sseAdmit', admit)
  await gateway.start()

  /** Origin, then authentication, then authorization: each before any bus work. Replies and returns null on denial. */
  async function admit (request: FastifyRequest, reply: FastifyReply, topics?: readonly string[]):
  Promise<{ principal: Principal, headers?: Record<string, string> } | null> {
    const authReq: AuthRequest = {
      cookies: request.cookies ?? {},
      headers: request.headers,
      encrypted: (request.raw.socket as { encrypted?: boolean }).encrypted === true
    }
    const verdict = opts.checkOrigin?.(authReq)
    if (verdict !== undefined && !verdict.ok) {
      sendError(reply, new GatewayError('SSE_ERR_ORIGIN_FORBIDDEN', [verdict.origin ?? 'null']))
      return null
    }
    let principal: Principal | null
    try {
      principal = await authenticate!(authReq)
    } catch (err) {
      if (isGatewayError(err) && err.code === 'SSE_ERR_AUTH_UNAVAILABLE') throw err
      request.log.error({ err }, 'authentication failed')
      throw new GatewayError('SSE_ERR_AUTH_UNAVAILABLE', [], { cause: err })
    }
    if (principal === null) {
      sendError(reply, new GatewayError('SSE_ERR_AUTH_REQUIRED'), verdict?.headers)
      return null
    }
    request.ssePrincipal = principal
    if (topics !== undefined) {
      const denied = authorize(principal, topics)
      if (denied !== undefined) {
        sendError(reply, new GatewayError('SSE_ERR_TOPIC_FORBIDDEN', [JSON.stringify(denied)]), verdict?.headers)
        return null
      }
    }
    return { principal, headers: verdict?.headers }
  }

  fastify.get(path, async (request, reply) => {
    const query = request.query as Record<string, unknown>
    let topics: string[]
    try {
      topics = parseTopics(query.topic, options.maxTopics, options.subject)
    } catch (err) {
      return sendError(reply, err as GatewayError)
    }
    let admitted: Awaited<ReturnType<typeof admit>>
    try {
      admitted = await admit(request, reply, topics)
    } catch (err) {
      if (!isGatewayError(err) || err.code !== 'SSE_ERR_AUTH_UNAVAILABLE') throw err
      reply.hijack()
      gateway.rejectStream(request.raw.socket, err.code)
      return
    }
    if (admitted === null) return reply
    reply.hijack()
    const problem = gateway.admissionProblem(admitted.principal)
    if (problem !== undefined) {
      gateway.rejectStream(request.raw.socket, problem, admitted.headers)
      return
    }
    await gateway.openStream(request.raw.socket, {
      topics,
      principal: admitted.principal,
      envelope: isTruthyFlag(query.envelope),
      ready: isTruthyFlag(query.ready),
      lastEventId: pickLastEventId(request.headers['last-event-id'], query.lastEventId),
      headers: admitted.headers
    })
  })

  fastify.get(`${path}/cursor`, async (request, reply) => {
    const admitted = await admit(request, reply).catch(err => { sendError(reply, err); return null })
    if (admitted === null) return reply
    if (admitted.headers !== undefined) reply.headers(admitted.headers)
    return { cursor: bus.cursor() }
  })

  fastify.post(`${path}/publish`, {
    bodyLimit: options.publishBodyLimit,
    errorHandler (err, _request, reply) {
      // Fastify's own body errors, reshaped into the gateway's error body.
      const status = (err as { statusCode?: number }).statusCode
      if (status === 413) return sendError(reply, new GatewayError('SSE_ERR_PUBLISH_TOO_LARGE', [options.publishBodyLimit]))
      if (status !== undefined && status >= 400 && status < 500) {
        return sendError(reply, new GatewayError('SSE_ERR_PUBLISH_INVALID', [err.message]))
      }
      return sendError(reply, err)
    }
  }, async (request, reply) => {
    if (options.publishToken === undefined) return sendError(reply, new GatewayError('SSE_ERR_PUBLISH_DISABLED'))
    if (!bearerMatches(request.headers.authorization, options.publishToken)) {
      return sendError(reply, new GatewayError('SSE_ERR_PUBLISH_UNAUTHORIZED'))
    }
    let msg
    try {
      msg = parsePublishBody(request.body, options.subject)
    } catch (err) {
      return sendError(reply, err as GatewayError)
    }
    try {
      const ack = await gateway.publish(msg)
      return { id: ack.id ?? null, duplicate: ack.duplicate === true }
    } catch (err) {
      if (isGatewayError(err) && err.code === 'SSE_ERR_PUBLISH_BUSY') {
        reply.header('Retry-After', '1')
      } else {
        request.log.warn({ err }, 'publish failed')
      }
      return sendError(reply, err)
    }
  })

  // Streams never end by themselves: end them before the server waits for its connections to close, and destroy
  // the sockets of clients that do not finish the close within closeGraceMs (a non-reading client never does).
  // Node's server.close() (v20) waits for connections that never sent a request (a browser's or undici's
  // pre-opened socket) until headersTimeout; nothing is in flight on them, so close them with the streams.
  const requestless = new Set<Socket>()
  const onConnection = (socket: Socket): void => {
    requestless.add(socket)
    socket.once('close', () => requestless.delete(socket))
  }
  const onRequest = (req: { socket: Socket }): void => { requestless.delete(req.socket) }
  // Plain HTTP only: behind TLS the socket a request sees is not the one 'connection' reported.
  const plainHttp = fastify.server instanceof HttpServer
  if (plainHttp) {
    fastify.server.on('connection', onConnection)
    fastify.server.on('request', onRequest)
  }
  fastify.addHook('preClose', async () => {
    await gateway.shutdown()
    for (const s of requestless) s.destroy()
    fastify.server.off('connection', onConnection)
    fastify.server.off('request', onRequest)
  })
  fastify.addHook('onClose', async () => { if (ownsBus) await bus.close() })
}

export function sendError (reply: FastifyReply, err: unknown, headers?: Record<string, string>): FastifyReply {
  const e = isGatewayError(err) ? err : new GatewayError('SSE_ERR_INTERNAL', [], { cause: err })
  if (headers !== undefined) reply.headers(headers)
  // Retry-later conditions are a 200 + typed event on a stream; a plain JSON answer (cursor, publish) says 503.
  if (e.statusCode === 200) reply.code(503).header('Retry-After', '5')
  else reply.code(e.statusCode)
  return reply.type('application/json; charset=utf-8').send(e.toJSON())
}

export const sseEventsPlugin = fp(sseEvents, { fastify: '5.x', name: 'sse-gateway-events' })
export default sseEventsPlugin
