/**
 * The standalone server's configuration: `SSE_*` environment variables read once, validated, turned into options.
 * Every variable is documented in README.md ("Configuration"); a bad value throws SSE_ERR_CONFIG naming it.
 */
import { randomBytes } from 'node:crypto'
import { GatewayError } from './errors.js'
import { busConfigFromEnv, type NatsConfig } from './bus/config.js'
import { defaultOptions, type GatewayOptions } from './options.js'
import { authConfigFromEnv, type AuthConfig } from './auth/config.js'

/** Limits of the standalone server's HTTP layer and its shutdown; the plugin leaves these to the embedding app. */
export interface ServerLimits {
  /** Window over which open streams are closed on SIGTERM/SIGINT (batches, jittered `retry:`). */
  drainMs: number
  /** Hard deadline from the signal to process exit; must exceed `drainMs`. */
  shutdownTimeoutMs: number
  /** Node's `maxHeaderSize`: larger request heads get 431. */
  maxHeaderBytes: number
  /** Node's `headersTimeout`: a client must send its whole request head within this time (slowloris). */
  headersTimeoutMs: number
  /** Node's `requestTimeout`: a client must send its whole request (head and body) within this time. */
  requestTimeoutMs: number
  /** Serve `GET /metrics` (Prometheus text). */
  metrics: boolean
}

export const DEFAULT_DRAIN_MS = 10_000
export const DEFAULT_SHUTDOWN_TIMEOUT_MS = 30_000
export const DEFAULT_MAX_HEADER_BYTES = 16 * 1024
export const DEFAULT_HEADERS_TIMEOUT_MS = 10_000
export const DEFAULT_REQUEST_TIMEOUT_MS = 30_000

export interface ServerConfig {
  host: string
  port: number
  logLevel: string
  /** True when the publish token was generated (printed at start-up so a person can use it). */
  generatedToken: boolean
  options: GatewayOptions
  /** HTTP-layer limits and shutdown timing; `defaultServerLimits()` when absent. */
  server?: ServerLimits
  /** NATS / JetStream settings (`SSE_NATS_*`, `SSE_JETSTREAM_*`); absent → the embedded bus. */
  nats?: NatsConfig
  /** Authentication/authorization settings (SSE_AUTH and friends, src/auth/config.ts); `none` when absent. */
  auth?: AuthConfig
}

export function defaultServerLimits (): ServerLimits {
  return {
    drainMs: DEFAULT_DRAIN_MS,
    shutdownTimeoutMs: DEFAULT_SHUTDOWN_TIMEOUT_MS,
    maxHeaderBytes: DEFAULT_MAX_HEADER_BYTES,
    headersTimeoutMs: DEFAULT_HEADERS_TIMEOUT_MS,
    requestTimeoutMs: DEFAULT_REQUEST_TIMEOUT_MS,
    metrics: true
  }
}

type Env = Record<string, string | undefined>

export function intFromEnv (env: Env, name: string, fallback: number, min = 0, max = Number.MAX_SAFE_INTEGER): number {
  const raw = env[name]
  if (raw === undefined || raw.trim() === '') return fallback
  if (!/^\s*\d+\s*$/.test(raw)) throw new GatewayError('SSE_ERR_CONFIG', [`${name} must be a whole number, got ${JSON.stringify(raw)}`])
  const n = Number(raw)
  if (!Number.isSafeInteger(n) || n < min || n > max) throw new GatewayError('SSE_ERR_CONFIG', [`${name} must be between ${min} and ${max}, got ${raw.trim()}`])
  return n
}

export function stringFromEnv (env: Env, name: string): string | undefined {
  const raw = env[name]
  return raw === undefined || raw === '' ? undefined : raw
}

export function flagFromEnv (env: Env, name: string, fallback: boolean): boolean {
  const raw = stringFromEnv(env, name)?.trim().toLowerCase()
  if (raw === undefined) return fallback
  if (['1', 'true', 'yes', 'on'].includes(raw)) return true
  if (['0', 'false', 'no', 'off'].includes(raw)) return false
  throw new GatewayError('SSE_ERR_CONFIG', [`${name} must be 1/0, true/false, yes/no or on/off, got ${JSON.stringify(env[name])}`])
}

export function listFromEnv (env: Env, name: string): string[] | undefined {
  const raw = stringFromEnv(env, name)
  if (raw === undefined) return undefined
  return raw.split(',').map(s => s.trim()).filter(s => s !== '')
}

export function configFromEnv (env: Env = process.env): ServerConfig {
  const d = defaultOptions()
  const host = stringFromEnv(env, 'SSE_HOST') ?? '127.0.0.1'
  const port = intFromEnv(env, 'SSE_PORT', 8080, 0, 65535)
  const logLevel = stringFromEnv(env, 'SSE_LOG_LEVEL') ?? 'info'
  if (!['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'].includes(logLevel)) {
    throw new GatewayError('SSE_ERR_CONFIG', [`SSE_LOG_LEVEL must be one of fatal, error, warn, info, debug, trace, silent, got ${JSON.stringify(logLevel)}`])
  }
  let publishToken = stringFromEnv(env, 'SSE_PUBLISH_TOKEN')
  let generatedToken = false
  if (publishToken !== undefined && publishToken.length < 16) {
    throw new GatewayError('SSE_ERR_CONFIG', ['SSE_PUBLISH_TOKEN must be at least 16 characters'])
  }
  // The embedded default has no other way in: generate a token so `npm start` + curl shows the whole loop.
  if (publishToken === undefined && stringFromEnv(env, 'SSE_NATS_URL') === undefined) {
    publishToken = randomBytes(18).toString('base64url')
    generatedToken = true
  }
  const options: GatewayOptions = {
    heartbeatMs: intFromEnv(env, 'SSE_HEARTBEAT_MS', d.heartbeatMs, 100),
    retryMs: intFromEnv(env, 'SSE_RETRY_MS', d.retryMs, 0, 3_600_000),
    busyRetryMs: intFromEnv(env, 'SSE_BUSY_RETRY_MS', d.busyRetryMs, 0, 3_600_000),
    maxTopics: intFromEnv(env, 'SSE_MAX_TOPICS', d.maxTopics, 1, 1024),
    subject: {
      maxLength: intFromEnv(env, 'SSE_MAX_SUBJECT_LENGTH', d.subject.maxLength, 1, 4096),
      maxTokens: intFromEnv(env, 'SSE_MAX_SUBJECT_TOKENS', d.subject.maxTokens, 1, 256)
    },
    maxQueueBytes: intFromEnv(env, 'SSE_MAX_QUEUE_BYTES', d.maxQueueBytes, 1024),
    maxConnections: intFromEnv(env, 'SSE_MAX_CONNECTIONS', d.maxConnections, 1),
    maxConnectionsPerUser: intFromEnv(env, 'SSE_MAX_CONNECTIONS_PER_USER', d.maxConnectionsPerUser, 1),
    maxStreamAgeMs: intFromEnv(env, 'SSE_MAX_STREAM_AGE_MS', d.maxStreamAgeMs, 0),
    replayLimit: intFromEnv(env, 'SSE_REPLAY_LIMIT', d.replayLimit, 0),
    history: {
      maxEvents: intFromEnv(env, 'SSE_HISTORY_SIZE', d.history.maxEvents, 0),
      maxBytes: intFromEnv(env, 'SSE_HISTORY_BYTES', d.history.maxBytes, 0)
    },
    publishBodyLimit: intFromEnv(env, 'SSE_PUBLISH_BODY_LIMIT', d.publishBodyLimit, 64, 64 * 1024 * 1024),
    maxPollTimeoutS: intFromEnv(env, 'SSE_POLL_MAX_TIMEOUT_S', d.maxPollTimeoutS, 0, 3600),
    pollLingerMs: intFromEnv(env, 'SSE_POLL_LINGER_MS', d.pollLingerMs, 0, 3_600_000),
    maxPublishInFlight: intFromEnv(env, 'SSE_MAX_PUBLISH_IN_FLIGHT', d.maxPublishInFlight, 1, 1_000_000),
    closeGraceMs: intFromEnv(env, 'SSE_CLOSE_GRACE_MS', d.closeGraceMs, 0, 600_000),
    publishToken
  }
  const server: ServerLimits = {
    drainMs: intFromEnv(env, 'SSE_DRAIN_MS', DEFAULT_DRAIN_MS, 0, 3_600_000),
    shutdownTimeoutMs: intFromEnv(env, 'SSE_SHUTDOWN_TIMEOUT_MS', DEFAULT_SHUTDOWN_TIMEOUT_MS, 100, 3_600_000),
    maxHeaderBytes: intFromEnv(env, 'SSE_MAX_HEADER_BYTES', DEFAULT_MAX_HEADER_BYTES, 1024, 1024 * 1024),
    headersTimeoutMs: intFromEnv(env, 'SSE_HEADERS_TIMEOUT_MS', DEFAULT_HEADERS_TIMEOUT_MS, 100, 600_000),
    requestTimeoutMs: intFromEnv(env, 'SSE_REQUEST_TIMEOUT_MS', DEFAULT_REQUEST_TIMEOUT_MS, 0, 3_600_000),
    metrics: flagFromEnv(env, 'SSE_METRICS', true)
  }
  if (server.shutdownTimeoutMs <= server.drainMs) {
    throw new GatewayError('SSE_ERR_CONFIG', [`SSE_SHUTDOWN_TIMEOUT_MS (${server.shutdownTimeoutMs}) must be larger than SSE_DRAIN_MS (${server.drainMs})`])
  }
  // Node refuses a head deadline beyond the whole-request deadline.
  if (server.requestTimeoutMs > 0 && server.headersTimeoutMs > server.requestTimeoutMs) {
    throw new GatewayError('SSE_ERR_CONFIG', [`SSE_HEADERS_TIMEOUT_MS (${server.headersTimeoutMs}) must not exceed SSE_REQUEST_TIMEOUT_MS (${server.requestTimeoutMs})`])
  }
  const nats = busConfigFromEnv(env)
  return { host, port, logLevel, generatedToken, options, server, ...(nats !== undefined ? { nats } : {}), auth: authConfigFromEnv(env) }
}
