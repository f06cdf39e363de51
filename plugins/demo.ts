/**
 * A small demo page at `/`: opens an EventSource on the topics in its URL and shows events live.
 * Registered by the standalone server only; a dashboard embeds the client instead.
 */
import type { FastifyInstance } from 'fastify'
import fp from 'fastify-plugin'

const PAGE = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>sse-gateway demo</title>
<style>body{font:14px system-ui,sans-serif;margin:2rem;max-width:60rem}#log{font:12px ui-monospace,monospace;white-space:pre-wrap}
.reset{color:#a60}.status{color:#666}</style></head>
<body><h1>sse-gateway</h1>
<p>Listening on <code id="topics"></code> (change with <code>?topic=a.b&amp;topic=c.&gt;</code>). Publish with the
<code>curl</code> command printed by the server, and watch events arrive.</p>
<div id="log"></div>
<script type="module">
const params = new URLSearchParams(location.search)
const topics = params.getAll('topic').length ? params.getAll('topic') : ['demo.>']
document.getElementById('topics').textContent = topics.join(', ')
const log = (text, cls) => { const d = document.createElement('div'); d.textContent = text; if (cls) d.className = cls; document.getElementById('log').prepend(d) }
const q = new URLSearchParams(); topics.forEach(t => q.append('topic', t)); q.set('envelope', '1')
const es = new EventSource('events?' + q)
es.onopen = () => log('connected', 'status')
es.onerror = () => log('disconnected; the browser reconnects with Last-Event-ID', 'status')
es.onmessage = e => { const m = JSON.parse(e.data); log(e.lastEventId + '  ' + m.subject + '  ' + JSON.stringify(m.data)) }
es.addEventListener('reset', e => log('reset: ' + e.data + ' (a real page would refetch its state here)', 'reset'))
for (const t of ['busy', 'unavailable', 'unauthorized']) es.addEventListener(t, e => log(t + ': ' + e.data, 'status'))
</script></body></html>`

async function demoPage (fastify: FastifyInstance): Promise<void> {
  fastify.get('/', async (_request, reply) => reply.type('text/html; charset=utf-8').send(PAGE))
}

export const demoPagePlugin = fp(demoPage, { fastify: '5.x', name: 'sse-gateway-demo' })
export default demoPagePlugin
