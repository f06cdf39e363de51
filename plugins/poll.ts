/**
 * `GET /events/poll?topic=…[&topic=…]&lastEventId=…&timeout=<seconds>`: long-poll, for browsers behind a proxy
 * that buffers streams (or without EventSource). Same Origin check, authentication, authorization, replay and
 * `reset` semantics as `GET /events`; answers at once when events after the cursor exist, else waits up to
 * `timeout` seconds (capped by `maxPollTimeoutS`) for the first one.
 *
 * 200 → `{ "reset"?: { reason, cursor }, "events": [{ id, event, subject, data }], "lastEventId": "…" }`
 * 4xx → the gateway's error body; retry-later conditions → 503 with `Retry-After` (a poll is retried by script,
 * not by EventSource, so a 503 stops nothing for good).
 */
import type { FastifyInstance } from 'fastify'
import fp from 'fastify-plugin'
import { jitter } from '../src/encoder.js'
import { GatewayError, isGatewayError, type ErrorCode } from '../src/errors.js'
import { longPoll, pollResultJson, PollInterests } from '../src/poll.js'
import { parseTopics, pickLastEventId } from '../src/request.js'
import { sendError } from './events.js'

export interface SsePollOptions {
  /** Route prefix, as given to the events plugin; default `/events`. */
  path?: string
}

/** Used when a request names no timeout: long enough to save requests, shorter than common 60 s proxy timeouts. */
export const DEFAULT_POLL_TIMEOUT_S = 25

async function ssePoll (fastify: FastifyInstance, opts: SsePollOptions): Promise<void> {
  const path = opts.path ?? '/events'
  const gateway = fastify.sseGateway
  const options = gateway.options
  const active = new Set<AbortController>()
  const linger = new PollInterests(gateway.hub, options.pollLingerMs)

  const retryLater = (reply: import('fastify').FastifyReply, code: ErrorCode, headers?: Record<string, string>): unknown => {
    reply.header('retry-after', String(Math.max(1, Math.ceil(jitter(options.busyRetryMs) / 1000))))
    const err = new GatewayError(code)
    if (headers !== undefined) reply.headers(headers)
    return reply.code(503).header('cache-control', 'no-store').type('application/json; charset=utf-8').send(err.toJSON())
  }

  fastify.get(`${path}/poll`, async (request, reply) => {
    const query = request.query as Record<string, unknown>
    let topics: string[]
    let timeoutS: number
    try {
      topics = parseTopics(query.topic, options.maxTopics, options.subject)
      timeoutS = parseTimeout(query.timeout, Math.min(DEFAULT_POLL_TIMEOUT_S, options.maxPollTimeoutS), options.maxPollTimeoutS)
    } catch (err) {
      return sendError(reply, err)
    }
    let admitted: Awaited<ReturnType<typeof fastify.sseAdmit>>
    try {
      admitted = await fastify.sseAdmit(request, reply, topics)
    } catch (err) {
      if (isGatewayError(err) && err.code === 'SSE_ERR_AUTH_UNAVAILABLE') return retryLater(reply, err.code)
      throw err
    }
    if (admitted === null) return reply
    // Waiting polls hold a socket like a stream does, so they count against the same instance cap.
    const problem = gateway.admissionProblem(admitted.principal) ??
      (gateway.size + active.size >= options.maxConnections ? 'SSE_ERR_BUSY_INSTANCE' : undefined)
    if (problem !== undefined) return retryLater(reply, problem, admitted.headers)

    const ac = new AbortController()
    active.add(ac)
    const gone = (): void => ac.abort()
    reply.raw.once('close', gone)
    try {
      const result = await longPoll({ hub: gateway.hub, bus: gateway.bus }, {
        topics,
        principal: admitted.principal,
        lastEventId: pickLastEventId(request.headers['last-event-id'], query.lastEventId),
        timeoutMs: timeoutS * 1000,
        replayLimit: options.replayLimit,
      }, ac.signal, linger)
      if (reply.raw.destroyed) return reply
      if (result.revoked === true) return sendError(reply, new GatewayError('SSE_ERR_AUTH_REQUIRED'), admitted.headers)
      if (admitted.headers !== undefined) reply.headers(admitted.headers)
      // Each answer is one user's events: never stored by a shared cache.
      return reply.header('cache-control', 'no-store, private').type('application/json; charset=utf-8').send(pollResultJson(result))
    } finally {
      active.delete(ac)
      reply.raw.off('close', gone)
    }
  })

  // Waiting polls would hold shutdown for up to their timeout: answer them now (the client polls again elsewhere).
  fastify.addHook('preClose', async () => {
    for (const ac of active) ac.abort()
    linger.close()
  })
}

/** `timeout` in seconds: absent → `fallback`; a non-negative number (fractions allowed) → capped at `max`. */
export function parseTimeout (raw: unknown, fallback: number, max: number): number {
  const v = Array.isArray(raw) ? raw[0] : raw
  if (v === undefined || v === '') return fallback
  if (typeof v !== 'string' || !/^\d{1,6}(\.\d{1,3})?$/.test(v)) {
    throw new GatewayError('SSE_ERR_POLL_TIMEOUT_INVALID', [JSON.stringify(String(v).slice(0, 32))])
  }
  return Math.min(Number(v), max)
}

export const ssePollPlugin = fp(ssePoll, {
  fastify: '5.x',
  name: 'sse-gateway-poll',
  dependencies: ['sse-gateway-events'],
})
export default ssePollPlugin
