/**
 * A small demo page at `/`: subscribes to the topics in its URL with the browser client (/events/client.js) and shows
 * events live.
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
// The browser client shares one stream among this browser's tabs and falls back to long-poll behind a buffering proxy.
const { subscribe } = await import(new URL('events/client.js', location.href))
subscribe(topics, {
  url: new URL('events', location.href).pathname,
  onEvent: ev => log(ev.id + '  ' + ev.subject + (ev.event ? ' (' + ev.event + ')' : '') + '  ' + JSON.stringify(ev.data)),
  onReset: d => log('reset: ' + JSON.stringify(d) + ' (a real page would refetch its state here)', 'reset'),
  onUnauthorized: () => log('session ended', 'status'),
  onStatus: s => log(s.state + ' (' + s.transport + ', ' + s.role + (s.reason ? ', ' + s.reason : '') + ')', 'status'),
})
</script></body></html>`

async function demoPage (fastify: FastifyInstance): Promise<void> {
  fastify.get('/', async (_request, reply) => reply.type('text/html; charset=utf-8').send(PAGE))
}

export const demoPagePlugin = fp(demoPage, { fastify: '5.x', name: 'sse-gateway-demo' })
export default demoPagePlugin
