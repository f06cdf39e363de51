/**
 * Long-poll: the fallback transport for browsers behind a proxy that buffers streams, or without EventSource.
 * One request waits (up to a capped timeout) for the events after a cursor and answers with all of them at once.
 * Same replay and `reset` semantics as a stream: subscribe live first, replay, merge without gap or duplicate.
 */
import type { Bus, BusEvent, ReplayResult } from './bus/types.js'
import { parseEventId } from './bus/types.js'
import type { Principal } from './auth/types.js'
import type { ResetReason } from './errors.js'
import type { Hub, Subscriber } from './hub.js'
import { envelopeData } from './encoder.js'

export interface PollRequest {
  topics: readonly string[]
  principal?: Principal
  /** Resume after this id; absent → only events published from now on. */
  lastEventId?: string
  /** How long to wait for a first event when none is there yet; 0 answers at once. */
  timeoutMs: number
  /** Most events replayed (beyond it: `reset` with reason `too_many`, like a stream). */
  replayLimit: number
}

export interface PollResult {
  /** Present when the cursor could not be honoured; the events that follow continue from `reset.cursor`. */
  reset?: { reason: ResetReason, cursor: string }
  events: BusEvent[]
  /** The cursor to send as `lastEventId` on the next poll. */
  lastEventId: string
  /** The session was revoked while the poll waited: answer 401, as the next request would get. */
  revoked?: boolean
}

/** Events that arrive together (one publish burst) are answered together rather than one per request. */
const COALESCE_MS = 5

class PollWaiter implements Subscriber {
  readonly topics: readonly string[]
  readonly principal?: Principal
  stamp = 0
  /** Live events, in bus order. */
  readonly live: BusEvent[] = []
  gapCursor: string | undefined
  revoked = false
  wake: (() => void) | undefined

  constructor (req: PollRequest) {
    this.topics = req.topics
    this.principal = req.principal
  }

  deliver (ev: BusEvent): void {
    this.live.push(ev)
    this.wake?.()
  }

  gap (cursor: string): void {
    this.gapCursor = cursor
    this.wake?.()
  }

  revoke (): void {
    this.revoked = true
    this.wake?.()
  }
}

export interface PollContext {
  hub: Hub
  bus: Bus
}

/**
 * Answers one long-poll. `signal` aborts the wait (client gone, server closing): the answer is then whatever
 * has arrived so far, which the caller may discard.
 */
export async function longPoll (ctx: PollContext, req: PollRequest, signal?: AbortSignal, linger?: PollInterests): Promise<PollResult> {
  const waiter = new PollWaiter(req)
  // Live first, so nothing published while the history is read can fall between replay and live.
  ctx.hub.add(waiter)
  try {
    let after: string
    let afterSeq: number
    let reset: PollResult['reset']
    const out: BusEvent[] = []
    if (req.lastEventId === undefined) {
      after = ctx.bus.cursor()
      afterSeq = parseEventId(after)?.seq ?? 0
    } else {
      let result: ReplayResult
      try {
        result = await ctx.bus.replay(req.lastEventId, req.topics, { limit: req.replayLimit })
      } catch {
        result = { kind: 'reset', reason: 'unknown', cursor: ctx.bus.cursor() }
      }
      if (result.kind === 'reset') {
        reset = { reason: result.reason, cursor: result.cursor }
        after = result.cursor
        afterSeq = parseEventId(after)?.seq ?? 0
      } else {
        after = req.lastEventId
        afterSeq = parseEventId(after)?.seq ?? 0
        for (const ev of result.events) {
          if (ev.seq <= afterSeq) continue
          out.push(ev)
          afterSeq = ev.seq
        }
      }
    }
    const take = (): void => {
      for (const ev of waiter.live.splice(0)) {
        if (ev.seq <= afterSeq) continue
        out.push(ev)
        afterSeq = ev.seq
      }
    }
    take()
    if (out.length === 0 && reset === undefined && waiter.gapCursor === undefined && !waiter.revoked && req.timeoutMs > 0 && signal?.aborted !== true) {
      await new Promise<void>((resolve) => {
        let coalescing: NodeJS.Timeout | undefined
        const done = (): void => {
          clearTimeout(timer)
          clearTimeout(coalescing)
          signal?.removeEventListener('abort', done)
          waiter.wake = undefined
          resolve()
        }
        const timer = setTimeout(done, req.timeoutMs)
        signal?.addEventListener('abort', done)
        waiter.wake = () => {
          if (coalescing === undefined) coalescing = setTimeout(done, COALESCE_MS)
        }
      })
      take()
    }
    if (waiter.gapCursor !== undefined && reset === undefined) {
      // The bus may have missed events (core NATS reconnect): say so, as a stream would.
      reset = { reason: 'gap', cursor: waiter.gapCursor }
    }
    if (waiter.revoked) return { events: [], lastEventId: after, revoked: true }
    const last = out.length > 0 ? out[out.length - 1].id : after
    return { ...(reset !== undefined ? { reset } : {}), events: out, lastEventId: last }
  } finally {
    linger?.hold(req.topics)
    ctx.hub.remove(waiter)
  }
}

/**
 * The JSON text of one polled event: `{"id","event","subject","data"}`. `data` is embedded exactly as the stream's
 * envelope embeds it (JSON payloads as JSON, anything else as a string), so both transports give a page the same value.
 */
export function pollEventJson (ev: BusEvent): string {
  return `{"id":${JSON.stringify(ev.id)},"event":${ev.event === undefined ? 'null' : JSON.stringify(ev.event)},` +
    envelopeData(ev).slice(1)
}

export function pollResultJson (r: PollResult): string {
  let out = '{'
  if (r.reset !== undefined) out += `"reset":${JSON.stringify(r.reset)},`
  out += `"events":[${r.events.map(pollEventJson).join(',')}],"lastEventId":${JSON.stringify(r.lastEventId)}}`
  return out
}

/** Most distinct topic sets kept subscribed between polls; beyond it new sets simply do not linger. */
export const MAX_LINGERING_TOPIC_SETS = 10_000

/**
 * Keeps the topics of recent polls subscribed for `lingerMs` after each poll answers. Between two polls of one client
 * nothing else may want those subjects; in core NATS mode the gateway would then unsubscribe, never receive what is
 * published until the next poll, and that poll's replay would silently miss it (the history only holds what arrived).
 */
export class PollInterests {
  readonly #hub: Hub
  readonly #lingerMs: number
  readonly #held = new Map<string, { sub: Subscriber, timer: NodeJS.Timeout }>()

  constructor (hub: Hub, lingerMs: number) {
    this.#hub = hub
    this.#lingerMs = lingerMs
  }

  get size (): number { return this.#held.size }

  /** (Re)starts the linger of `topics`; call it before the poll's own subscriber leaves, so the interest never drops. */
  hold (topics: readonly string[]): void {
    if (this.#lingerMs <= 0) return
    const key = [...topics].sort().join('\n')
    let h = this.#held.get(key)
    if (h !== undefined) {
      clearTimeout(h.timer)
    } else {
      if (this.#held.size >= MAX_LINGERING_TOPIC_SETS) return
      const sub: Subscriber = { topics: [...topics], stamp: 0, deliver () {} }
      this.#hub.add(sub)
      h = { sub, timer: undefined as unknown as NodeJS.Timeout }
      this.#held.set(key, h)
    }
    const held = h
    held.timer = setTimeout(() => {
      this.#held.delete(key)
      this.#hub.remove(held.sub)
    }, this.#lingerMs)
    held.timer.unref()
  }

  close (): void {
    for (const h of this.#held.values()) {
      clearTimeout(h.timer)
      this.#hub.remove(h.sub)
    }
    this.#held.clear()
  }
}
