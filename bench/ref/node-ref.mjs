// The Node reference: the smallest raw `node:http` SSE fan-out we know how to write, as a ceiling for the gateway.
// Adapted from the measurements in the benchmark issue. Loopback only.
//   GET  /sub/<ch>   EventSource stream (Last-Event-ID replay from a ring of RING events per channel)
//   POST /pub/<ch>   publishes the body as one event (the body must not contain newlines)
// Each event is encoded once into a Buffer shared by every subscriber. MODE=raw writes it to every socket at once
// (one write per event per client); MODE=batch concatenates every event of one event-loop turn and writes that
// once per client on setImmediate. Neither handles backpressure: this is a ceiling, not a design.
import http from 'node:http'

const PORT = +(process.env.PORT || 8091); const RING = +(process.env.RING || 20000); const MODE = process.env.MODE || 'raw'
const HDR = Buffer.from('HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nCache-Control: no-cache\r\n' +
  'Connection: keep-alive\r\n\r\n: hi\n\n')
const chans = new Map()
const chan = (id) => chans.get(id) || chans.set(id, { subs: new Set(), ring: [], first: 1, next: 1 }).get(id)
const pending = new Map() // MODE=batch: channel -> frames of this turn
const flush = () => {
  for (const [c, evs] of pending) { const b = Buffer.concat(evs); for (const s of c.subs) s.write(b) }
  pending.clear()
}
http.createServer((req, res) => {
  const m = /^\/(sub|pub)\/(\w+)$/.exec(req.url)
  if (!m) { res.writeHead(404).end(); return }
  const c = chan(m[2])
  if (m[1] === 'sub') {
    const last = Number(req.headers['last-event-id']) // NaN when absent: no replay
    const backlog = last >= 0 ? c.ring.slice(Math.max(0, last + 1 - c.first)) : []
    const out = req.socket
    out.write(Buffer.concat([HDR, ...backlog]))
    c.subs.add(out)
    out.on('close', () => c.subs.delete(out))
    return
  }
  if (req.method !== 'POST') { res.writeHead(405).end(); return }
  const parts = []
  req.on('data', (d) => parts.push(d))
  req.on('end', () => {
    const id = c.next++
    const ev = Buffer.concat([Buffer.from(`id: ${id}\ndata: `), ...parts, Buffer.from('\n\n')]) // encoded once
    c.ring.push(ev)
    if (c.ring.length > RING) { c.ring.shift(); c.first++ }
    if (MODE === 'batch') {
      if (!pending.size) setImmediate(flush)
      ;(pending.get(c) || pending.set(c, []).get(c)).push(ev)
    } else for (const s of c.subs) s.write(ev) // the same Buffer to every subscriber
    res.writeHead(201, { 'content-type': 'application/json' }).end(`{"id":"${id}"}`)
  })
}).listen(PORT, '127.0.0.1', () => console.log(`node-ref pid=${process.pid} mode=${MODE} 127.0.0.1:${PORT}`))
