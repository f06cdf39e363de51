/**
 * What the NATS core and JetStream buses share: connection options for a long-running server,
 * credentials, status plumbing, payload decoding and the `Sse-Event` header.
 */
import { readFileSync } from 'node:fs'
import { hostname } from 'node:os'
import {
  connect, credsAuthenticator, Events, headers as natsHeaders,
  type ConnectionOptions, type MsgHdrs, type NatsConnection
} from 'nats'
import { formatEventId, isPublisherEventName, type BusEvent } from './types.js'

/** Header carrying the SSE event name; dropped unless isPublisherEventName (grammar, not reserved). */
export const EVENT_HEADER = 'Sse-Event'

export const DEFAULT_RECONNECT_WAIT_MS = 1000
export const DEFAULT_RECONNECT_JITTER_MS = 1000
/** 10 s × 2 missed pings: a black-holed server is detected in ~20 s, not the client's default ~4 min. */
export const DEFAULT_PING_INTERVAL_MS = 10_000
export const DEFAULT_MAX_PING_OUT = 2
export const DEFAULT_START_WAIT_MS = 5000

/** Pino-compatible subset (Fastify's `log` fits); defaults to the console. */
export interface BusLogger {
  info: (obj: object, msg?: string) => void
  warn: (obj: object, msg?: string) => void
  error: (obj: object, msg?: string) => void
}

export const consoleLogger: BusLogger = {
  info: () => {},
  warn: (obj, msg) => { console.warn(`[sse-gateway] ${msg ?? ''}`, obj) },
  error: (obj, msg) => { console.error(`[sse-gateway] ${msg ?? ''}`, obj) }
}

export interface NatsConnectOptions {
  /** Server URLs (`nats://host:4222`); several for a cluster. */
  servers: string[]
  /** Connection name shown in the server's monitoring (`/connz`). Default `sse-gateway@<hostname>`. */
  name?: string
  /** Path of a `.creds` file (JWT + NKey seed). */
  creds?: string
  user?: string
  pass?: string
  token?: string
  /** Wait between reconnect attempts to one server, plus up to `reconnectJitterMs` of random jitter. */
  reconnectTimeWaitMs?: number
  reconnectJitterMs?: number
  pingIntervalMs?: number
  maxPingOut?: number
  /**
   * How long `start()` waits for the first connection. When NATS is not reachable by then, start resolves
   * anyway (readiness stays false) and the bus connects in the background, retrying forever.
   */
  startWaitMs?: number
  logger?: BusLogger
}

export function natsConnectionOptions (o: NatsConnectOptions): ConnectionOptions {
  const opts: ConnectionOptions = {
    servers: o.servers,
    name: o.name ?? `sse-gateway@${hostname()}`,
    // A gateway outlives any outage: the client's default (10 attempts × 2 s) would give up after ~20 s.
    maxReconnectAttempts: -1,
    waitOnFirstConnect: true,
    reconnectTimeWait: o.reconnectTimeWaitMs ?? DEFAULT_RECONNECT_WAIT_MS,
    reconnectJitter: o.reconnectJitterMs ?? DEFAULT_RECONNECT_JITTER_MS,
    reconnectJitterTLS: o.reconnectJitterMs ?? DEFAULT_RECONNECT_JITTER_MS,
    pingInterval: o.pingIntervalMs ?? DEFAULT_PING_INTERVAL_MS,
    maxPingOut: o.maxPingOut ?? DEFAULT_MAX_PING_OUT
  }
  if (o.creds !== undefined) opts.authenticator = credsAuthenticator(readFileSync(o.creds))
  if (o.user !== undefined) { opts.user = o.user; opts.pass = o.pass }
  if (o.token !== undefined) opts.token = o.token
  return opts
}

/**
 * Starts connecting; resolves with the connection, or with undefined when it is not up after `startWaitMs`
 * (the returned `pending` promise still completes later).
 */
export async function connectWithin (o: NatsConnectOptions): Promise<{ nc?: NatsConnection, pending: Promise<NatsConnection> }> {
  const pending = connect(natsConnectionOptions(o))
  let timer: NodeJS.Timeout | undefined
  const nc = await Promise.race([
    pending,
    new Promise<undefined>(resolve => { timer = setTimeout(() => resolve(undefined), o.startWaitMs ?? DEFAULT_START_WAIT_MS) })
  ]).finally(() => clearTimeout(timer))
  return { nc, pending }
}

const encoder = new TextEncoder()
// fatal: a non-UTF-8 payload throws instead of turning into U+FFFD garbage in a browser.
const decoder = new TextDecoder('utf-8', { fatal: true })

export function encodeText (s: string): Uint8Array { return encoder.encode(s) }

/** Counts and logs (once) payloads that are not UTF-8 text; they are skipped, never forwarded. */
export class PayloadGuard {
  invalid = 0
  constructor (private readonly logger: BusLogger) {}

  decode (subject: string, data: Uint8Array): string | undefined {
    try {
      return decoder.decode(data)
    } catch {
      if (this.invalid++ === 0) {
        this.logger.warn({ subject, bytes: data.length }, 'skipping a NATS message whose payload is not UTF-8 text (logged once; see health detail invalidPayloads)')
      }
      return undefined
    }
  }
}

export function makeEvent (epoch: string, seq: number, subject: string, data: string, h: MsgHdrs | undefined): BusEvent {
  const name = h?.get(EVENT_HEADER)
  return {
    id: formatEventId(epoch, seq),
    seq,
    subject,
    data,
    ...(isPublisherEventName(name) ? { event: name } : {})
  }
}

export function publishHeaders (event: string | undefined, msgId?: string): MsgHdrs | undefined {
  if (event === undefined && msgId === undefined) return undefined
  const h = natsHeaders()
  if (isPublisherEventName(event)) h.set(EVENT_HEADER, event)
  if (msgId !== undefined) h.set('Nats-Msg-Id', msgId)
  return h
}

/** True when some literal subject matches both patterns (so one message can reach both subscriptions). */
export function patternsOverlap (a: string, b: string): boolean {
  const p = a.split('.')
  const q = b.split('.')
  for (let i = 0; ; i++) {
    const x = p[i]
    const y = q[i]
    if (x === undefined || y === undefined) return x === undefined && y === undefined
    if (x === '>') return true
    if (y === '>') return true
    if (x !== '*' && y !== '*' && x !== y) return false
  }
}

/** A server URL without `user:password@`, for logs. */
export function redactUrl (url: string): string {
  return url.replace(/^((?:[a-z]+:\/\/)?)[^@/]*@/i, '$1***@')
}

export function jitter (ms: number): number {
  return Math.round(ms / 2 + Math.random() * ms / 2)
}

export async function sleep (ms: number): Promise<void> {
  await new Promise(resolve => setTimeout(resolve, ms))
}

/** How long closing a bus waits for the NATS connection to drain before closing it outright. */
export const DRAIN_TIMEOUT_MS = 2000

/**
 * Drains the connection (in-flight publishes are flushed, subscriptions finish what they hold), bounded in time:
 * a drain against a server that is gone would otherwise wait for a reconnect that never comes.
 */
export async function drainConnection (nc: NatsConnection, timeoutMs = DRAIN_TIMEOUT_MS): Promise<void> {
  if (nc.isClosed()) return
  let timer: NodeJS.Timeout | undefined
  const timedOut = new Promise<void>(resolve => { timer = setTimeout(resolve, timeoutMs) })
  try {
    await Promise.race([nc.isDraining() ? nc.closed() : nc.drain(), timedOut])
  } catch {
    // Draining a connection that is reconnecting throws; close below.
  } finally {
    clearTimeout(timer)
  }
  if (!nc.isClosed()) await nc.close().catch(() => {})
}

/**
 * Follows a connection's status until it closes: logs what an operator needs and calls `onDisconnect` /
 * `onReconnect`, where each bus does its own recovery (a gap for core NATS, a resume for JetStream).
 */
export async function watchStatus (nc: NatsConnection, log: BusLogger,
  on: { disconnect: () => void, reconnect: () => void, reconnectMsg: string }): Promise<void> {
  for await (const s of nc.status()) {
    if (s.type === Events.Disconnect) {
      log.warn({ server: s.data }, 'NATS disconnected; reconnecting')
      on.disconnect()
    } else if (s.type === Events.Reconnect) {
      log.info({ server: s.data }, on.reconnectMsg)
      on.reconnect()
    } else if (s.type === Events.LDM) {
      log.warn({ server: s.data }, 'NATS server entering lame-duck mode')
    } else if (s.type === Events.Error) {
      log.warn({ err: s.data }, 'NATS async error')
    }
  }
}
