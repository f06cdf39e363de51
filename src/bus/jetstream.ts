/**
 * JetStream bus: every event is a message of one stream, and its id is `<epoch>.<stream sequence>`, so every
 * gateway instance issues the same id for the same event and a browser can resume on any of them.
 *
 * - The epoch is derived from the stream's creation time: a deleted and recreated stream yields a new epoch,
 *   and old cursors get `reset` with reason `epoch`.
 * - Live events come from ONE ephemeral, ordered (ack-none, flow-controlled, heart-beating) push consumer per
 *   gateway over all of the stream's subjects, fanned out locally; interests need no upstream work.
 *   nats-server 2.9 allows one filter subject per consumer (`filter_subjects` arrived in 2.10), so the whole
 *   stream is read and filtered here.
 * - The consumer is recreated from the last delivered sequence + 1 after a reconnect, a consumer-sequence gap
 *   or missed heartbeats: a NATS outage loses nothing and duplicates nothing.
 * - Replay reads the stream from the cursor's sequence + 1 with a short-lived consumer (server-side filtered
 *   when one topic is asked for), bounded by `limit`.
 */
import {
  AckPolicy, DeliverPolicy, StorageType, createInbox, isFlowControlMsg, isHeartbeatMsg, nanos,
  type JetStreamClient, type JetStreamManager, type Msg, type NatsConnection, type StreamInfo, type Subscription
} from 'nats'
import { GatewayError } from '../errors.js'
import { coversSubject } from '../subject.js'
import { matchesAny } from './history.js'
import {
  drainConnection, watchStatus,
  connectWithin, consoleLogger, redactUrl, encodeText, jitter, makeEvent, patternsOverlap, PayloadGuard, publishHeaders, sleep,
  type BusLogger, type NatsConnectOptions
} from './nats-common.js'
import type {
  Bus, BusEvent, BusHandlers, BusHealth, BusState, PublishAck, PublishInput, ReplayOptions, ReplayResult
} from './types.js'
import { formatEventId, parseEventId } from './types.js'

export const DEFAULT_HEARTBEAT_MS = 5000
export const DEFAULT_REPLAY_MAX_SCAN = 100_000
/** Most topics replayed through server-filtered consumers in parallel; more → one filtered scan. */
const MAX_FILTERED_READS = 16
export const DEFAULT_REPLAY_TIMEOUT_MS = 10_000
/**
 * JetStream API requests normally answer in milliseconds. Kept short because right after a cluster node dies the meta
 * leader may still place an ephemeral consumer on it, and that request only ends by timing out: retrying soon wins.
 */
export const DEFAULT_API_TIMEOUT_MS = 2000
export const DEFAULT_PUBLISH_TIMEOUT_MS = 5000

export interface JetStreamOptions {
  /** Stream name. */
  stream: string
  /** Subjects the stream captures; required to create it. */
  subjects?: string[]
  /** Create the stream at start-up when it does not exist (else start fails naming the stream). */
  create?: boolean
  /** Settings used only when creating the stream. */
  replicas?: number
  maxAgeMs?: number
  maxMsgs?: number
  maxBytes?: number
  /** `Nats-Msg-Id` de-duplication window (JetStream default 2 min). */
  duplicateWindowMs?: number
  /** Idle heartbeat of the live consumer; 3 missed heartbeats recreate it. */
  heartbeatMs?: number
  /** A multi-topic replay reads at most this many stream messages; beyond → reset `too_many`. */
  replayMaxScan?: number
  replayTimeoutMs?: number
  /** Timeout of JetStream API requests (stream info, consumer create); publishes wait at least 5 s for their ack. */
  apiTimeoutMs?: number
}

export interface JetStreamBusOptions extends NatsConnectOptions {
  jetstream: JetStreamOptions
}

/** `<epoch>` from the stream's creation time (nanoseconds, base 36): equal on every instance, new when recreated. */
export function epochFromCreated (created: string): string {
  const m = /^(.*?)(?:\.(\d+))?(Z|[+-]\d\d:\d\d)$/.exec(created)
  const secs = Date.parse(m !== null ? m[1] + m[3] : created)
  if (!Number.isFinite(secs)) throw new Error(`unparseable stream creation time ${created}`)
  const frac = (m?.[2] ?? '').padEnd(9, '0').slice(0, 9)
  return (BigInt(Math.floor(secs / 1000)) * 1_000_000_000n + BigInt(frac)).toString(36)
}

/** Stream and consumer sequences from a JetStream delivery's reply subject (`$JS.ACK.…`), v1 and v2 forms. */
export function parseAckSubject (reply: string | undefined): { sseq: number, dseq: number, pending: number } | undefined {
  if (reply === undefined || !reply.startsWith('$JS.ACK.')) return undefined
  const t = reply.split('.')
  // v1: $JS.ACK.<stream>.<consumer>.<delivered>.<sseq>.<dseq>.<ts>.<pending>
  // v2: $JS.ACK.<domain>.<hash>.<stream>.<consumer>.<delivered>.<sseq>.<dseq>.<ts>.<pending>[.<token>]
  const base = t.length === 9 ? 2 : t.length >= 11 ? 4 : -1
  if (base < 0) return undefined
  const sseq = Number(t[base + 3])
  const dseq = Number(t[base + 4])
  const pending = Number(t[base + 6])
  if (!Number.isSafeInteger(sseq) || !Number.isSafeInteger(dseq)) return undefined
  return { sseq, dseq, pending }
}

function isNotFound (err: unknown): boolean {
  const e = err as { api_error?: { err_code?: number }, message?: string }
  return e?.api_error?.err_code === 10059 || /stream not found/i.test(e?.message ?? '')
}

export class JetStreamBus implements Bus {
  readonly kind = 'jetstream'
  readonly #opts: JetStreamBusOptions
  readonly #js: Required<Pick<JetStreamOptions, 'heartbeatMs' | 'replayMaxScan' | 'replayTimeoutMs' | 'apiTimeoutMs'>> & JetStreamOptions
  readonly #log: BusLogger
  readonly #guard: PayloadGuard
  #nc: NatsConnection | undefined
  #jsm: JetStreamManager | undefined
  #client: JetStreamClient | undefined
  #handlers: BusHandlers | undefined
  #state: BusState = 'connecting'
  #closed = false
  #epoch = '0'
  #lastSeq = 0
  #subjects: string[] = []
  #streamOk = false
  // Live consumer.
  #gen = 0
  #liveSub: Subscription | undefined
  #liveName: string | undefined
  #liveUp = false
  #expectDseq = 1
  #lastActivity = 0
  #hbTimer: NodeJS.Timeout | undefined
  #resets = 0
  #gaps = 0

  constructor (opts: JetStreamBusOptions) {
    this.#opts = opts
    this.#js = {
      heartbeatMs: DEFAULT_HEARTBEAT_MS,
      replayMaxScan: DEFAULT_REPLAY_MAX_SCAN,
      replayTimeoutMs: DEFAULT_REPLAY_TIMEOUT_MS,
      apiTimeoutMs: DEFAULT_API_TIMEOUT_MS,
      ...opts.jetstream
    }
    this.#log = opts.logger ?? consoleLogger
    this.#guard = new PayloadGuard(this.#log)
  }

  get epoch (): string { return this.#epoch }
  get stream (): string { return this.#js.stream }

  async start (handlers: BusHandlers): Promise<void> {
    this.#handlers = handlers
    this.#setState('connecting')
    const { nc, pending } = await connectWithin(this.#opts)
    if (nc !== undefined) {
      try {
        await this.#attach(nc)
      } catch (err) {
        await nc.close().catch(() => {})
        this.#nc = undefined
        throw err
      }
      return
    }
    this.#log.warn({ servers: this.#opts.servers.map(redactUrl) }, 'NATS not reachable yet; serving without it and retrying in the background')
    pending.then(async c => {
      if (this.#closed) { await c.close(); return }
      await this.#attach(c)
    }).catch(err => {
      this.#log.error({ err }, 'JetStream bus could not start')
      this.#setState('closed')
    })
  }

  async #attach (nc: NatsConnection): Promise<void> {
    this.#nc = nc
    this.#jsm = await nc.jetstreamManager({ timeout: this.#js.apiTimeoutMs })
    this.#client = nc.jetstream({ timeout: Math.max(this.#js.apiTimeoutMs, DEFAULT_PUBLISH_TIMEOUT_MS) })
    const info = await this.#ensureStream()
    this.#epoch = epochFromCreated(info.created)
    this.#lastSeq = info.state.last_seq
    this.#subjects = info.config.subjects ?? []
    this.#streamOk = true
    const gen = ++this.#gen
    await this.#createLive(gen)
    this.#setState('connected')
    this.#hbTimer = setInterval(() => this.#checkHeartbeat(), this.#js.heartbeatMs)
    this.#hbTimer.unref()
    void this.#watch(nc)
    nc.closed().then(err => {
      if (!this.#closed) this.#log.error({ err }, 'NATS connection closed')
      this.#setState('closed')
    }, () => {})
  }

  async #ensureStream (): Promise<StreamInfo> {
    const jsm = this.#jsm as JetStreamManager
    const name = this.#js.stream
    try {
      const info = await jsm.streams.info(name)
      const want = this.#js.subjects
      const have = info.config.subjects ?? []
      if (want !== undefined && (want.length !== have.length || want.some(w => !have.includes(w)))) {
        // The gateway never changes an existing stream; say so instead of silently relaying other subjects.
        this.#log.warn({ stream: name, configured: want, actual: have }, 'JetStream stream exists with other subjects than SSE_JETSTREAM_SUBJECTS; using the stream as it is')
      }
      return info
    } catch (err) {
      if (!isNotFound(err)) throw err
    }
    if (this.#js.create !== true) {
      throw new GatewayError('SSE_ERR_CONFIG', [`SSE_JETSTREAM_STREAM: JetStream stream "${name}" does not exist ` +
        '(create it, or set SSE_JETSTREAM_CREATE=true with SSE_JETSTREAM_SUBJECTS)'])
    }
    const subjects = this.#js.subjects ?? []
    if (subjects.length === 0) {
      throw new GatewayError('SSE_ERR_CONFIG', [`SSE_JETSTREAM_SUBJECTS: needed to create JetStream stream "${name}"`])
    }
    this.#log.info({ stream: name, subjects }, 'creating JetStream stream')
    return await jsm.streams.add({
      name,
      subjects,
      storage: StorageType.File,
      num_replicas: this.#js.replicas ?? 1,
      ...(this.#js.maxAgeMs !== undefined ? { max_age: nanos(this.#js.maxAgeMs) } : {}),
      ...(this.#js.maxMsgs !== undefined ? { max_msgs: this.#js.maxMsgs } : {}),
      ...(this.#js.maxBytes !== undefined ? { max_bytes: this.#js.maxBytes } : {}),
      ...(this.#js.duplicateWindowMs !== undefined ? { duplicate_window: nanos(this.#js.duplicateWindowMs) } : {})
    })
  }

  async #watch (nc: NatsConnection): Promise<void> {
    await watchStatus(nc, this.#log, {
      disconnect: () => { this.#setState('reconnecting') },
      reconnect: () => { this.#setState('connected'); this.#reset('reconnect') },
      reconnectMsg: 'NATS reconnected; resuming the stream after the last delivered sequence'
    })
  }

  #setState (state: BusState): void {
    if (this.#state === state) return
    this.#state = state
    this.#handlers?.onStatus?.({ type: 'state', state })
  }

  // ---- live consumer ----

  async #createLive (gen: number): Promise<void> {
    const nc = this.#nc as NatsConnection
    const jsm = this.#jsm as JetStreamManager
    const inbox = createInbox()
    const sub = nc.subscribe(inbox, { callback: (err, m) => { if (err === null) this.#onLive(gen, m) } })
    this.#liveSub = sub
    this.#expectDseq = 1
    this.#lastActivity = Date.now()
    try {
      const ci = await jsm.consumers.add(this.#js.stream, {
        deliver_subject: inbox,
        ack_policy: AckPolicy.None,
        deliver_policy: DeliverPolicy.StartSequence,
        opt_start_seq: this.#lastSeq + 1,
        flow_control: true,
        idle_heartbeat: nanos(this.#js.heartbeatMs),
        mem_storage: true,
        inactive_threshold: nanos(Math.max(5 * this.#js.heartbeatMs, 10_000))
      })
      if (gen !== this.#gen) { void jsm.consumers.delete(this.#js.stream, ci.name).catch(() => {}); return }
      this.#liveName = ci.name
      this.#liveUp = true
    } catch (err) {
      sub.unsubscribe()
      if (this.#liveSub === sub) this.#liveSub = undefined
      throw err
    }
  }

  #onLive (gen: number, m: Msg): void {
    if (gen !== this.#gen) return
    this.#lastActivity = Date.now()
    if (isHeartbeatMsg(m)) {
      const stalled = m.headers?.get('Nats-Consumer-Stalled')
      if (stalled !== undefined && stalled !== '') this.#nc?.publish(stalled)
      const last = Number(m.headers?.get('Nats-Last-Consumer') ?? 0)
      if (last > this.#expectDseq - 1) this.#reset('missed deliveries (heartbeat)')
      return
    }
    if (isFlowControlMsg(m)) { if (m.reply !== undefined && m.reply !== '') m.respond(); return }
    const meta = parseAckSubject(m.reply)
    if (meta === undefined) return
    if (meta.dseq !== this.#expectDseq) { this.#reset(`consumer sequence gap (${this.#expectDseq} → ${meta.dseq})`); return }
    this.#expectDseq++
    if (meta.sseq <= this.#lastSeq) return
    this.#lastSeq = meta.sseq
    const data = this.#guard.decode(m.subject, m.data)
    if (data === undefined) return
    this.#handlers?.onEvent(makeEvent(this.#epoch, meta.sseq, m.subject, data, m.headers))
  }

  #checkHeartbeat (): void {
    if (this.#closed || this.#state !== 'connected' || !this.#liveUp) return
    if (Date.now() - this.#lastActivity > 3 * this.#js.heartbeatMs) this.#reset('missed heartbeats')
  }

  /** Drops the live consumer and recreates it from the last delivered sequence + 1 (retrying with backoff). */
  #reset (why: string): void {
    if (this.#closed || this.#nc === undefined) return
    const gen = ++this.#gen
    this.#resets++
    this.#liveUp = false
    this.#dropLive()
    this.#log.info({ why, after: this.#lastSeq }, 'recreating the JetStream live consumer')
    void this.#recreate(gen)
  }

  #dropLive (): void {
    try { this.#liveSub?.unsubscribe() } catch {}
    this.#liveSub = undefined
    const name = this.#liveName
    this.#liveName = undefined
    if (name !== undefined && this.#nc !== undefined && !this.#nc.isClosed()) {
      void this.#jsm?.consumers.delete(this.#js.stream, name).catch(() => {})
    }
  }

  async #recreate (gen: number): Promise<void> {
    let delay = 100
    let logged = false
    while (!this.#closed && gen === this.#gen) {
      try {
        const info = await (this.#jsm as JetStreamManager).streams.info(this.#js.stream)
        if (gen !== this.#gen) return
        this.#streamOk = true
        this.#checkGeneration(info)
        await this.#createLive(gen)
        return
      } catch (err) {
        if (gen !== this.#gen || this.#closed) return
        this.#streamOk = !isNotFound(err)
        if (!logged) { this.#log.warn({ err, stream: this.#js.stream }, 'JetStream live consumer not available yet; retrying'); logged = true }
        await sleep(jitter(delay))
        delay = Math.min(delay * 2, 2000)
      }
    }
  }

  /** A recreated stream (new epoch) or messages purged before we read them: report a gap, never skip silently. */
  #checkGeneration (info: StreamInfo): void {
    const epoch = epochFromCreated(info.created)
    this.#subjects = info.config.subjects ?? this.#subjects
    const first = info.state.first_seq
    if (epoch !== this.#epoch) {
      this.#log.warn({ stream: this.#js.stream, from: this.#epoch, to: epoch }, 'JetStream stream was recreated; new epoch')
      this.#epoch = epoch
      this.#lastSeq = Math.max(0, first - 1)
    } else if (first > this.#lastSeq + 1) {
      this.#log.warn({ stream: this.#js.stream, after: this.#lastSeq, first }, 'events were removed from the stream before delivery')
      this.#lastSeq = first - 1
    } else {
      return
    }
    this.#gaps++
    this.#handlers?.onStatus?.({ type: 'gap', cursor: this.cursor() })
  }

  // ---- interests: the live consumer reads the whole stream; the hub's subject index does the filtering ----

  addInterest (_pattern: string): void {}
  removeInterest (_pattern: string): void {}

  async flush (): Promise<void> { await this.#nc?.flush() }

  async publish (msg: PublishInput): Promise<PublishAck> {
    const js = this.#client
    if (js === undefined || this.#closed) throw new GatewayError('SSE_ERR_PUBLISH_FAILED', ['NATS is not connected'])
    let ack
    try {
      ack = await js.publish(msg.subject, encodeText(msg.data), {
        ...(msg.msgId !== undefined ? { msgID: msg.msgId } : {}),
        headers: publishHeaders(msg.event)
      })
    } catch (err) {
      throw new GatewayError('SSE_ERR_PUBLISH_FAILED', [(err as Error).message], { cause: err })
    }
    if (ack.stream !== this.#js.stream) {
      throw new GatewayError('SSE_ERR_PUBLISH_SUBJECT', [msg.subject, `it is stored by stream ${ack.stream}, not ${this.#js.stream}`])
    }
    return { id: formatEventId(this.#epoch, ack.seq), ...(ack.duplicate ? { duplicate: true } : {}) }
  }

  // ---- replay ----

  async replay (afterId: string, topics: readonly string[], opts: ReplayOptions): Promise<ReplayResult> {
    const parsed = parseEventId(afterId)
    if (parsed === undefined) return { kind: 'reset', reason: 'malformed', cursor: this.cursor() }
    if (parsed.epoch !== this.#epoch) return { kind: 'reset', reason: 'epoch', cursor: this.cursor() }
    // JetStream API calls fail for a few seconds while a cluster elects leaders: retry within the replay timeout.
    const deadline = Date.now() + this.#js.replayTimeoutMs
    for (let delay = 100; ; delay = Math.min(delay * 2, 1000)) {
      try {
        return await this.#replayOnce(parsed.seq, topics, opts.limit)
      } catch (err) {
        if (this.#closed || Date.now() + delay >= deadline) {
          throw err instanceof GatewayError ? err : new GatewayError('SSE_ERR_BUS_UNAVAILABLE', [], { cause: err })
        }
        await sleep(jitter(delay))
      }
    }
  }

  async #replayOnce (after: number, topics: readonly string[], limit: number): Promise<ReplayResult> {
    const jsm = this.#jsm
    if (jsm === undefined || this.#nc === undefined) throw new GatewayError('SSE_ERR_BUS_UNAVAILABLE')
    const info = await jsm.streams.info(this.#js.stream)
    if (epochFromCreated(info.created) !== this.#epoch) return { kind: 'reset', reason: 'epoch', cursor: this.cursor() }
    const { first_seq: first, last_seq: last } = info.state
    if (after > last) return { kind: 'reset', reason: 'ahead', cursor: this.cursor() }
    if (after + 1 < first) return { kind: 'reset', reason: 'truncated', cursor: this.cursor() }
    if (after === last || topics.length === 0) return { kind: 'events', events: [] }
    const subjects = info.config.subjects ?? this.#subjects
    // Topics the stream cannot hold contribute nothing (and must not force an unfiltered scan).
    const wanted = subjects.length === 0 ? topics : topics.filter(t => subjects.some(s => patternsOverlap(s, t)))
    if (wanted.length === 0) return { kind: 'events', events: [] }
    // Topics inside the stream's subjects and pairwise disjoint: the server filters, one short-lived consumer per
    // topic (nats-server 2.9 takes one filter subject per consumer), merged by sequence. Otherwise read the stream
    // once and filter here, at most replayMaxScan messages.
    const covered = wanted.every(t => subjects.some(s => coversSubject(s, t)))
    const disjoint = wanted.every((t, i) => wanted.every((u, j) => j <= i || !patternsOverlap(t, u)))
    let reads: Array<{ events: BusEvent[], firstSeq?: number } | 'too_many'>
    if (covered && disjoint && wanted.length <= MAX_FILTERED_READS) {
      reads = await Promise.all(wanted.map(async t => await this.#read(after + 1, last, t, [t], limit)))
    } else {
      if (last - after > this.#js.replayMaxScan) return { kind: 'reset', reason: 'too_many', cursor: this.cursor() }
      reads = [await this.#read(after + 1, last, undefined, wanted, limit)]
    }
    let events: BusEvent[] = []
    let firstSeq: number | undefined
    for (const r of reads) {
      if (r === 'too_many') return { kind: 'reset', reason: 'too_many', cursor: this.cursor() }
      if (r.firstSeq !== undefined && (firstSeq === undefined || r.firstSeq < firstSeq)) firstSeq = r.firstSeq
      events = events.length === 0 ? r.events : events.concat(r.events)
    }
    if (reads.length > 1) events.sort((a, b) => a.seq - b.seq)
    if (events.length > limit) return { kind: 'reset', reason: 'too_many', cursor: this.cursor() }
    // The server starts at the closest available sequence when ours was purged meanwhile: that is a gap.
    if (firstSeq !== undefined && firstSeq > after + 1) {
      const now = await jsm.streams.info(this.#js.stream).catch(() => undefined)
      if (now !== undefined && now.state.first_seq > after + 1) return { kind: 'reset', reason: 'truncated', cursor: this.cursor() }
    }
    return { kind: 'events', events }
  }

  /** Reads stream messages [from, to] through a short-lived consumer; stops at `to` or when nothing is pending. */
  async #read (from: number, to: number, filter: string | undefined, topics: readonly string[], limit: number):
  Promise<{ events: BusEvent[], firstSeq?: number } | 'too_many'> {
    const nc = this.#nc as NatsConnection
    const jsm = this.#jsm as JetStreamManager
    const epoch = this.#epoch
    const events: BusEvent[] = []
    let firstSeq: number | undefined
    let expect = 1
    let settle!: (v: 'done' | 'too_many' | Error) => void
    const done = new Promise<'done' | 'too_many' | Error>(resolve => { settle = resolve })
    const inbox = createInbox()
    const sub = nc.subscribe(inbox, {
      callback: (err, m) => {
        if (err !== null) { settle(err); return }
        if (isHeartbeatMsg(m)) return
        if (isFlowControlMsg(m)) { if (m.reply !== undefined && m.reply !== '') m.respond(); return }
        const meta = parseAckSubject(m.reply)
        if (meta === undefined) return
        if (meta.dseq !== expect) { settle(new Error('replay consumer skipped messages')); return }
        expect++
        firstSeq ??= meta.sseq
        if (meta.sseq > to) { settle('done'); return }
        if (matchesAny(topics, m.subject)) {
          const data = this.#guard.decode(m.subject, m.data)
          if (data !== undefined) {
            if (events.length >= limit) { settle('too_many'); return }
            events.push(makeEvent(epoch, meta.sseq, m.subject, data, m.headers))
          }
        }
        if (meta.sseq >= to || meta.pending === 0) settle('done')
      }
    })
    let name: string | undefined
    const timer = setTimeout(() => settle(new Error(`replay did not finish in ${this.#js.replayTimeoutMs} ms`)), this.#js.replayTimeoutMs)
    try {
      const ci = await jsm.consumers.add(this.#js.stream, {
        deliver_subject: inbox,
        ack_policy: AckPolicy.None,
        deliver_policy: DeliverPolicy.StartSequence,
        opt_start_seq: from,
        ...(filter !== undefined ? { filter_subject: filter } : {}),
        flow_control: true,
        idle_heartbeat: nanos(Math.min(this.#js.heartbeatMs, 5000)),
        mem_storage: true,
        inactive_threshold: nanos(10_000)
      })
      name = ci.name
      if (ci.num_pending === 0 && ci.delivered.consumer_seq === 0) settle('done')
      else if (filter !== undefined && ci.num_pending + ci.delivered.consumer_seq > limit) settle('too_many')
      const r = await done
      if (r instanceof Error) throw r
      if (r === 'too_many') return 'too_many'
      return { events, ...(firstSeq !== undefined ? { firstSeq } : {}) }
    } finally {
      clearTimeout(timer)
      sub.unsubscribe()
      if (name !== undefined) void jsm.consumers.delete(this.#js.stream, name).catch(() => {})
    }
  }

  cursor (): string { return formatEventId(this.#epoch, this.#lastSeq) }

  health (): BusHealth {
    const state = this.#closed ? 'closed' : this.#state
    return {
      ready: state === 'connected' && this.#streamOk && this.#liveUp,
      state,
      detail: {
        server: this.#nc?.getServer(),
        stream: this.#js.stream,
        streamReachable: this.#streamOk,
        consumer: this.#liveUp,
        epoch: this.#epoch,
        lastSeq: this.#lastSeq,
        consumerResets: this.#resets,
        gaps: this.#gaps,
        invalidPayloads: this.#guard.invalid
      }
    }
  }

  async close (): Promise<void> {
    if (this.#closed) return
    this.#closed = true
    this.#gen++
    clearInterval(this.#hbTimer)
    this.#dropLive()
    this.#handlers = undefined
    const nc = this.#nc
    this.#nc = undefined
    // Drained, not just closed: publishes still in flight reach the server before the process exits.
    if (nc !== undefined) await drainConnection(nc)
  }
}
