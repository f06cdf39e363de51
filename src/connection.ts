/**
 * One open SSE stream over a raw socket: its topics, principal, cursor, a bounded byte queue and one
 * coalesced write per event-loop turn. Per-connection state is kept small (no timers, no closures): the
 * gateway's single ticker drives heartbeats and age limits for every stream.
 */
import type { Socket } from 'node:net'
import type { BusEvent, ReplayResult } from './bus/types.js'
import { parseEventId } from './bus/types.js'
import type { Principal } from './auth/types.js'
import { encodeControl, frameOf } from './encoder.js'
import type { Flushable, Hub, Subscriber } from './hub.js'

export type CloseReason =
  | 'client' | 'slow' | 'max_age' | 'drain' | 'unauthorized' | 'revoked' | 'shutdown' | 'error' | 'replay_overflow'

export interface ConnectionOwner {
  readonly hub: Hub
  readonly maxQueueBytes: number
  /** Called once when the connection is gone, whatever the reason. */
  onClosed (conn: Connection, reason: CloseReason): void
  onBytes (n: number): void
}

const kConnection = Symbol('sse-gateway.connection')
type OwnedSocket = Socket & { [kConnection]?: Connection }

function onSocketGone (this: OwnedSocket): void {
  this[kConnection]?.close('client')
}

/** Replay is written in slices of about this size: few writes (each costs a syscall), bounded memory per slice. */
const REPLAY_SLICE_BYTES = 256 * 1024

function drained (socket: Socket): Promise<void> {
  return new Promise(resolve => {
    const done = (): void => { socket.off('drain', done); socket.off('close', done); resolve() }
    socket.on('drain', done)
    socket.on('close', done)
  })
}

export class Connection implements Subscriber, Flushable {
  readonly topics: readonly string[]
  readonly principal?: Principal
  readonly envelope: boolean
  readonly openedAt: number
  /** Epoch ms at which the stream is rotated (0 = never). */
  expiresAt = 0
  stamp = 0
  /** Sequence of the last event written; replay→live hand-over drops anything at or below it. */
  lastSeq = 0
  #pending: BusEvent[] | null = null
  #pendingBytes = 0
  #chunks: Buffer[] = []
  #queued = 0
  #scheduled = false
  #closed = false
  readonly #socket: OwnedSocket
  readonly #owner: ConnectionOwner

  constructor (socket: Socket, owner: ConnectionOwner, init: { topics: readonly string[], principal?: Principal, envelope: boolean }) {
    this.#socket = socket as OwnedSocket
    this.#owner = owner
    this.topics = init.topics
    this.principal = init.principal
    this.envelope = init.envelope
    this.openedAt = Date.now()
    this.#socket[kConnection] = this
    socket.on('close', onSocketGone)
    socket.on('error', onSocketGone)
    socket.on('end', onSocketGone)
    // Browsers never send a body on a stream; a client that does is misbehaving, not informative.
    socket.resume()
  }

  get closed (): boolean { return this.#closed }
  get socket (): Socket { return this.#socket }

  /**
   * Goes live. With a cursor: subscribe first, queue live events while the history is read, write the replay,
   * then the queued events not already replayed: no gap and no duplicate at the seam.
   */
  async start (lastEventId: string | undefined, replay: (id: string) => Promise<ReplayResult>, cursor: () => string): Promise<ReplayResult | undefined> {
    if (lastEventId === undefined) {
      this.#owner.hub.add(this)
      return undefined
    }
    this.#pending = []
    this.#owner.hub.add(this)
    let result: ReplayResult
    try {
      result = await replay(lastEventId)
    } catch {
      result = { kind: 'reset', reason: 'unknown', cursor: cursor() }
    }
    if (this.#closed) return result
    if (result.kind === 'reset') {
      this.enqueue(encodeControl('reset', { reason: result.reason, cursor: result.cursor }))
    } else {
      this.lastSeq = parseEventId(lastEventId)?.seq ?? 0
      await this.#writeReplay(result.events)
      if (this.#closed) return result
    }
    const pending = this.#pending
    this.#pending = null
    this.#pendingBytes = 0
    // Closed meanwhile (the reset above can trip the queue bound; the client can leave): nothing to hand over.
    if (this.#closed || pending === null) return result
    for (const ev of pending) this.#write(ev)
    return result
  }

  /**
   * Writes a replay in slices straight to the socket, waiting for `drain` between slices. A replay is bounded by
   * `replayLimit` and the history, not by `maxQueueBytes`: 10,000 missed 200-byte events are ~2.4 MB, more than the
   * default 1 MiB slow-consumer bound, and counting them against it closed every large replay at once. Live events
   * that arrive meanwhile are held in `#pending`, which keeps its own bound (`replay_overflow`).
   */
  async #writeReplay (events: readonly BusEvent[]): Promise<void> {
    let chunks: Buffer[] = []
    let bytes = 0
    for (let i = 0; i < events.length; i++) {
      const ev = events[i]
      if (ev.seq <= this.lastSeq) continue
      this.lastSeq = ev.seq
      const frame = frameOf(ev, this.envelope)
      chunks.push(frame)
      bytes += frame.length
      if (bytes >= REPLAY_SLICE_BYTES) {
        if (!await this.#writeNow(chunks, bytes)) return
        chunks = []
        bytes = 0
      }
    }
    if (bytes > 0) await this.#writeNow(chunks, bytes)
  }

  /** One write of whole frames, after anything already queued; resolves false when the stream is gone. */
  async #writeNow (chunks: Buffer[], bytes: number): Promise<boolean> {
    if (this.#closed) return false
    if (this.#chunks.length > 0) this.flush()
    this.#owner.onBytes(bytes)
    if (this.#socket.write(chunks.length === 1 ? chunks[0] : Buffer.concat(chunks, bytes))) return true
    await drained(this.#socket)
    return !this.#closed
  }

  deliver (ev: BusEvent): void {
    if (this.#pending !== null) {
      this.#pending.push(ev)
      // Live events held during a replay count against the same bound as the socket queue.
      this.#pendingBytes += ev.data.length + 64
      if (this.#pendingBytes > this.#owner.maxQueueBytes) this.close('replay_overflow')
      return
    }
    this.#write(ev)
  }

  gap (cursor: string): void {
    // After a gap the sequence may restart (a recreated stream): compare only against what comes next.
    this.lastSeq = 0
    this.enqueue(encodeControl('reset', { reason: 'gap', cursor }))
  }

  #write (ev: BusEvent): void {
    if (ev.seq <= this.lastSeq) return
    this.lastSeq = ev.seq
    this.enqueue(frameOf(ev, this.envelope))
  }

  /** Queues bytes for the end of this turn; closes the stream as a slow consumer when over its bound. */
  enqueue (buf: Buffer): void {
    if (this.#closed) return
    if (this.#queued + this.#socket.writableLength + buf.length > this.#owner.maxQueueBytes) {
      this.close('slow')
      return
    }
    this.#chunks.push(buf)
    this.#queued += buf.length
    if (!this.#scheduled) {
      this.#scheduled = true
      this.#owner.hub.schedule(this)
    }
  }

  flush (): void {
    this.#scheduled = false
    if (this.#closed || this.#chunks.length === 0) return
    const chunks = this.#chunks
    const out = chunks.length === 1 ? chunks[0] : this.#owner.hub.coalesce(chunks, this.#queued)
    this.#chunks = []
    this.#queued = 0
    this.#owner.onBytes(out.length)
    this.#socket.write(out)
  }

  /**
   * Ends the stream. With `last`, those bytes (a typed event, a `retry:`) are written first, after anything queued;
   * a slow consumer is destroyed at once since its queue is the problem.
   */
  close (reason: CloseReason, last?: Buffer): void {
    if (this.#closed) return
    if (reason === 'slow' || reason === 'replay_overflow' || reason === 'error') {
      this.#closed = true
      this.#chunks = []
      this.#socket.destroy()
    } else {
      if (last !== undefined) { this.#chunks.push(last); this.#queued += last.length }
      this.flush()
      this.#closed = true
      if (reason === 'client') this.#socket.destroy()
      else this.#socket.end()
    }
    this.#pending = null
    this.#owner.hub.remove(this)
    this.#owner.onClosed(this, reason)
  }
}
