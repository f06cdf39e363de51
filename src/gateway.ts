/**
 * The gateway core, free of any HTTP framework: it owns the bus, the hub and every open stream, opens streams on
 * sockets handed to it (after the HTTP layer has validated, authenticated and authorized the request), and drives
 * heartbeats, stream rotation and shutdown from one ticker.
 */
import type { Socket } from 'node:net'
import type { Bus, BusState, BusStatus, PublishAck, PublishInput } from './bus/types.js'
import type { Principal } from './auth/types.js'
import { Connection, type CloseReason, type ConnectionOwner } from './connection.js'
import { encodeControl, encodeRetry, HEARTBEAT, jitter } from './encoder.js'
import { ERRORS, GatewayError, isGatewayError, type ErrorCode, type ResetReason } from './errors.js'
import { Hub } from './hub.js'
import type { GatewayOptions } from './options.js'
import { AuthTelemetry } from './telemetry.js'

export interface GatewayStats {
  opened: number
  closed: Partial<Record<CloseReason, number>>
  rejected: Partial<Record<ErrorCode, number>>
  bytesWritten: number
  replays: number
  resets: Partial<Record<ResetReason, number>>
  replayedEvents: number
  /** Events accepted by the bus through `publish()`. */
  published: number
  /** `publish()` refusals and failures by code (SSE_ERR_PUBLISH_BUSY, SSE_ERR_PUBLISH_FAILED, or the bus's own). */
  publishErrors: Partial<Record<ErrorCode, number>>
  /** Ended streams whose client never finished the close within `closeGraceMs`, destroyed. */
  forcedCloses: number
  /** Bus state transitions into `reconnecting` (connection lost) and back to `connected`. */
  busDisconnects: number
  busReconnects: number
}

export interface OpenStreamInit {
  topics: readonly string[]
  principal?: Principal
  envelope: boolean
  lastEventId?: string
  /**
   * Send `event: ready` once replay is written and the stream is live (`?ready=1`). Heartbeats are comments, which
   * EventSource never shows; this visible first event lets the browser client tell a live stream from one a
   * buffering proxy holds back, and carries the cursor the stream is live from.
   */
  ready?: boolean
  /** Extra response headers (CORS), already validated by the HTTP layer. */
  headers?: Record<string, string>
}

const TICK_MS = 1000

export class Gateway implements ConnectionOwner {
  readonly bus: Bus
  readonly hub: Hub
  readonly options: GatewayOptions
  readonly stats: GatewayStats = {
    opened: 0, closed: {}, rejected: {}, bytesWritten: 0, replays: 0, resets: {}, replayedEvents: 0,
    published: 0, publishErrors: {}, forcedCloses: 0, busDisconnects: 0, busReconnects: 0
  }

  /** Fed by the authentication strategy (cache hits, dashboard latency); read by the metrics plugin. */
  readonly authMetrics: AuthTelemetry
  readonly #connections = new Set<Connection>()
  /** Sockets the gateway ended (not destroyed) → when; destroyed after `closeGraceMs` if the client never closes. */
  readonly #ending = new Map<Socket, number>()
  #publishing = 0
  #busState: BusState = 'connecting'
  #ticker: NodeJS.Timeout | undefined
  #lastHeartbeat = Date.now()
  #draining = false
  #started = false

  constructor (bus: Bus, options: GatewayOptions, authMetrics: AuthTelemetry = new AuthTelemetry()) {
    this.bus = bus
    this.options = options
    this.hub = new Hub(bus)
    this.authMetrics = authMetrics
  }

  get maxQueueBytes (): number { return this.options.maxQueueBytes }
  get size (): number { return this.#connections.size }
  get draining (): boolean { return this.#draining }
  /** Publishes awaiting the bus's acknowledgement. */
  get publishing (): number { return this.#publishing }
  /** Ended sockets still waiting for their client to close. */
  get ending (): number { return this.#ending.size }
  connections (): IterableIterator<Connection> { return this.#connections.values() }

  async start (): Promise<void> {
    if (this.#started) return
    this.#started = true
    await this.bus.start({ onEvent: this.hub.onEvent, onStatus: this.#onBusStatus })
    this.#ticker = setInterval(this.#tick, Math.min(TICK_MS, this.options.heartbeatMs))
    this.#ticker.unref()
  }

  /** Why a new stream must be refused right now (retry-later conditions), or undefined. */
  admissionProblem (principal?: Principal): ErrorCode | undefined {
    if (this.#draining) return 'SSE_ERR_DRAINING'
    if (this.#connections.size >= this.options.maxConnections) return 'SSE_ERR_BUSY_INSTANCE'
    if (principal !== undefined && principal.anonymous !== true && this.hub.userCount(principal.user) >= this.options.maxConnectionsPerUser) return 'SSE_ERR_BUSY_USER'
    if (!this.bus.health().ready) return 'SSE_ERR_BUS_UNAVAILABLE'
    return undefined
  }

  /** Takes over `socket` (the HTTP layer has hijacked the response) and streams to it. */
  async openStream (socket: Socket, init: OpenStreamInit): Promise<Connection> {
    socket.setNoDelay(true)
    socket.write(responseHead(init.headers) + `retry: ${this.options.retryMs}\n\n`)
    const conn = new Connection(socket, this, init)
    if (this.options.maxStreamAgeMs > 0) conn.expiresAt = conn.openedAt + jitter(this.options.maxStreamAgeMs, 0.1)
    this.#connections.add(conn)
    this.stats.opened++
    if (init.lastEventId !== undefined) this.stats.replays++
    const result = await conn.start(
      init.lastEventId,
      async id => await this.bus.replay(id, init.topics, { limit: this.options.replayLimit }),
      () => this.bus.cursor()
    )
    if (init.ready === true) conn.enqueue(encodeControl('ready', { cursor: this.bus.cursor() }))
    if (result?.kind === 'reset') this.stats.resets[result.reason] = (this.stats.resets[result.reason] ?? 0) + 1
    else if (result !== undefined) this.stats.replayedEvents += result.events.length
    return conn
  }

  /**
   * The answer to a condition that clears by itself: 200, a jittered `retry:`, one typed event naming the reason,
   * a clean close. A non-200 would stop the browser's EventSource for good (WHATWG "fail the connection").
   */
  rejectStream (socket: Socket, code: ErrorCode, headers?: Record<string, string>): void {
    this.stats.rejected[code] = (this.stats.rejected[code] ?? 0) + 1
    const def = ERRORS[code] as { event?: string, message: string }
    socket.end(responseHead(headers) + `retry: ${jitter(this.options.busyRetryMs)}\n\n` +
      encodeControl(def.event ?? 'unavailable', { code, message: def.message }).toString())
    this.#track(socket)
  }

  /**
   * Publishes through the bus with a bound on work in flight: past `maxPublishInFlight` unacknowledged publishes
   * it throws SSE_ERR_PUBLISH_BUSY at once instead of queueing, so a flood costs a 503, not memory.
   */
  async publish (msg: PublishInput): Promise<PublishAck> {
    if (this.#publishing >= this.options.maxPublishInFlight) {
      this.stats.publishErrors.SSE_ERR_PUBLISH_BUSY = (this.stats.publishErrors.SSE_ERR_PUBLISH_BUSY ?? 0) + 1
      throw new GatewayError('SSE_ERR_PUBLISH_BUSY', [this.options.maxPublishInFlight])
    }
    this.#publishing++
    try {
      const ack = await this.bus.publish(msg)
      this.stats.published++
      return ack
    } catch (err) {
      // A bus that already says what went wrong (e.g. SSE_ERR_PUBLISH_SUBJECT) is passed through; anything else failed.
      const e = isGatewayError(err) ? err : new GatewayError('SSE_ERR_PUBLISH_FAILED', [(err as Error).message], { cause: err })
      this.stats.publishErrors[e.code] = (this.stats.publishErrors[e.code] ?? 0) + 1
      throw e
    } finally {
      this.#publishing--
    }
  }

  /** Ends the streams matching `pred` with a typed event (e.g. `unauthorized` for a revoked session). */
  closeWhere (pred: (c: Connection) => boolean, reason: CloseReason, event: string, body: unknown): number {
    let n = 0
    const last = encodeControl(event, body)
    for (const c of [...this.#connections]) if (pred(c)) { c.close(reason, last); n++ }
    return n
  }

  /**
   * Stops accepting streams and closes the open ones in batches spread over `windowMs`, each told a jittered
   * `retry:`, so clients reconnect elsewhere without a thundering herd.
   */
  async drain (windowMs: number): Promise<void> {
    this.#draining = true
    const conns = [...this.#connections]
    if (conns.length === 0) return
    const batches = Math.max(1, Math.min(conns.length, Math.ceil(windowMs / 50)))
    const per = Math.ceil(conns.length / batches)
    const pause = batches > 1 ? windowMs / batches : 0
    for (let i = 0; i < conns.length; i += per) {
      for (const c of conns.slice(i, i + per)) c.close('drain', encodeRetry(jitter(this.options.retryMs)))
      if (pause > 0 && i + per < conns.length) await new Promise(resolve => setTimeout(resolve, pause))
    }
  }

  /** Closes every stream at once and stops the ticker; the bus is closed by its owner. */
  close (): void {
    this.#draining = true
    if (this.#ticker !== undefined) clearInterval(this.#ticker)
    for (const c of [...this.#connections]) c.close('shutdown', encodeRetry(jitter(this.options.retryMs)))
  }

  /**
   * `close()`, then waits (at most `graceMs`, default `closeGraceMs`) for clients to finish closing the ended
   * sockets, and destroys the rest: an HTTP server's close() waits for every socket, so one client that stopped
   * reading would otherwise hold shutdown forever.
   */
  async shutdown (graceMs = this.options.closeGraceMs): Promise<void> {
    this.close()
    const deadline = Date.now() + graceMs
    while (this.#ending.size > 0 && Date.now() < deadline) {
      await new Promise(resolve => setTimeout(resolve, Math.min(50, Math.max(1, deadline - Date.now()))))
    }
    for (const s of this.#ending.keys()) { s.destroy(); this.stats.forcedCloses++ }
    this.#ending.clear()
  }

  onClosed (conn: Connection, reason: CloseReason): void {
    this.#connections.delete(conn)
    this.stats.closed[reason] = (this.stats.closed[reason] ?? 0) + 1
    this.#track(conn.socket)
  }

  /** Watches an ended socket until its client closes it (or the ticker destroys it after `closeGraceMs`). */
  #track (socket: Socket): void {
    if (socket.destroyed || this.#ending.has(socket)) return
    this.#ending.set(socket, Date.now())
    socket.once('close', () => this.#ending.delete(socket))
  }

  onBytes (n: number): void { this.stats.bytesWritten += n }

  readonly #onBusStatus = (status: BusStatus): void => {
    if (status.type === 'state') {
      if (status.state === 'reconnecting' && this.#busState !== 'reconnecting') this.stats.busDisconnects++
      if (status.state === 'connected' && this.#busState === 'reconnecting') this.stats.busReconnects++
      this.#busState = status.state
    }
    this.hub.onStatus(status)
  }

  readonly #tick = (): void => {
    const now = Date.now()
    if (this.#ending.size > 0) {
      // Insertion order is end order: stop at the first socket still within its grace.
      for (const [s, at] of this.#ending) {
        if (now - at < this.options.closeGraceMs) break
        this.#ending.delete(s)
        s.destroy()
        this.stats.forcedCloses++
      }
    }
    const beat = now - this.#lastHeartbeat >= this.options.heartbeatMs - 50
    if (beat) this.#lastHeartbeat = now
    for (const c of this.#connections) {
      if (c.expiresAt !== 0 && now >= c.expiresAt) {
        c.close('max_age', encodeRetry(jitter(this.options.retryMs)))
        continue
      }
      if (beat) c.enqueue(HEARTBEAT)
    }
  }
}

/**
 * The response head, written straight to the socket: no chunked framing (the body ends when the connection does,
 * RFC 9112 §6.3), no per-write overhead of ServerResponse.
 */
export function responseHead (headers?: Record<string, string>): string {
  let head = 'HTTP/1.1 200 OK\r\n' +
    'Content-Type: text/event-stream; charset=utf-8\r\n' +
    // no-transform: proxies must not gzip or rewrite the stream; no-cache: never serve one user's stream to another.
    'Cache-Control: no-cache, no-transform\r\n' +
    // nginx buffers proxied responses by default; this header turns that off for this response only.
    'X-Accel-Buffering: no\r\n' +
    'Connection: close\r\n'
  if (headers !== undefined) {
    for (const [k, v] of Object.entries(headers)) {
      if (/[\r\n]/.test(k) || /[\r\n]/.test(v)) continue
      head += `${k}: ${v}\r\n`
    }
  }
  return head + '\r\n'
}
