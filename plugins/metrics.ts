/**
 * `GET /metrics` in Prometheus text format (prom-client), from a Registry owned by this app (never the global
 * one, so two gateways in one process do not collide).
 *
 * Nothing here runs per event: every gateway metric is read from the core's plain counters (`gateway.stats`,
 * `hub.stats`, `authMetrics`, `bus.health()`) when Prometheus scrapes, so the hot path pays nothing for it.
 */
import type { FastifyInstance } from 'fastify'
import fp from 'fastify-plugin'
import { collectDefaultMetrics, Counter, Gauge, Registry } from 'prom-client'
import type { CloseReason } from '../src/connection.js'
import { RESET_REASONS, type ErrorCode } from '../src/errors.js'
import type { BusState } from '../src/bus/types.js'
import { DASHBOARD_LATENCY_BUCKETS, type DashboardOutcome } from '../src/telemetry.js'

export interface SseMetricsOptions {
  /** Route; default `/metrics`. */
  path?: string
  /** Metric name prefix; default `sse_`. Node's default metrics keep their standard names. */
  prefix?: string
  /** Node process metrics (RSS, fds, GC, event-loop lag via monitorEventLoopDelay); default true. */
  defaultMetrics?: boolean
}

declare module 'fastify' {
  interface FastifyInstance {
    /** The Prometheus registry behind `/metrics` (add your own metrics here). */
    sseMetrics: Registry
  }
}

const CLOSE_REASONS: readonly CloseReason[] = ['client', 'slow', 'max_age', 'drain', 'unauthorized', 'revoked', 'shutdown', 'error', 'replay_overflow']
const BUS_STATES: readonly BusState[] = ['connecting', 'connected', 'reconnecting', 'closed']
const OUTCOMES: readonly DashboardOutcome[] = ['ok', 'denied', 'unavailable']

async function sseMetrics (fastify: FastifyInstance, opts: SseMetricsOptions): Promise<void> {
  const gateway = fastify.sseGateway
  const p = opts.prefix ?? 'sse_'
  const registry = new Registry()
  if (opts.defaultMetrics !== false) collectDefaultMetrics({ register: registry, eventLoopMonitoringPrecision: 20 })

  /** A counter whose value is a monotonic number the core keeps; read at scrape time. */
  function counterFrom (name: string, help: string, read: () => number): void {
    // eslint-disable-next-line no-new
    new Counter({ name: p + name, help, registers: [registry], collect () { this.reset(); this.inc(read()) } })
  }
  /** A labelled counter over a `{ label: count }` record; `known` label values are always present (as 0). */
  function counterBy (name: string, help: string, label: string, known: readonly string[], read: () => Partial<Record<string, number>>): void {
    // eslint-disable-next-line no-new
    new Counter({
      name: p + name,
      help,
      labelNames: [label],
      registers: [registry],
      collect () {
        this.reset()
        const values = read()
        for (const k of known) this.inc({ [label]: k }, values[k] ?? 0)
        for (const [k, v] of Object.entries(values)) if (!known.includes(k) && v !== undefined) this.inc({ [label]: k }, v)
      }
    })
  }
  function gauge (name: string, help: string, read: () => number): void {
    // eslint-disable-next-line no-new
    new Gauge({ name: p + name, help, registers: [registry], collect () { this.set(read()) } })
  }

  const s = gateway.stats
  const h = gateway.hub.stats
  const auth = gateway.authMetrics

  gauge('streams_open', 'Open SSE streams on this instance.', () => gateway.size)
  gauge('streams_ending', 'Streams ended by the gateway whose client has not closed the socket yet.', () => gateway.ending)
  gauge('draining', '1 while the instance is draining (shutting down), else 0.', () => gateway.draining ? 1 : 0)
  counterFrom('streams_opened_total', 'SSE streams opened.', () => s.opened)
  counterBy('streams_closed_total', 'SSE streams closed, by reason.', 'reason', CLOSE_REASONS, () => s.closed)
  counterBy('streams_rejected_total', 'Stream requests answered with retry-later (busy, unavailable, draining), by error code.', 'code',
    ['SSE_ERR_BUSY_INSTANCE', 'SSE_ERR_BUSY_USER', 'SSE_ERR_BUS_UNAVAILABLE', 'SSE_ERR_DRAINING', 'SSE_ERR_AUTH_UNAVAILABLE'] satisfies ErrorCode[], () => s.rejected)
  counterFrom('slow_consumer_disconnects_total', 'Streams closed because their queue exceeded maxQueueBytes (slow or replay overflow).',
    () => (s.closed.slow ?? 0) + (s.closed.replay_overflow ?? 0))
  counterFrom('forced_closes_total', 'Ended sockets destroyed because the client did not close them within closeGraceMs.', () => s.forcedCloses)
  counterFrom('bus_events_received_total', 'Events received from the bus.', () => h.eventsReceived)
  counterFrom('bus_events_unmatched_total', 'Events received from the bus that no open stream wanted.', () => h.eventsUnmatched)
  counterFrom('events_delivered_total', 'Event deliveries to streams (one event to N streams counts N).', () => h.deliveries)
  counterFrom('bytes_written_total', 'Bytes written to SSE streams (after the response head).', () => s.bytesWritten)
  counterFrom('replays_total', 'Streams opened with a Last-Event-ID cursor.', () => s.replays)
  counterFrom('replayed_events_total', 'Events sent from history on reconnects.', () => s.replayedEvents)
  counterBy('resets_total', 'Cursors that could not be honoured exactly (event: reset), by reason.', 'reason', RESET_REASONS, () => s.resets)
  counterFrom('bus_gaps_total', 'Times the bus reported that events may have been missed (every stream got reset).', () => h.gaps)
  counterFrom('publish_total', 'Events accepted through POST /events/publish.', () => s.published)
  counterBy('publish_errors_total', 'Publishes refused (in-flight cap) or failed (bus), by error code.', 'code',
    ['SSE_ERR_PUBLISH_BUSY', 'SSE_ERR_PUBLISH_FAILED'] satisfies ErrorCode[], () => s.publishErrors)
  gauge('publish_in_flight', 'Publishes awaiting the bus acknowledgement.', () => gateway.publishing)

  gauge('bus_ready', '1 when the bus can serve (connected; JetStream stream reachable when configured).', () => gateway.bus.health().ready ? 1 : 0)
  // eslint-disable-next-line no-new
  new Gauge({
    name: p + 'bus_state',
    help: 'Bus connection state (1 for the current state).',
    labelNames: ['kind', 'state'],
    registers: [registry],
    collect () {
      this.reset()
      const state = gateway.bus.health().state
      for (const st of BUS_STATES) this.set({ kind: gateway.bus.kind, state: st }, st === state ? 1 : 0)
    }
  })
  counterFrom('bus_disconnects_total', 'Times the bus connection was lost.', () => s.busDisconnects)
  counterFrom('bus_reconnects_total', 'Times the bus connection came back after a loss.', () => s.busReconnects)

  counterFrom('auth_cache_hits_total', 'Session answers served from the auth cache.', () => auth.cacheHits)
  counterFrom('auth_cache_misses_total', 'Session answers that needed a verification.', () => auth.cacheMisses)
  counterBy('auth_dashboard_calls_total', 'Calls to the dashboard introspection endpoint, by outcome.', 'outcome', OUTCOMES, () => auth.calls)
  const latencyName = p + 'auth_dashboard_latency_seconds'
  const latencyHelp = 'Latency of calls to the dashboard introspection endpoint.'
  registry.registerMetric({
    name: latencyName,
    help: latencyHelp,
    type: 'histogram',
    aggregator: 'sum',
    // A histogram whose buckets the core keeps (src/telemetry.ts), rendered in prom-client's value format.
    get: async () => {
      const values: Array<{ metricName: string, labels: Record<string, string | number>, value: number }> = []
      let cumulative = 0
      DASHBOARD_LATENCY_BUCKETS.forEach((le, i) => {
        cumulative += auth.latencyBuckets[i]
        values.push({ metricName: `${latencyName}_bucket`, labels: { le }, value: cumulative })
      })
      cumulative += auth.latencyBuckets[DASHBOARD_LATENCY_BUCKETS.length]
      values.push({ metricName: `${latencyName}_bucket`, labels: { le: '+Inf' }, value: cumulative })
      values.push({ metricName: `${latencyName}_sum`, labels: {}, value: auth.latencySumSeconds })
      values.push({ metricName: `${latencyName}_count`, labels: {}, value: auth.latencyCount })
      return { name: latencyName, help: latencyHelp, type: 'histogram', aggregator: 'sum', values }
    }
  } as unknown as Parameters<Registry['registerMetric']>[0])

  fastify.decorate('sseMetrics', registry)
  fastify.get(opts.path ?? '/metrics', async (_request, reply) => {
    const body = await registry.metrics()
    return reply.header('Cache-Control', 'no-store').type(registry.contentType).send(body)
  })
}

export const sseMetricsPlugin = fp(sseMetrics, { fastify: '5.x', name: 'sse-gateway-metrics', dependencies: ['sse-gateway-events'] })
export default sseMetricsPlugin
