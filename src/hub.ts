/**
 * The hub: the subject index (which subscribers want which subject) and the fan-out.
 *
 * Per event it looks up the literal subject in a map and the distinct wildcard patterns that match it
 * (cached per subject), never scanning every connection. Each pattern costs one upstream interest,
 * shared by every subscriber that asked for it. Writes are coalesced: all frames bound for one connection
 * during one event-loop turn go out in a single socket write (one small write costs ~12 µs of CPU on loopback,
 * whatever its size, so writing per event per client caps a server near 100k deliveries/s per core).
 */
import type { Bus, BusEvent, BusStatus } from './bus/types.js'
import { isWildcard, matchSubject } from './subject.js'
import type { Principal } from './auth/types.js'

/** Anything the hub can deliver to: an SSE connection, a long-poll waiter. */
export interface Subscriber {
  readonly topics: readonly string[]
  readonly principal?: Principal
  /** Set by the hub per event so a subscriber matched by several of its topics gets the event once. */
  stamp: number
  deliver (ev: BusEvent): void
  /** Called when the bus reports that events may have been missed. */
  gap? (cursor: string): void
}

/** Something with pending bytes the hub flushes once per event-loop turn. */
export interface Flushable {
  flush (): void
}

export interface HubStats {
  eventsReceived: number
  eventsUnmatched: number
  deliveries: number
  gaps: number
}

const WILDCARD_CACHE_MAX = 10_000

export class Hub {
  readonly bus: Bus
  readonly stats: HubStats = { eventsReceived: 0, eventsUnmatched: 0, deliveries: 0, gaps: 0 }
  readonly #literal = new Map<string, Set<Subscriber>>()
  readonly #wildcard = new Map<string, Set<Subscriber>>()
  /** subject → the wildcard patterns that match it; cleared when the set of patterns changes. */
  #wildcardCache = new Map<string, string[]>()
  readonly #users = new Map<string, number>()
  readonly #subscribers = new Set<Subscriber>()
  #dirty: Flushable[] = []
  #flushScheduled = false
  #stamp = 0

  constructor (bus: Bus) {
    this.bus = bus
  }

  /** Bound handlers for `bus.start()`. */
  readonly onEvent = (ev: BusEvent): void => { this.dispatch(ev) }
  readonly onStatus = (status: BusStatus): void => {
    if (status.type !== 'gap') return
    this.stats.gaps++
    for (const s of this.#subscribers) s.gap?.(status.cursor)
  }

  get size (): number { return this.#subscribers.size }
  subscribers (): IterableIterator<Subscriber> { return this.#subscribers.values() }
  userCount (user: string): number { return this.#users.get(user) ?? 0 }

  add (sub: Subscriber): void {
    if (this.#subscribers.has(sub)) return
    this.#subscribers.add(sub)
    const user = sub.principal?.user
    if (user !== undefined) this.#users.set(user, (this.#users.get(user) ?? 0) + 1)
    for (const topic of sub.topics) {
      const index = isWildcard(topic) ? this.#wildcard : this.#literal
      let set = index.get(topic)
      if (set === undefined) {
        set = new Set()
        index.set(topic, set)
        if (index === this.#wildcard) this.#wildcardCache = new Map()
        this.bus.addInterest(topic)
      }
      set.add(sub)
    }
  }

  remove (sub: Subscriber): void {
    if (!this.#subscribers.delete(sub)) return
    const user = sub.principal?.user
    if (user !== undefined) {
      const n = (this.#users.get(user) ?? 1) - 1
      if (n <= 0) this.#users.delete(user); else this.#users.set(user, n)
    }
    for (const topic of sub.topics) {
      const index = isWildcard(topic) ? this.#wildcard : this.#literal
      const set = index.get(topic)
      if (set === undefined) continue
      set.delete(sub)
      if (set.size === 0) {
        index.delete(topic)
        if (index === this.#wildcard) this.#wildcardCache = new Map()
        this.bus.removeInterest(topic)
      }
    }
  }

  dispatch (ev: BusEvent): void {
    this.stats.eventsReceived++
    const stamp = ++this.#stamp
    let delivered = 0
    const literal = this.#literal.get(ev.subject)
    if (literal !== undefined) {
      for (const sub of literal) {
        if (sub.stamp === stamp) continue
        sub.stamp = stamp
        sub.deliver(ev)
        delivered++
      }
    }
    if (this.#wildcard.size > 0) {
      for (const pattern of this.#wildcardsFor(ev.subject)) {
        const set = this.#wildcard.get(pattern)
        if (set === undefined) continue
        for (const sub of set) {
          if (sub.stamp === stamp) continue
          sub.stamp = stamp
          sub.deliver(ev)
          delivered++
        }
      }
    }
    if (delivered === 0) this.stats.eventsUnmatched++
    this.stats.deliveries += delivered
  }

  /** Queues `f.flush()` for the end of this event-loop turn (after the I/O that produced the events). */
  schedule (f: Flushable): void {
    this.#dirty.push(f)
    if (!this.#flushScheduled) {
      this.#flushScheduled = true
      setImmediate(this.#flush)
    }
  }

  readonly #flush = (): void => {
    this.#flushScheduled = false
    const dirty = this.#dirty
    this.#dirty = []
    for (let i = 0; i < dirty.length; i++) dirty[i].flush()
  }

  #wildcardsFor (subject: string): string[] {
    let patterns = this.#wildcardCache.get(subject)
    if (patterns === undefined) {
      patterns = []
      for (const p of this.#wildcard.keys()) if (matchSubject(p, subject)) patterns.push(p)
      if (this.#wildcardCache.size >= WILDCARD_CACHE_MAX) this.#wildcardCache.clear()
      this.#wildcardCache.set(subject, patterns)
    }
    return patterns
  }
}
