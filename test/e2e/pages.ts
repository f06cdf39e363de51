/** Dashboard pages for the browser suites. They load the gateway's own client from /events/client.js. */

export interface PageLog {
  events: Array<{ id?: string, subject?: string, event?: string, data: unknown, at: number }>
  resets: Array<{ reason: string, cursor: string }>
  statuses: Array<{ state: string, transport: string, role: string, reason?: string }>
  unauthorized: number
}

/**
 * `/client.html?topic=…[&event=<name>…][&probeMs=…][&noes=1][&share=0][&transport=poll]`: subscribes with the browser client and records everything in
 * `window.__log`; `window.__sub` is the subscription.
 */
export const CLIENT_PAGE = `<!doctype html><meta charset="utf-8"><title>client</title>
<script>
  if (new URLSearchParams(location.search).get('noes') === '1') delete window.EventSource
</script>
<script type="module">
  import { subscribe } from '/events/client.js'
  const p = new URLSearchParams(location.search)
  const log = window.__log = { events: [], resets: [], statuses: [], unauthorized: 0 }
  window.__sub = subscribe(p.getAll('topic'), {
    probeMs: Number(p.get('probeMs') ?? 8000),
    pollTimeout: 5,
    events: p.getAll('event'),
    share: p.get('share') !== '0',
    transport: p.get('transport') ?? 'auto',
    reconnectMinMs: 200,
    reconnectMaxMs: 1000,
    onEvent: ev => log.events.push({ ...ev, at: Date.now() }),
    onReset: d => log.resets.push(d),
    onUnauthorized: () => { log.unauthorized++ },
    onStatus: s => log.statuses.push({ state: s.state, transport: s.transport, role: s.role, reason: s.reason }),
  })
</script>`

/**
 * `/raw.html?topic=…&n=<streams>`: opens `n` plain EventSources (one topic each: `<topic>.<i>`), recording opens and
 * messages in `window.__raw`. Used to show how many streams one page can hold over HTTP/1.1 and HTTP/2.
 */
export const RAW_PAGE = `<!doctype html><meta charset="utf-8"><title>raw</title>
<script>
  const p = new URLSearchParams(location.search)
  const n = Number(p.get('n') ?? 1)
  window.__raw = { open: 0, messages: [] }
  window.__es = []
  for (let i = 0; i < n; i++) {
    const es = new EventSource('/events?topic=' + encodeURIComponent(p.get('topic') + '.' + i))
    es.onopen = () => { window.__raw.open++ }
    es.onmessage = e => { window.__raw.messages.push({ i, data: e.data, id: e.lastEventId }) }
    window.__es.push(es)
  }
</script>`

/**
 * `/dashboard.html?topic=…`: the "existing dashboard" page, with a plain EventSource (the browser's own reconnect and
 * Last-Event-ID, no helper), recording messages, errors and the final readyState in `window.__dash`.
 */
export const DASHBOARD_PAGE = `<!doctype html><meta charset="utf-8"><title>dashboard</title>
<script>
  const p = new URLSearchParams(location.search)
  const q = new URLSearchParams()
  for (const t of p.getAll('topic')) q.append('topic', t)
  window.__dash = { messages: [], resets: [], unauthorized: 0, errors: 0, opens: 0 }
  const es = window.__esd = new EventSource('/events?' + q)
  es.onopen = () => { window.__dash.opens++ }
  es.onerror = () => { window.__dash.errors++ }
  es.onmessage = e => { window.__dash.messages.push({ id: e.lastEventId, data: e.data, at: Date.now() }) }
  es.addEventListener('reset', e => { window.__dash.resets.push(JSON.parse(e.data)) })
  es.addEventListener('unauthorized', () => { window.__dash.unauthorized++ })
</script>`
