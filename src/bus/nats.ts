/**
 * Core NATS bus: live relay of NATS subjects, one NATS subscription per distinct interest pattern,
 * with the gateway's own bounded history for replay. Ids (`<epoch>.<seq>`) are local to this process;
 * a cursor from another instance or an earlier run gets `reset`.
 *
 * After a reconnect, messages published during the outage are gone (core NATS is at-most-once), so the bus
 * reports a `gap`: every stream is reset and old cursors are refused from then on.
 */
import { Events, type Msg, type NatsConnection, type Subscription } from 'nats'
import { GatewayError } from '../errors.js'
import { matchSubject as matchesPattern } from '../subject.js'
import { History, type HistoryLimits } from './history.js'
import { newEpoch } from './memory.js'
import {
  connectWithin, consoleLogger, encodeText, makeEvent, patternsOverlap, PayloadGuard, publishHeaders,
  type BusLogger, type NatsConnectOptions
} from './nats-common.js'
import type { Bus, BusHandlers, BusHealth, BusState, PublishAck, PublishInput, ReplayOptions, ReplayResult } from './types.js'

export const DEFAULT_NATS_HISTORY: Readonly<HistoryLimits> = Object.freeze({ maxEvents: 10_000, maxBytes: 16 << 20 })

export interface NatsCoreBusOptions extends NatsConnectOptions {
  history?: HistoryLimits
  /** Fixed epoch (tests); default: new per process. */
  epoch?: string
}

interface Interest {
  readonly pattern: string
  refs: number
  sub?: Subscription
  /** Earlier interests a message could also match: if one of them is active, it forwards, not this one. */
  earlier: Interest[]
  active: boolean
}

export class NatsCoreBus implements Bus {
  readonly kind = 'nats'
  readonly #opts: NatsCoreBusOptions
  readonly #log: BusLogger
  readonly #history: History
  readonly #guard: PayloadGuard
  readonly #interests = new Map<string, Interest>()
  #order: Interest[] = []
  #seq = 0
  #nc: NatsConnection | undefined
  #handlers: BusHandlers | undefined
  #state: BusState = 'connecting'
  #closed = false
  #gaps = 0

  constructor (opts: NatsCoreBusOptions) {
    this.#opts = opts
    this.#log = opts.logger ?? consoleLogger
    this.#history = new History(opts.epoch ?? newEpoch(), opts.history ?? DEFAULT_NATS_HISTORY)
    this.#guard = new PayloadGuard(this.#log)
  }

  get epoch (): string { return this.#history.epoch }

  async start (handlers: BusHandlers): Promise<void> {
    this.#handlers = handlers
    this.#setState('connecting')
    const { nc, pending } = await connectWithin(this.#opts)
    if (nc !== undefined) { this.#attach(nc); return }
    this.#log.warn({ servers: this.#opts.servers }, 'NATS not reachable yet; serving without it and retrying in the background')
    pending.then(c => { if (this.#closed) void c.close(); else this.#attach(c) }, err => {
      this.#log.error({ err }, 'NATS connection failed for good')
      this.#setState('closed')
    })
  }

  #attach (nc: NatsConnection): void {
    this.#nc = nc
    for (const it of this.#order) this.#subscribe(it)
    this.#setState('connected')
    void this.#watch(nc)
    nc.closed().then(err => {
      if (!this.#closed) this.#log.error({ err }, 'NATS connection closed')
      this.#setState('closed')
    }, () => {})
  }

  async #watch (nc: NatsConnection): Promise<void> {
    for await (const s of nc.status()) {
      if (s.type === Events.Disconnect) {
        this.#log.warn({ server: s.data }, 'NATS disconnected; reconnecting')
        this.#setState('reconnecting')
      } else if (s.type === Events.Reconnect) {
        this.#log.info({ server: s.data }, 'NATS reconnected')
        this.#setState('connected')
        this.#gap()
      } else if (s.type === Events.LDM) {
        this.#log.warn({ server: s.data }, 'NATS server entering lame-duck mode')
      } else if (s.type === Events.Error) {
        this.#log.warn({ err: s.data }, 'NATS async error')
      }
    }
  }

  /** Messages published while disconnected are lost: skip a sequence number and refuse every older cursor. */
  #gap (): void {
    this.#gaps++
    this.#seq++
    this.#history.truncate(this.#seq)
    this.#handlers?.onStatus?.({ type: 'gap', cursor: this.#history.cursor() })
  }

  #setState (state: BusState): void {
    if (this.#state === state) return
    this.#state = state
    this.#handlers?.onStatus?.({ type: 'state', state })
  }

  addInterest (pattern: string): void {
    const known = this.#interests.get(pattern)
    if (known !== undefined) { known.refs++; return }
    const it: Interest = { pattern, refs: 1, earlier: [], active: true }
    for (const other of this.#order) if (patternsOverlap(other.pattern, pattern)) it.earlier.push(other)
    this.#interests.set(pattern, it)
    this.#order.push(it)
    if (this.#nc !== undefined) this.#subscribe(it)
  }

  removeInterest (pattern: string): void {
    const it = this.#interests.get(pattern)
    if (it === undefined || --it.refs > 0) return
    it.active = false
    this.#interests.delete(pattern)
    this.#order = this.#order.filter(o => o !== it)
    for (const o of this.#order) if (o.earlier.includes(it)) o.earlier = o.earlier.filter(e => e !== it)
    // Immediate: the client drops this subscription's messages from now on, so the next overlapping
    // interest takes over at once (no window where a message is dropped by both).
    try { it.sub?.unsubscribe() } catch {}
    it.sub = undefined
  }

  #subscribe (it: Interest): void {
    if (this.#nc === undefined || it.sub !== undefined) return
    it.sub = this.#nc.subscribe(it.pattern, { callback: (err, msg) => { if (err === null) this.#onMsg(it, msg) } })
  }

  #onMsg (it: Interest, msg: Msg): void {
    if (!it.active) return
    // The server sends one copy per matching subscription; the oldest active matching interest forwards it.
    for (const e of it.earlier) if (e.active && e.sub !== undefined && matchesPattern(e.pattern, msg.subject)) return
    const data = this.#guard.decode(msg.subject, msg.data)
    if (data === undefined) return
    const seq = ++this.#seq
    const ev = makeEvent(this.#history.epoch, seq, msg.subject, data, msg.headers)
    this.#history.append(ev)
    this.#handlers?.onEvent(ev)
  }

  /** Round trip to the server, so interests declared before it are in effect. */
  async flush (): Promise<void> { await this.#nc?.flush() }

  async publish (msg: PublishInput): Promise<PublishAck> {
    const nc = this.#nc
    if (nc === undefined || nc.isClosed() || this.#closed) throw new GatewayError('SSE_ERR_PUBLISH_FAILED', ['NATS is not connected'])
    try {
      nc.publish(msg.subject, encodeText(msg.data), { headers: publishHeaders(msg.event, msg.msgId) })
    } catch (err) {
      throw new GatewayError('SSE_ERR_PUBLISH_FAILED', [(err as Error).message], { cause: err })
    }
    return {}
  }

  async replay (afterId: string, topics: readonly string[], opts: ReplayOptions): Promise<ReplayResult> {
    return this.#history.replay(afterId, topics, opts.limit)
  }

  cursor (): string { return this.#history.cursor() }

  health (): BusHealth {
    return {
      ready: !this.#closed && this.#state === 'connected',
      state: this.#closed ? 'closed' : this.#state,
      detail: {
        server: this.#nc?.getServer(),
        subscriptions: this.#order.length,
        history: this.#history.size,
        gaps: this.#gaps,
        invalidPayloads: this.#guard.invalid
      }
    }
  }

  async close (): Promise<void> {
    if (this.#closed) return
    this.#closed = true
    this.#handlers = undefined
    const nc = this.#nc
    this.#nc = undefined
    if (nc !== undefined && !nc.isClosed()) await nc.close().catch(() => {})
  }
}
