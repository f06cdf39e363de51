/**
 * Gateway options and their defaults, in one place. The plugin and the standalone server both start from
 * `defaultOptions()` (a fresh object per call, never mutated shared state).
 */
import type { SubjectLimits } from './subject.js'
import type { HistoryLimits } from './bus/history.js'

export const DEFAULT_HEARTBEAT_MS = 15_000
export const DEFAULT_RETRY_MS = 3_000
export const DEFAULT_BUSY_RETRY_MS = 15_000
export const DEFAULT_MAX_TOPICS = 16
export const DEFAULT_MAX_SUBJECT_LENGTH = 256
export const DEFAULT_MAX_SUBJECT_TOKENS = 16
export const DEFAULT_MAX_QUEUE_BYTES = 1024 * 1024
export const DEFAULT_MAX_CONNECTIONS = 20_000
export const DEFAULT_MAX_CONNECTIONS_PER_USER = 32
export const DEFAULT_MAX_STREAM_AGE_MS = 60 * 60 * 1000
export const DEFAULT_REPLAY_LIMIT = 10_000
export const DEFAULT_HISTORY_SIZE = 10_000
export const DEFAULT_HISTORY_BYTES = 64 * 1024 * 1024
export const DEFAULT_PUBLISH_BODY_LIMIT = 64 * 1024
export const DEFAULT_MAX_POLL_TIMEOUT_S = 30
export const DEFAULT_POLL_LINGER_MS = 30_000
export const DEFAULT_MAX_PUBLISH_IN_FLIGHT = 256
export const DEFAULT_CLOSE_GRACE_MS = 5_000

export interface GatewayOptions {
  /** Interval of `:` comment lines on every stream, so idle proxies never cut it. */
  heartbeatMs: number
  /** `retry:` sent when a stream opens (the browser's reconnect delay). */
  retryMs: number
  /** `retry:` base for retry-later answers (busy, unavailable, draining); jittered ±50%. */
  busyRetryMs: number
  maxTopics: number
  subject: SubjectLimits
  /** Bytes a connection may have queued (gateway queue + socket buffer) before it is closed as a slow consumer. */
  maxQueueBytes: number
  maxConnections: number
  maxConnectionsPerUser: number
  /** Streams older than this (±10%) are closed with a `retry:` so they re-authenticate and rebalance; 0 = never. */
  maxStreamAgeMs: number
  /** Most events replayed on one reconnect; beyond it the stream gets `reset` (reason `too_many`). */
  replayLimit: number
  history: HistoryLimits
  publishBodyLimit: number
  /** Longest wait of one `GET /events/poll` (its `timeout` is capped to this); keep it below the proxy's read timeout. */
  maxPollTimeoutS: number
  /**
   * How long a long-poll's topics stay subscribed after it answers, so the next poll finds what was published in
   * between (core NATS mode keeps history only for subscribed subjects). 0 = not at all.
   */
  pollLingerMs: number
  /**
   * Publishes the bus has not acknowledged yet, across all `POST /events/publish` requests; one more gets
   * 503 `SSE_ERR_PUBLISH_BUSY`, so a flood cannot queue unbounded work behind a slow bus. 0 = no HTTP publishing capacity.
   */
  maxPublishInFlight: number
  /**
   * How long a stream the gateway ended (rotation, drain, shutdown) may stay half-closed before its socket is
   * destroyed: a client that stopped reading never acknowledges the end, and would otherwise hold its queue forever.
   */
  closeGraceMs: number
  /** Enables `POST /events/publish` with `Authorization: Bearer <token>`. */
  publishToken?: string
}

export function defaultOptions (): GatewayOptions {
  return {
    heartbeatMs: DEFAULT_HEARTBEAT_MS,
    retryMs: DEFAULT_RETRY_MS,
    busyRetryMs: DEFAULT_BUSY_RETRY_MS,
    maxTopics: DEFAULT_MAX_TOPICS,
    subject: { maxLength: DEFAULT_MAX_SUBJECT_LENGTH, maxTokens: DEFAULT_MAX_SUBJECT_TOKENS },
    maxQueueBytes: DEFAULT_MAX_QUEUE_BYTES,
    maxConnections: DEFAULT_MAX_CONNECTIONS,
    maxConnectionsPerUser: DEFAULT_MAX_CONNECTIONS_PER_USER,
    maxStreamAgeMs: DEFAULT_MAX_STREAM_AGE_MS,
    replayLimit: DEFAULT_REPLAY_LIMIT,
    history: { maxEvents: DEFAULT_HISTORY_SIZE, maxBytes: DEFAULT_HISTORY_BYTES },
    publishBodyLimit: DEFAULT_PUBLISH_BODY_LIMIT,
    maxPollTimeoutS: DEFAULT_MAX_POLL_TIMEOUT_S,
    pollLingerMs: DEFAULT_POLL_LINGER_MS,
    maxPublishInFlight: DEFAULT_MAX_PUBLISH_IN_FLIGHT,
    closeGraceMs: DEFAULT_CLOSE_GRACE_MS
  }
}

export function resolveOptions (partial: Partial<GatewayOptions> = {}): GatewayOptions {
  const base = defaultOptions()
  const out: GatewayOptions = {
    ...base,
    ...stripUndefined(partial),
    subject: { ...base.subject, ...stripUndefined(partial.subject ?? {}) },
    history: { ...base.history, ...stripUndefined(partial.history ?? {}) }
  }
  for (const key of ['heartbeatMs', 'retryMs', 'busyRetryMs', 'maxTopics', 'maxQueueBytes', 'maxConnections',
    'maxConnectionsPerUser', 'maxStreamAgeMs', 'replayLimit', 'publishBodyLimit', 'maxPollTimeoutS', 'pollLingerMs', 'maxPublishInFlight', 'closeGraceMs'] as const) {
    const v = out[key]
    if (!Number.isFinite(v) || v < 0) throw new TypeError(`invalid option ${key}: ${String(v)}`)
  }
  if (out.heartbeatMs < 100) throw new TypeError(`invalid option heartbeatMs: ${out.heartbeatMs} (at least 100)`)
  return out
}

function stripUndefined<T extends object> (o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>
}
