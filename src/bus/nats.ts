/**
 * Core NATS bus: live relay of NATS subjects, one NATS subscription per distinct interest pattern,
 * with the gateway's own bounded history for replay. Ids (`<epoch>.<seq>`) are local to this process;
 * a cursor from another instance or an earlier run gets `reset`.
 *
 * After a reconnect, messages published during the outage are gone (core NATS is at-most-once), so the bus
 * reports a `gap`: every stream is reset and old cursors are refused from then on.
 */
import { type Msg, type NatsConnection, type Subscription } from 'nats'
import { GatewayError } from '../errors.js'
import { matchSubject as matchesPattern } from '../subject.js'
import { History, type HistoryLimits } from './history.js'
import { newEpoch } from './memory.js'
import {
  drainConnection, watchStatus,
  connectWithin, consoleLogger, redactUrl, encodeText, EVENT_HEADER, makeEvent, patternsOverlap, PayloadGuard, publishHeaders,
  type BusLogger, type NatsConnectOptions
} from './nats-common.js'
import type { Bus, BusHandlers, BusHealth, BusState, PublishAck, PublishInput, ReplayOptions, ReplayResult } from './types.js'

/** Bound on copies remembered during one hand-over (one round trip long). */
const MAX_HANDOVER_COPIES = 100_000
/** A copy arrives within a round trip of its sibling; an entry older than this will not be matched. */
const COPY_TTL_MS = 1000

interface CopyEntry { fp: string, from: Set<Interest>, remaining: number, at: number }
const HANDOVER_GRACE_MS = 500
const HANDOVER_UNSUB_DELAY_MS = 250

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
  /** While retiring: every interest that can receive a copy of one of its messages (they all overlap it). */
  peers?: Set<Interest>
  /** Drained: the server confirmed its UNSUB; it receives nothing more (kept briefly to catch trailing copies). */
  drained?: boolean
  /** How many later interests overlap this one (they would take over when it leaves). */
  later: number
  active: boolean
  /** Recently forwarded messages (kept only while `later` > 0), to recognise their copies after a hand-over. */
  forwarded?: Ring
  /** Recent copies dropped because an earlier interest forwards them. */
  dropped?: Ring
}

/** Bounded ring of recent messages (references only; fingerprints are computed at hand-over time). */
class Ring {
  readonly #buf: Msg[] = []
  #next = 0
  constructor (readonly size: number) {}
  push (m: Msg): void {
    if (this.#buf.length < this.size) this.#buf.push(m)
    else { this.#buf[this.#next] = m; this.#next = (this.#next + 1) % this.size }
  }

  /** Oldest first. */
  items (): Msg[] { return [...this.#buf.slice(this.#next), ...this.#buf.slice(0, this.#next)] }
}

const RECENT = 128

function fingerprint (msg: Msg): string {
  return `${msg.subject}\u0000${msg.headers?.get(EVENT_HEADER) ?? ''}\u0000${Buffer.from(msg.data.buffer, msg.data.byteOffset, msg.data.byteLength).toString('latin1')}`
}

export class NatsCoreBus implements Bus {
  readonly kind = 'nats'
  readonly #opts: NatsCoreBusOptions
  readonly #log: BusLogger
  readonly #history: History
  readonly #guard: PayloadGuard
  readonly #interests = new Map<string, Interest>()
  #order: Interest[] = []
  /** Interests whose UNSUB the server has not confirmed yet, while overlapping interests take over. */
  readonly #retiring = new Set<Interest>()
  /** Forwarded messages whose copies may still arrive on other subscriptions (by content), during a hand-over. */
  readonly #copies = new Map<string, CopyEntry[]>()
  /** Insertion order of `#copies` entries, for expiry after COPY_TTL_MS. */
  #copyQueue: CopyEntry[] = []
  #copyHead = 0
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
    this.#log.warn({ servers: this.#opts.servers.map(redactUrl) }, 'NATS not reachable yet; serving without it and retrying in the background')
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
    await watchStatus(nc, this.#log, {
      disconnect: () => { this.#setState('reconnecting') },
      reconnect: () => { this.#setState('connected'); this.#gap() },
      reconnectMsg: 'NATS reconnected'
    })
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
    const it: Interest = { pattern, refs: 1, earlier: [], later: 0, active: true }
    for (const other of this.#order) if (patternsOverlap(other.pattern, pattern)) { it.earlier.push(other); other.later++ }
    for (const r of this.#retiring) if (patternsOverlap(r.pattern, pattern)) r.peers?.add(it)
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
    for (const e of it.earlier) if (--e.later <= 0) { e.later = 0; e.forwarded = undefined; e.dropped = undefined }
    const takers: Interest[] = []
    for (const o of this.#order) {
      if (o.earlier.includes(it)) { o.earlier = o.earlier.filter(e => e !== it); takers.push(o) }
    }
    const sub = it.sub
    it.sub = undefined
    if (sub === undefined) return
    if (takers.length === 0) {
      // Nobody else can receive its messages: drop it at once.
      try { sub.unsubscribe() } catch {}
      return
    }
    // Later, overlapping interests take over what this one forwarded. Copies already on the wire reach either or
    // both subscriptions, so until the server confirms the UNSUB (drain = UNSUB + PING/PONG) this one keeps
    // receiving, and copies are matched up by content: no message lost, none forwarded twice.
    it.peers = new Set([...it.earlier.filter(e => e.active), ...takers])
    this.#retiring.add(it)
    this.#seedCopies(it, takers)
    const done = (): void => {
      // A copy the server was already delivering when it processed the UNSUB can trail the PONG by a little:
      // keep matching copies for a short grace period after the drain.
      it.drained = true
      setTimeout(() => {
        this.#retiring.delete(it)
        it.peers = undefined
        if (this.#retiring.size === 0) { this.#copies.clear(); this.#copyQueue = []; this.#copyHead = 0 }
      }, HANDOVER_GRACE_MS).unref()
    }
    // The UNSUB itself waits a little: nats-server 2.9 can route a message published right around a SUB/UNSUB pair
    // to neither subscription (observed: ~1 in 50k during heavy churn), so the taker's SUB must be in effect first.
    setTimeout(() => { sub.drain().then(done, done) }, HANDOVER_UNSUB_DELAY_MS).unref()
  }

  /**
   * Messages `it` forwarded just before leaving may still have copies in flight to the interests taking over:
   * remember them (minus the copies those interests already received and dropped), so they are not forwarded again.
   */
  #seedCopies (it: Interest, takers: Interest[]): void {
    const recent = it.forwarded?.items() ?? []
    it.forwarded = undefined
    it.dropped = undefined
    if (recent.length === 0) return
    const seen = new Map<Interest, Map<string, number>>()
    for (const t of takers) {
      const counts = new Map<string, number>()
      for (const m of t.dropped?.items() ?? []) { const f = fingerprint(m); counts.set(f, (counts.get(f) ?? 0) + 1) }
      seen.set(t, counts)
    }
    for (const m of recent) {
      const fp = fingerprint(m)
      const from = new Set<Interest>([it])
      let remaining = 0
      for (const t of takers) {
        if (!matchesPattern(t.pattern, m.subject)) continue
        const counts = seen.get(t) as Map<string, number>
        const c = counts.get(fp) ?? 0
        if (c > 0) { counts.set(fp, c - 1); from.add(t) } else remaining++
      }
      if (remaining > 0) this.#remember({ fp, from, remaining, at: Date.now() })
    }
  }

  #subscribe (it: Interest): void {
    if (this.#nc === undefined || it.sub !== undefined) return
    it.sub = this.#nc.subscribe(it.pattern, { callback: (err, msg) => { if (err === null) this.#onMsg(it, msg) } })
  }

  #onMsg (it: Interest, msg: Msg): void {
    if (this.#retiring.size > 0 && this.#handOver(it, msg)) return
    if (!it.active) return
    // The server sends one copy per matching subscription; the oldest active matching interest forwards it.
    for (const e of it.earlier) {
      if (e.active && e.sub !== undefined && matchesPattern(e.pattern, msg.subject)) {
        (it.dropped ??= new Ring(RECENT)).push(msg)
        return
      }
    }
    if (it.later > 0) (it.forwarded ??= new Ring(RECENT)).push(msg)
    this.#forward(msg)
  }

  /**
   * During a hand-over (an interest retiring while overlapping ones stay), a message matching a retiring interest
   * is forwarded by the first copy that arrives; later copies from other subscriptions are recognised by content
   * (each subscription gets at most one copy of a message) and dropped. Returns true when it handled `msg`.
   */
  #handOver (it: Interest, msg: Msg): boolean {
    let matching: Interest[] | undefined
    for (const r of this.#retiring) if (matchesPattern(r.pattern, msg.subject)) (matching ??= []).push(r)
    if (matching === undefined) return false
    const fp = fingerprint(msg)
    const pending = this.#copies.get(fp)
    if (pending !== undefined) {
      const i = pending.findIndex(p => !p.from.has(it))
      if (i >= 0) {
        const p = pending[i]
        p.from.add(it)
        if (--p.remaining <= 0) this.#forget(p)
        return true
      }
    }
    // Only interests overlapping a retiring one can hold a copy: its peers (not every interest).
    let others = 0
    let wanted = it.active
    const counted = new Set<Interest>([it])
    for (const r of matching) if (!counted.has(r)) { counted.add(r); if (r.drained !== true) others++ }
    for (const r of matching) {
      for (const o of r.peers ?? []) {
        if (counted.has(o)) continue
        counted.add(o)
        if (o.active && o.sub !== undefined && matchesPattern(o.pattern, msg.subject)) { others++; wanted = true }
      }
    }
    // Only released interests match: nobody asked for it any more.
    if (!wanted) return true
    if (others > 0) this.#remember({ fp, from: new Set([it]), remaining: others, at: Date.now() })
    this.#forward(msg)
    return true
  }

  #remember (e: CopyEntry): void {
    const old = e.at - COPY_TTL_MS
    while (this.#copyHead < this.#copyQueue.length &&
      (this.#copyQueue[this.#copyHead].at < old || this.#copyQueue.length - this.#copyHead >= MAX_HANDOVER_COPIES)) {
      this.#forget(this.#copyQueue[this.#copyHead++])
    }
    if (this.#copyHead > 1024 && this.#copyHead * 2 > this.#copyQueue.length) {
      this.#copyQueue = this.#copyQueue.slice(this.#copyHead)
      this.#copyHead = 0
    }
    this.#copyQueue.push(e)
    const list = this.#copies.get(e.fp)
    if (list !== undefined) list.push(e); else this.#copies.set(e.fp, [e])
  }

  #forget (e: CopyEntry): void {
    e.remaining = 0
    const list = this.#copies.get(e.fp)
    if (list === undefined) return
    const i = list.indexOf(e)
    if (i >= 0) list.splice(i, 1)
    if (list.length === 0) this.#copies.delete(e.fp)
  }

  #forward (msg: Msg): void {
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
    // Drained, not just closed: publishes still in flight reach the server before the process exits.
    if (nc !== undefined) await drainConnection(nc)
  }
}
