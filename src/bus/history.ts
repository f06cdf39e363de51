/**
 * A bounded ring of recent events (by count and by bytes) for Last-Event-ID replay.
 * Sequences are strictly increasing, so lookups are binary searches, never scans of the whole ring.
 */
import type { BusEvent, ReplayResult } from './types.js'
import { formatEventId, parseEventId } from './types.js'
import { matchSubject } from '../subject.js'

export interface HistoryLimits {
  maxEvents: number
  maxBytes: number
}

export class History {
  #buf: Array<BusEvent | undefined>
  #head = 0 // index of the oldest event
  #size = 0
  #bytes = 0
  /** Highest sequence dropped from the ring; a cursor below it cannot be served exactly. */
  #evictedThrough = 0
  #lastSeq = 0
  readonly limits: HistoryLimits

  constructor (readonly epoch: string, limits: HistoryLimits) {
    this.limits = limits
    this.#buf = new Array(Math.max(1, Math.min(limits.maxEvents, 1024)))
  }

  get size (): number { return this.#size }
  get bytes (): number { return this.#bytes }
  get lastSeq (): number { return this.#lastSeq }
  cursor (): string { return formatEventId(this.epoch, this.#lastSeq) }

  append (ev: BusEvent): void {
    if (ev.seq <= this.#lastSeq) return
    this.#lastSeq = ev.seq
    const cost = eventBytes(ev)
    if (this.limits.maxEvents <= 0 || cost > this.limits.maxBytes) { this.#evictedThrough = ev.seq; return }
    while (this.#size > 0 && (this.#size >= this.limits.maxEvents || this.#bytes + cost > this.limits.maxBytes)) this.#evict()
    if (this.#size === this.#buf.length) this.#grow()
    this.#buf[(this.#head + this.#size) % this.#buf.length] = ev
    this.#size++
    this.#bytes += cost
  }

  /** Marks everything up to `seq` as unavailable (e.g. after a gap in the upstream). */
  truncate (seq: number): void {
    while (this.#size > 0 && this.#at(0).seq <= seq) this.#evict()
    if (seq > this.#evictedThrough) this.#evictedThrough = seq
    if (seq > this.#lastSeq) this.#lastSeq = seq
  }

  replay (afterId: string, topics: readonly string[], limit: number): ReplayResult {
    const cursor = this.cursor()
    const parsed = parseEventId(afterId)
    if (parsed === undefined) return { kind: 'reset', reason: 'malformed', cursor }
    if (parsed.epoch !== this.epoch) return { kind: 'reset', reason: 'epoch', cursor }
    return this.replaySeq(parsed.seq, topics, limit)
  }

  replaySeq (after: number, topics: readonly string[], limit: number): ReplayResult {
    const cursor = this.cursor()
    if (after > this.#lastSeq) return { kind: 'reset', reason: 'ahead', cursor }
    if (after < this.#evictedThrough) return { kind: 'reset', reason: 'truncated', cursor }
    const events: BusEvent[] = []
    for (let i = this.#firstAfter(after); i < this.#size; i++) {
      const ev = this.#at(i)
      if (!matchesAny(topics, ev.subject)) continue
      if (events.length >= limit) return { kind: 'reset', reason: 'too_many', cursor }
      events.push(ev)
    }
    return { kind: 'events', events }
  }

  #at (i: number): BusEvent {
    return this.#buf[(this.#head + i) % this.#buf.length] as BusEvent
  }

  #firstAfter (seq: number): number {
    let lo = 0
    let hi = this.#size
    while (lo < hi) {
      const mid = (lo + hi) >>> 1
      if (this.#at(mid).seq <= seq) lo = mid + 1
      else hi = mid
    }
    return lo
  }

  #evict (): void {
    const ev = this.#at(0)
    this.#buf[this.#head] = undefined
    this.#head = (this.#head + 1) % this.#buf.length
    this.#size--
    this.#bytes -= eventBytes(ev)
    this.#evictedThrough = ev.seq
  }

  #grow (): void {
    const next = new Array<BusEvent | undefined>(Math.min(this.#buf.length * 2, Math.max(this.limits.maxEvents, 1)))
    for (let i = 0; i < this.#size; i++) next[i] = this.#at(i)
    this.#buf = next
    this.#head = 0
  }
}

/** Approximate memory an event holds: payload, subject and the frames cached on it. */
function eventBytes (ev: BusEvent): number {
  return 64 + ev.data.length * 2 + ev.subject.length + (ev.event?.length ?? 0)
}

export function matchesAny (topics: readonly string[], subject: string): boolean {
  for (const t of topics) if (matchSubject(t, subject)) return true
  return false
}
