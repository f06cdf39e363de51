// A stand-in for the dashboard's session introspection endpoint (SSE_AUTH=introspect), loopback only.
//   GET /introspect   Cookie: sessionid=<s>  → 200 {"user": "<s>", "subjects": ["bench.>"]}; no cookie → 401
//   GET /__calls      → {"calls": <total>, "distinct": <distinct sessions asked about>}
// Counting calls per session shows whether the gateway coalesces look-ups (one call per distinct cookie).
import http from 'node:http'

const PORT = +(process.env.PORT || 8095)
const seen = new Map()
let calls = 0
http.createServer((req, res) => {
  if (req.url === '/__calls') {
    res.writeHead(200, { 'content-type': 'application/json' })
    res.end(JSON.stringify({ calls, distinct: seen.size, maxPerSession: Math.max(0, ...seen.values()) }))
    return
  }
  const m = /(?:^|;\s*)sessionid=([^;]+)/.exec(req.headers.cookie ?? '')
  calls++
  if (!m) { res.writeHead(401, { 'content-type': 'application/json' }).end('{}'); return }
  seen.set(m[1], (seen.get(m[1]) ?? 0) + 1)
  res.writeHead(200, { 'content-type': 'application/json' })
  res.end(JSON.stringify({ user: `u-${m[1]}`, subjects: ['bench.>'] }))
}).listen(PORT, '127.0.0.1', () => console.log(`dashboard-stub pid=${process.pid} 127.0.0.1:${PORT}`))
