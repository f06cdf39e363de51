/**
 * The embedded bus: in-process publish/subscribe with NATS subject semantics and a bounded history.
 * The default when no NATS is configured; ids are `<epoch>.<seq>` with an epoch that changes on every start.
 */
import { randomBytes } from 'node:crypto'
import { History, type HistoryLimits } from './history.js'
import type { Bus, BusEvent, BusHandlers, BusHealth, PublishAck, PublishInput, ReplayOptions, ReplayResult } from './types.js'
import { formatEventId, isPublisherEventName } from './types.js'

export interface MemoryBusOptions {
  history: HistoryLimits
  /** Fixed epoch (tests); default: derived from the start time plus randomness, so every process differs. */
  epoch?: string
}

export function newEpoch (): string {
  return Date.now().toString(36) + randomBytes(3).toString('hex')
}

export class MemoryBus implements Bus {
  readonly kind = 'memory'
  readonly #history: History
  #seq = 0
  #handlers: BusHandlers | undefined
  #closed = false

  constructor (opts: MemoryBusOptions) {
    this.#history = new History(opts.epoch ?? newEpoch(), opts.history)
  }

  get epoch (): string { return this.#history.epoch }

  async start (handlers: BusHandlers): Promise<void> {
    this.#handlers = handlers
    handlers.onStatus?.({ type: 'state', state: 'connected' })
  }

  // Every event reaches the hub, whose subject index drops what nobody wants: nothing upstream to share.
  addInterest (_pattern: string): void {}
  removeInterest (_pattern: string): void {}

  async publish (msg: PublishInput): Promise<PublishAck> {
    if (this.#closed) throw new Error('bus closed')
    const seq = ++this.#seq
    const ev: BusEvent = {
      id: formatEventId(this.#history.epoch, seq),
      seq,
      subject: msg.subject,
      data: msg.data,
      ...(isPublisherEventName(msg.event) ? { event: msg.event } : {})
    }
    this.#history.append(ev)
    this.#handlers?.onEvent(ev)
    return { id: ev.id }
  }

  async replay (afterId: string, topics: readonly string[], opts: ReplayOptions): Promise<ReplayResult> {
    return this.#history.replay(afterId, topics, opts.limit)
  }

  cursor (): string { return this.#history.cursor() }

  health (): BusHealth {
    return this.#closed ? { ready: false, state: 'closed' } : { ready: true, state: 'connected', detail: { history: this.#history.size } }
  }

  async close (): Promise<void> {
    this.#closed = true
    this.#handlers = undefined
  }
}
