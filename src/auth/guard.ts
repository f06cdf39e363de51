/**
 * Keeps open streams honest after they were admitted:
 * - re-validation: every `intervalMs` each distinct session of an open stream is re-checked; a session that ended
 *   (expired, logged out, revoked, or no longer allowed its topics) gets `event: unauthorized` and its streams end,
 *   so the browser's reconnect meets a terminal 401. A session whose check cannot be answered (dashboard down) is
 *   kept for up to `graceMs`, then its streams end with `event: unavailable` and reconnect later.
 * - revocation push: a message on the control subject, `{"user": "…"}` or `{"session": "<session hash>"}`, ends
 *   the matching streams on every instance at once (every instance subscribes to the same subject on the bus).
 * Framework-free: it sees the gateway core, never Fastify.
 */
import type { BusEvent } from '../bus/types.js'
import type { CloseReason } from '../connection.js'
import { ERRORS } from '../errors.js'
import type { Subscriber } from '../hub.js'
import type { Authorize, Principal } from './types.js'
import type { RevalidateResult } from './index.js'

export interface GuardedConnection { readonly principal?: Principal, readonly topics: readonly string[], readonly closed: boolean }

/** The parts of the gateway core the guard uses (src/gateway.ts Gateway satisfies it). */
export interface GuardedGateway {
  connections: () => Iterable<GuardedConnection>
  closeWhere: (pred: (c: any) => boolean, reason: CloseReason, event: string, body: unknown) => number
  hub: { add: (s: Subscriber) => void, remove: (s: Subscriber) => void, subscribers: () => Iterable<Subscriber> }
}

export interface GuardOptions {
  revalidate: (p: Principal) => Promise<RevalidateResult>
  authorize: Authorize
  /** Drops cached answers of a revoked user/session so a reconnect is asked afresh. */
  forget?: (who: { user?: string, session?: string }) => void
  intervalMs: number
  graceMs: number
  /** Literal subject carrying revocations; undefined disables the push. */
  controlSubject?: string
  /** Re-validations in flight at once (the dashboard is not stormed by one sweep). */
  concurrency?: number
  log?: { warn: (obj: object, msg: string) => void, info: (obj: object, msg: string) => void }
  now?: () => number
}

export interface Revocation { user?: string, session?: string }

const UNAUTHORIZED_BODY = { code: 'SSE_ERR_AUTH_EXPIRED', message: ERRORS.SSE_ERR_AUTH_EXPIRED.message }
const UNAVAILABLE_BODY = { code: 'SSE_ERR_AUTH_UNAVAILABLE', message: ERRORS.SSE_ERR_AUTH_UNAVAILABLE.message }
const MAX_CONTROL_BYTES = 4096
const FLUSH_EVERY = 256

/** Parses a control message; anything else is ignored (never thrown: it arrives from the bus). */
export function parseRevocation (data: string): Revocation | undefined {
  if (data.length > MAX_CONTROL_BYTES) return undefined
  let body: unknown
  try { body = JSON.parse(data) } catch { return undefined }
  if (body === null || typeof body !== 'object') return undefined
  const b = body as Record<string, unknown>
  const r: Revocation = {}
  if (typeof b.user === 'string' && b.user !== '') r.user = b.user
  else if (typeof b.user === 'number' && Number.isSafeInteger(b.user)) r.user = String(b.user)
  if (typeof b.session === 'string' && /^[0-9a-f]{8,64}$/.test(b.session)) r.session = b.session
  return r.user === undefined && r.session === undefined ? undefined : r
}

export class SessionGuard {
  readonly #gw: GuardedGateway
  readonly #o: GuardOptions
  readonly #unavailableSince = new Map<string | Principal, number>()
  #timer: NodeJS.Timeout | undefined
  #sweeping: Promise<void> | undefined
  #control: Subscriber | undefined
  readonly stats = { sweeps: 0, checked: 0, closedUnauthorized: 0, closedUnavailable: 0, revocations: 0, closedRevoked: 0 }

  constructor (gateway: GuardedGateway, opts: GuardOptions) {
    this.#gw = gateway
    this.#o = opts
  }

  start (): void {
    if (this.#timer !== undefined) return
    this.#timer = setInterval(() => { void this.sweep() }, this.#o.intervalMs)
    this.#timer.unref()
    if (this.#o.controlSubject !== undefined) {
      this.#control = {
        topics: [this.#o.controlSubject],
        stamp: 0,
        deliver: (ev: BusEvent) => {
          const r = parseRevocation(ev.data)
          if (r === undefined) {
            this.#o.log?.warn({ subject: ev.subject }, 'ignored a malformed revocation message')
            return
          }
          this.revoke(r)
        },
      }
      this.#gw.hub.add(this.#control)
    }
  }

  stop (): void {
    if (this.#timer !== undefined) clearInterval(this.#timer)
    this.#timer = undefined
    if (this.#control !== undefined) this.#gw.hub.remove(this.#control)
    this.#control = undefined
  }

  /** Ends every stream of a user or session on this instance. Returns how many. */
  revoke (r: Revocation): number {
    this.stats.revocations++
    this.#o.forget?.(r)
    const n = this.#gw.closeWhere((c: { principal?: Principal }) => {
      const p = c.principal
      if (p === undefined) return false
      return (r.user !== undefined && p.user === r.user) || (r.session !== undefined && p.session === r.session)
    }, 'revoked', 'unauthorized', UNAUTHORIZED_BODY)
    // Waiting long-polls are hub subscribers, not streams: end them too, so none outlives the revocation.
    for (const sub of this.#gw.hub.subscribers()) {
      const p = sub.principal
      if (sub.revoke !== undefined && p !== undefined &&
        ((r.user !== undefined && p.user === r.user) || (r.session !== undefined && p.session === r.session))) sub.revoke()
    }
    this.stats.closedRevoked += n
    // Only hashes and ids are logged, never cookies.
    this.#o.log?.info({ user: r.user, session: r.session, closed: n }, 'revocation')
    return n
  }

  /** One pass over every open stream; concurrent calls share the pass in flight. */
  async sweep (): Promise<void> {
    if (this.#sweeping !== undefined) return await this.#sweeping
    this.#sweeping = this.#sweep().finally(() => { this.#sweeping = undefined })
    return await this.#sweeping
  }

  async #sweep (): Promise<void> {
    this.stats.sweeps++
    const now = (this.#o.now ?? Date.now)()
    // One check per session (all tabs of one session share it), not one per stream.
    const groups = new Map<string | Principal, { p: Principal, conns: GuardedConnection[] }>()
    for (const c of this.#gw.connections()) {
      const p = c.principal
      if (p === undefined || p.anonymous === true || c.closed) continue
      const key = p.session ?? p
      const g = groups.get(key)
      if (g === undefined) groups.set(key, { p, conns: [c] })
      else g.conns.push(c)
    }
    // Verdicts are applied in batches: closeWhere scans every stream, so once per session would be quadratic.
    const verdicts = new Map<GuardedConnection, 'unauthorized' | 'unavailable'>()
    const flush = (): void => {
      if (verdicts.size === 0) return
      this.stats.closedUnauthorized += this.#gw.closeWhere(c => verdicts.get(c) === 'unauthorized', 'unauthorized', 'unauthorized', UNAUTHORIZED_BODY)
      // Not a denial: the browser reconnects after its retry delay and is admitted once the dashboard answers.
      this.stats.closedUnavailable += this.#gw.closeWhere(c => verdicts.get(c) === 'unavailable', 'unauthorized', 'unavailable', UNAVAILABLE_BODY)
      verdicts.clear()
    }
    const entries = [...groups]
    let next = 0
    let sinceFlush = 0
    const worker = async (): Promise<void> => {
      while (next < entries.length) {
        const [key, g] = entries[next++]
        await this.#check(key, g.p, g.conns, now, verdicts)
        if (++sinceFlush >= FLUSH_EVERY) { sinceFlush = 0; flush() }
      }
    }
    await Promise.all(Array.from({ length: Math.min(this.#o.concurrency ?? 32, entries.length) }, worker))
    flush()
    // Forget grace timers of sessions that are gone.
    for (const k of this.#unavailableSince.keys()) if (!groups.has(k)) this.#unavailableSince.delete(k)
  }

  async #check (key: string | Principal, p: Principal, conns: GuardedConnection[], now: number,
    verdicts: Map<GuardedConnection, 'unauthorized' | 'unavailable'>): Promise<void> {
    this.stats.checked++
    const r = await this.#o.revalidate(p)
    if (r.status === 'denied') {
      this.#unavailableSince.delete(key)
      for (const c of conns) verdicts.set(c, 'unauthorized')
      return
    }
    if (r.status === 'unavailable') {
      const since = this.#unavailableSince.get(key) ?? now
      this.#unavailableSince.set(key, since)
      if (now - since >= this.#o.graceMs) {
        this.#unavailableSince.delete(key)
        for (const c of conns) verdicts.set(c, 'unavailable')
      }
      return
    }
    this.#unavailableSince.delete(key)
    // Still the same user, but the answer may now carry fewer subjects: each stream must still be allowed all its topics.
    for (const c of conns) if (this.#o.authorize(r.principal, c.topics) !== undefined) verdicts.set(c, 'unauthorized')
  }
}
