/**
 * The bus: the only part of the gateway that knows where events come from.
 * Implementations: memory (embedded default), NATS core, JetStream. All pass test/bus.case.ts.
 */
import type { ResetReason } from '../errors.js'

/** One event as the gateway relays it. Ids are issued by the bus, never by a publisher. */
export interface BusEvent {
  /** Opaque to browsers: `<epoch>.<seq>`. Totally ordered by `seq` within one epoch. */
  readonly id: string
  /** Monotonically increasing within the bus's epoch (the JetStream stream sequence in JetStream mode). */
  readonly seq: number
  readonly subject: string
  /** SSE event name; already validated against EVENT_NAME. Absent → browsers fire `onmessage`. */
  readonly event?: string
  /** UTF-8 text payload. */
  readonly data: string
  /** Cached SSE frames (plain and envelope), filled by the encoder once per event and shared by every connection. */
  frame?: Buffer
  envelopeFrame?: Buffer
}

export interface PublishInput {
  subject: string
  data: string
  event?: string
  /** De-duplication key (JetStream `Nats-Msg-Id`); ignored by buses without de-duplication. */
  msgId?: string
}

export interface PublishAck {
  /** The event's id when the bus knows it at once (memory, JetStream); absent for core NATS. */
  id?: string
  duplicate?: boolean
}

export type ReplayResult =
  | { readonly kind: 'events', readonly events: readonly BusEvent[] }
  | { readonly kind: 'reset', readonly reason: ResetReason, readonly cursor: string }

export interface ReplayOptions {
  /** Maximum number of events to return; more than this → `reset` with reason `too_many`. */
  limit: number
}

export type BusState = 'connecting' | 'connected' | 'reconnecting' | 'closed'

export type BusStatus =
  | { readonly type: 'state', readonly state: BusState }
  /** Events may have been missed (core NATS reconnect): every stream gets `reset`. */
  | { readonly type: 'gap', readonly cursor: string }

export interface BusHealth {
  ready: boolean
  state: BusState
  detail?: Record<string, unknown>
}

export interface BusHandlers {
  /** Called once per event, in `seq` order. Must not throw. */
  onEvent: (ev: BusEvent) => void
  onStatus?: (status: BusStatus) => void
}

export interface Bus {
  readonly kind: 'memory' | 'nats' | 'jetstream' | (string & {})
  /** Connects and starts delivering events to `handlers`. Resolves once the bus can serve (or keeps retrying in the background). */
  start (handlers: BusHandlers): Promise<void>
  /**
   * Declares interest in a (possibly wildcard) subject pattern. The hub calls this once per distinct pattern
   * and `removeInterest` when the last stream needing it leaves, so one upstream subscription serves every stream.
   * Every event whose subject matches a declared pattern is delivered to `onEvent` exactly once,
   * even when it matches several patterns.
   */
  addInterest (pattern: string): void
  removeInterest (pattern: string): void
  publish (msg: PublishInput): Promise<PublishAck>
  /**
   * Events after `afterId` whose subject matches any of `topics`, in order; or a reset when the history for
   * `afterId` is gone (malformed, unknown epoch, truncated, ahead of the head, or more than `limit`).
   */
  replay (afterId: string, topics: readonly string[], opts: ReplayOptions): Promise<ReplayResult>
  /** The id of the newest event (or `<epoch>.0`): a page rendered now can open its stream from here with no gap. */
  cursor (): string
  health (): BusHealth
  close (): Promise<void>
}

/** Publisher-supplied SSE event names must match this, or are dropped. */
export const EVENT_NAME = /^[A-Za-z0-9_.:-]{1,64}$/

/**
 * Event names the gateway itself sends on a stream. A publisher may not use them: on a plain EventSource an
 * event named `reset` or `unauthorized` would be indistinguishable from the gateway's own signal.
 */
export const RESERVED_EVENT_NAMES: ReadonlySet<string> = new Set(['reset', 'ready', 'busy', 'unavailable', 'unauthorized', 'error'])

/** True for a name a publisher may give an event: matches EVENT_NAME and is not reserved by the gateway. */
export function isPublisherEventName (name: unknown): name is string {
  return typeof name === 'string' && EVENT_NAME.test(name) && !RESERVED_EVENT_NAMES.has(name)
}

/** Splits `<epoch>.<seq>`; returns undefined for anything malformed. */
export function parseEventId (id: string): { epoch: string, seq: number } | undefined {
  if (typeof id !== 'string' || id.length > 64) return undefined
  const dot = id.lastIndexOf('.')
  if (dot <= 0) return undefined
  const epoch = id.slice(0, dot)
  const digits = id.slice(dot + 1)
  if (!/^[0-9]{1,16}$/.test(digits) || !/^[A-Za-z0-9_-]{1,40}$/.test(epoch)) return undefined
  const seq = Number(digits)
  if (!Number.isSafeInteger(seq)) return undefined
  return { epoch, seq }
}

export function formatEventId (epoch: string, seq: number): string {
  return `${epoch}.${seq}`
}
