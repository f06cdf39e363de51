/**
 * sse-gateway browser client: one stream per browser (not per tab), reset and logout handling,
 * and a long-poll fallback for proxies that buffer. ESM, no dependencies. Served at `/events/client.js`.
 *
 * @example
 * import { subscribe } from '/events/client.js'
 * const sub = subscribe(['orders.>', 'alerts.user.42'], {
 *   onEvent: ({ id, subject, event, data }) => render(subject, data),
 *   onReset: ({ reason, cursor }) => refetchEverything(),
 *   onUnauthorized: () => location.assign('/login'),
 *   onStatus: ({ state, transport, role }) => badge(state),
 * })
 * // later: sub.close()
 *
 * @module
 */

const CONTROL = ['reset', 'unauthorized', 'busy', 'unavailable', 'ready']
const DEFAULTS = {
  url: '/events',
  events: [],
  share: true,
  transport: 'auto',
  probeMs: 8000,
  pollTimeout: 25,
  withCredentials: false,
  lastEventId: undefined,
  reconnectMinMs: 1000,
  reconnectMaxMs: 30000,
}

/**
 * Subscribes to `topics` (NATS subjects, wildcards allowed) on the gateway at `options.url`.
 *
 * Reconnects: network errors and server-ended streams are retried by the browser's EventSource itself, with the
 * `Last-Event-ID` header and the gateway's `retry:` delay. When the browser gives up (any non-200 answer, such as
 * a proxy's 502 while the gateway restarts) the client asks the long-poll endpoint why: 401 → `onUnauthorized`
 * and stop; another 4xx → `onStatus({ state: 'closed', error })` and stop; anything else → reopen from the last
 * id after a jittered backoff (`reconnectMinMs` doubling to `reconnectMaxMs`).
 *
 * @param {string | string[]} topics
 * @param {import('./index.js').SubscribeOptions} [options]
 * @returns {import('./index.js').Subscription}
 */
export function subscribe (topics, options = {}) {
  const list = (Array.isArray(topics) ? topics : [topics]).map(String)
  if (list.length === 0) throw new TypeError('subscribe: at least one topic is required')
  const o = { ...DEFAULTS, ...options }
  const g = globalThis
  const base = new URL(o.url, g.location?.href)
  // Tabs share a stream only when it carries exactly what each needs: same gateway, topics and event names.
  const key = `sse-gateway ${base.origin}${base.pathname} ${[...list].sort().join(' ')} | ${[...o.events].sort().join(' ')}`

  let closed = false
  let lastId = o.lastEventId
  let role = 'follower'
  let transport = 'none'
  let state = 'connecting'
  /** Stops whatever transport this tab runs as leader. */
  let stopTransport = () => {}
  let releaseLock = () => {}
  const lockAbort = typeof AbortController === 'function' ? new AbortController() : undefined

  const call = (fn, arg) => { try { fn?.(arg) } catch (err) { setTimeout(() => { throw err }) } }
  const status = (next, extra) => {
    state = next
    if (role === 'leader') post({ t: 'status', state, transport, extra })
    call(o.onStatus, { state, transport, role, ...extra })
  }
  const post = (msg) => { try { channel?.postMessage(msg) } catch {} }

  /** True (and remembered) for an id after the last one; false for one already seen. Ids are `<epoch>.<seq>`. */
  const fresh = (id) => {
    if (id === undefined || id === '') return true
    const a = split(id)
    const b = lastId === undefined ? undefined : split(lastId)
    if (a && b && a.epoch === b.epoch && a.seq <= b.seq) return false
    lastId = id
    return true
  }

  // ---- what every tab does with a message, whether it read it from the network or from the leader
  const handle = (msg) => {
    if (closed) return
    switch (msg.t) {
      case 'event':
        if (fresh(msg.ev.id)) call(o.onEvent, msg.ev)
        break
      case 'reset':
        // The old cursor is void: adopt the fresh one so a later leader resumes from there.
        if (msg.detail?.cursor) lastId = msg.detail.cursor
        call(o.onReset, msg.detail)
        break
      case 'unauthorized':
        call(o.onUnauthorized, msg.detail)
        shutdown('unauthorized')
        break
      case 'cursor':
        if (msg.id) fresh(msg.id)
        break
      case 'status':
        if (role === 'follower') { transport = msg.transport; status(msg.state, msg.extra) }
        break
    }
  }

  // ---- cross-tab sharing: one leader per browser and key, elected with a Web Lock, relaying over BroadcastChannel
  const canShare = o.share && g.navigator?.locks?.request && typeof g.BroadcastChannel === 'function'
  const channel = canShare ? new g.BroadcastChannel(key) : undefined
  // Post before handling: handling `unauthorized` closes the channel.
  const relay = (msg) => { post(msg); handle(msg) }
  if (channel) {
    channel.onmessage = (e) => {
      const msg = e.data
      if (msg?.t === 'hello') {
        if (role === 'leader') {
          post({ t: 'cursor', id: lastId })
          post({ t: 'status', state, transport, extra: {} })
        }
        return
      }
      if (role === 'follower') handle(msg)
    }
    g.navigator.locks.request(key, { signal: lockAbort?.signal }, () => {
      if (closed) return undefined
      // Held until this tab closes or unsubscribes; the browser then hands it to the next tab in line.
      return new Promise((resolve) => { releaseLock = resolve; lead() })
    }).catch(() => {})
    channel.postMessage({ t: 'hello' })
    status('connecting')
  } else {
    lead()
  }

  function lead () {
    role = 'leader'
    if (closed) return
    const sse = o.transport !== 'poll' && typeof g.EventSource === 'function'
    stopTransport = sse ? runSse() : runPoll(o.transport === 'poll' ? 'configured' : 'no-eventsource')
  }

  function endpoint (path, params) {
    const u = new URL(base.href.replace(/\/$/, '') + path)
    for (const t of list) u.searchParams.append('topic', t)
    for (const [k, v] of Object.entries(params)) if (v !== undefined) u.searchParams.set(k, String(v))
    return u.href
  }

  // ---- the EventSource transport
  function runSse () {
    transport = 'sse'
    let es
    let probe
    let retryTimer
    let attempt = 0
    let stopped = false
    const open = () => {
      if (stopped) return
      status(attempt === 0 ? 'connecting' : 'reconnecting')
      // `lastEventId` in the query serves the first request only; the browser's own reconnects send the
      // Last-Event-ID header, which the gateway prefers.
      es = new g.EventSource(endpoint('', { envelope: 1, ready: 1, lastEventId: lastId }), { withCredentials: o.withCredentials })
      let alive = false
      const proven = () => {
        if (alive) return
        alive = true
        attempt = 0
        clearTimeout(probe)
      }
      // A buffering proxy holds headers and frames: no `open`, no event. The gateway starts every stream with a
      // visible `ready` event for exactly this probe (heartbeat comments are invisible to EventSource).
      if (o.transport === 'auto') {
        probe = setTimeout(() => {
          if (alive || stopped) return
          es.close()
          stopTransport = runPoll('probe')
        }, o.probeMs)
      }
      const onData = (e) => {
        proven()
        let env
        try { env = JSON.parse(e.data) } catch { env = { subject: undefined, data: e.data } }
        relay({ t: 'event', ev: { id: e.lastEventId || undefined, subject: env.subject, event: e.type === 'message' ? undefined : e.type, data: env.data } })
      }
      es.onmessage = onData
      for (const name of o.events) if (!CONTROL.includes(name)) es.addEventListener(name, onData)
      es.onopen = () => { status('open') }
      // Gateway control events carry no subject; a publisher's event that happens to use one of their names arrives
      // in the envelope (with a subject) and is delivered as an ordinary event instead.
      const control = (name, fn) => es.addEventListener(name, (e) => {
        const d = parse(e.data)
        if (d !== null && typeof d === 'object' && 'subject' in d) { if (o.events.includes(name)) onData(e); else proven(); return }
        fn(d)
      })
      control('ready', (d) => {
        proven()
        // `ready` carries the cursor the stream is live from: every tab learns a resume point before any event.
        if (typeof d.cursor === 'string') relay({ t: 'cursor', id: d.cursor })
        if (state !== 'open') status('open')
      })
      control('reset', (d) => { proven(); relay({ t: 'reset', detail: d }) })
      control('unauthorized', (d) => { es.close(); relay({ t: 'unauthorized', detail: d }) })
      for (const name of ['busy', 'unavailable']) control(name, (d) => { proven(); status('reconnecting', { reason: name, detail: d }) })
      es.onerror = () => {
        if (stopped) return
        if (es.readyState !== 2) { status('reconnecting'); return } // the browser retries by itself
        clearTimeout(probe)
        diagnose().then((verdict) => {
          if (stopped) return
          if (verdict === 'unauthorized') relay({ t: 'unauthorized', detail: { code: 'SSE_ERR_AUTH_REQUIRED' } })
          else if (verdict !== undefined) { status('closed', { error: verdict }); stopped = true }
          else retryTimer = setTimeout(open, backoff(attempt++))
        })
      }
    }
    open()
    return () => { stopped = true; clearTimeout(probe); clearTimeout(retryTimer); es?.close() }
  }

  /** After EventSource gave up: 401 → 'unauthorized', other 4xx → the error body, transient → undefined. */
  async function diagnose () {
    try {
      const res = await fetch(endpoint('/poll', { lastEventId: lastId, timeout: 0 }), { credentials: o.withCredentials ? 'include' : 'same-origin', cache: 'no-store' })
      if (res.status === 401) return 'unauthorized'
      if (res.status >= 400 && res.status < 500 && res.status !== 404 && res.status !== 408 && res.status !== 429) {
        const body = await res.json().catch(() => ({}))
        return body.error ?? { code: `HTTP_${res.status}` }
      }
    } catch {}
    return undefined
  }

  // ---- the long-poll transport: GET /events/poll?topic=…&lastEventId=…&timeout=<s>
  function runPoll (why) {
    transport = 'poll'
    let stopped = false
    const ctl = typeof AbortController === 'function' ? new AbortController() : undefined
    let timer
    let attempt = 0
    // The first poll answers at once: it proves the path works and fixes a cursor before any waiting.
    let wait = 0
    const loop = async () => {
      while (!stopped) {
        let res
        try {
          res = await fetch(endpoint('/poll', { lastEventId: lastId, timeout: wait }), {
            credentials: o.withCredentials ? 'include' : 'same-origin', cache: 'no-store', signal: ctl?.signal,
          })
        } catch {
          if (stopped) return
          status('reconnecting', { reason: 'network' })
          await new Promise((resolve) => { timer = setTimeout(resolve, backoff(attempt++)) })
          continue
        }
        if (res.status === 401) { relay({ t: 'unauthorized', detail: { code: 'SSE_ERR_AUTH_REQUIRED' } }); return }
        if (res.status === 200) {
          attempt = 0
          wait = o.pollTimeout
          const body = await res.json().catch(() => undefined)
          if (stopped) return
          if (body === undefined) continue
          if (state !== 'open') status('open', { reason: why })
          if (body.reset) relay({ t: 'reset', detail: body.reset })
          for (const ev of body.events ?? []) relay({ t: 'event', ev: { id: ev.id, subject: ev.subject, event: ev.event ?? undefined, data: ev.data } })
          if (body.lastEventId) { fresh(body.lastEventId); post({ t: 'cursor', id: lastId }) }
          continue
        }
        if (res.status >= 400 && res.status < 500 && res.status !== 408 && res.status !== 429) {
          const body = await res.json().catch(() => ({}))
          status('closed', { error: body.error ?? { code: `HTTP_${res.status}` } })
          return
        }
        // 429/503 (busy, unavailable, draining) and 5xx from proxies: come back later, as the stream's `retry:` would.
        const after = Number(res.headers.get('retry-after'))
        status('reconnecting', { reason: `http_${res.status}` })
        await new Promise((resolve) => { timer = setTimeout(resolve, after > 0 ? after * 1000 : backoff(attempt++)) })
      }
    }
    status('connecting', { reason: why })
    loop()
    return () => { stopped = true; clearTimeout(timer); ctl?.abort() }
  }

  function backoff (n) {
    const ms = Math.min(o.reconnectMaxMs, o.reconnectMinMs * 2 ** Math.min(n, 16))
    return Math.round(ms * (0.5 + Math.random() * 0.5))
  }

  function shutdown (why) {
    if (closed) return
    closed = true
    stopTransport()
    releaseLock()
    lockAbort?.abort()
    channel?.close()
    status('closed', why ? { reason: why } : undefined)
  }

  return {
    close: () => shutdown(),
    get lastEventId () { return lastId },
    get role () { return role },
    get transport () { return transport },
    get state () { return state },
  }
}

function split (id) {
  const dot = id.lastIndexOf('.')
  if (dot <= 0) return undefined
  const seq = Number(id.slice(dot + 1))
  return Number.isSafeInteger(seq) ? { epoch: id.slice(0, dot), seq } : undefined
}

function parse (text) {
  let v
  try { v = JSON.parse(text) } catch { v = text }
  return v !== null && typeof v === 'object' ? v : { data: v }
}
