/** Types for the sse-gateway browser client (`/events/client.js`). */

export interface GatewayEvent {
  /** The gateway's id (`<epoch>.<seq>`); opaque, but totally ordered within one epoch. */
  id?: string
  /** The NATS subject the event was published on. */
  subject?: string
  /** The publisher's event name, or undefined for plain messages. */
  event?: string
  /** The payload: a JSON value when the publisher sent JSON, else the text. */
  data: unknown
}

export interface ResetDetail {
  /** Why the cursor could not be honoured: malformed, unknown, epoch, truncated, ahead, too_many, gap. */
  reason: string
  /** The cursor the stream continues from. */
  cursor: string
}

export interface StatusDetail {
  state: 'connecting' | 'open' | 'reconnecting' | 'closed'
  /** How this browser receives events: EventSource, long-poll, or none yet. */
  transport: 'sse' | 'poll' | 'none'
  /** The tab holding the connection is the leader; the others receive its events over BroadcastChannel. */
  role: 'leader' | 'follower'
  /** Why: 'probe' (fell back to long-poll), 'busy', 'unavailable', 'unauthorized', … */
  reason?: string
  /** A permanent error (`{ code, message }`) when state is 'closed' for good. */
  error?: { code: string, message?: string }
  [key: string]: unknown
}

export interface SubscribeOptions {
  /** Base path of the gateway's routes. Default '/events'. */
  url?: string
  /** Publisher event names to listen for (EventSource only reports named events to listeners of that name). */
  events?: string[]
  onEvent?: (ev: GatewayEvent) => void
  /** The stream could not resume exactly: refetch the page's state. */
  onReset?: (detail: ResetDetail) => void
  /** The session ended (logout, expiry, revocation); the subscription is closed. */
  onUnauthorized?: (detail?: unknown) => void
  onStatus?: (status: StatusDetail) => void
  /** Resume after this id (for example the cursor rendered into the page from GET /events/cursor). */
  lastEventId?: string
  /** Share one connection among the tabs of this browser (Web Locks + BroadcastChannel). Default true. */
  share?: boolean
  /** 'auto' (EventSource, long-poll when it is missing or stalls), 'sse' or 'poll'. Default 'auto'. */
  transport?: 'auto' | 'sse' | 'poll'
  /** How long a new stream may stay silent before the client decides a proxy buffers it. Default 8000 ms. */
  probeMs?: number
  /** Long-poll wait in seconds (the gateway caps it). Default 25. */
  pollTimeout?: number
  /** Send cookies cross-origin (the gateway must list the page's origin). Default false. */
  withCredentials?: boolean
  /** Backoff after the browser gave up on a stream: from min, doubling, to max, with jitter. Defaults 1000 / 30000 ms. */
  reconnectMinMs?: number
  reconnectMaxMs?: number
}

export interface Subscription {
  close (): void
  readonly lastEventId: string | undefined
  readonly role: 'leader' | 'follower'
  readonly transport: 'sse' | 'poll' | 'none'
  readonly state: 'connecting' | 'open' | 'reconnecting' | 'closed'
}

export function subscribe (topics: string | string[], options?: SubscribeOptions): Subscription
