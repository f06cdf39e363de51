// Soak: N clients × R events/s against the standalone server for a configurable time (RELIABILITY #42).
// Reports the RSS slope, the file-descriptor count, and lost / duplicated events per client. Not part of npm test.
//
//   npm run build && node bench/soak.mjs --clients 500 --rate 200 --secs 3600 [--payload 200] [--env SSE_MAX_STREAM_AGE_MS=60000]
//
// The gateway runs as a child (`node dist/bin/sse-gateway.js`, embedded bus unless --env SSE_NATS_URL=… is given);
// RSS and fds are read from /proc every second. Clients are raw sockets that parse `id:` lines and, when a stream
// ends (max age, slow consumer, restart), reconnect with Last-Event-ID like a browser. Loss is a gap in the ids one
// client saw (ids are `<epoch>.<seq>` and every event goes to every client); a `reset` is counted, never as loss.
// Loopback only; bounded by --secs and --clients.
import { spawn } from 'node:child_process'
import { readFileSync, readdirSync } from 'node:fs'
import net from 'node:net'
import { fileURLToPath } from 'node:url'

const args = Object.fromEntries(process.argv.slice(2).reduce((acc, a, i, all) => {
  if (a.startsWith('--')) acc.push([a.slice(2), all[i + 1] !== undefined && !all[i + 1].startsWith('--') ? all[i + 1] : 'true'])
  return acc
}, []))
const CLIENTS = Math.min(Number(args.clients ?? 500), 20_000)
const RATE = Math.min(Number(args.rate ?? 200), 100_000)
const SECS = Math.min(Number(args.secs ?? 60), 24 * 3600)
const PAYLOAD = Math.min(Number(args.payload ?? 200), 1 << 20)
const extraEnv = Object.fromEntries([].concat(args.env ?? []).filter(e => e.includes('=')).map(e => e.split(/=(.*)/s).slice(0, 2)))
const TOKEN = 'soak-publish-token-0123456789'
const BIN = fileURLToPath(new URL('../dist/bin/sse-gateway.js', import.meta.url))
const log = (...a) => console.error('[soak]', ...a)
const sleep = ms => new Promise(resolve => setTimeout(resolve, ms))

// ---------------------------------------------------------------- the gateway
const child = spawn(process.execPath, [BIN], {
  env: { PATH: process.env.PATH, SSE_PORT: '0', SSE_LOG_LEVEL: 'warn', SSE_PUBLISH_TOKEN: TOKEN, SSE_MAX_PUBLISH_IN_FLIGHT: '100000', ...extraEnv },
  stdio: ['ignore', 'pipe', 'inherit']
})
let out = ''
child.stdout.setEncoding('utf8').on('data', d => { out += d })
process.on('exit', () => { try { child.kill('SIGKILL') } catch {} })
for (let i = 0; !/listening on (http:\/\/\S+)/.test(out); i++) {
  if (i > 300 || child.exitCode !== null) { log('gateway did not start', out); process.exit(1) }
  await sleep(50)
}
const url = /listening on (http:\/\/\S+)/.exec(out)[1]
const port = Number(new URL(url).port)
const pid = child.pid
const rss = () => Number(/VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))[1]) * 1024
const fds = () => readdirSync(`/proc/${pid}/fd`).length
log(`gateway pid ${pid} at ${url}; ${CLIENTS} clients × ${RATE} ev/s × ${PAYLOAD} B for ${SECS} s`)

// ---------------------------------------------------------------- clients
let running = true
const clients = []
function client (i) {
  const c = { i, lastId: undefined, lastSeq: -1, epoch: undefined, received: 0, lost: 0, dup: 0, resets: 0, reconnects: 0, gaps: [] }
  const connectOnce = () => {
    const s = net.connect(port, '127.0.0.1')
    let head = true
    let buf = ''
    let frameId
    let frameEvent
    s.setEncoding('utf8')
    s.on('data', d => {
      buf += d
      if (head) { const k = buf.indexOf('\r\n\r\n'); if (k < 0) return; head = false; buf = buf.slice(k + 4) }
      let nl
      while ((nl = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, nl)
        buf = buf.slice(nl + 1)
        if (line === '') {
          if (frameEvent === 'reset') { c.resets++; c.lastSeq = -1 } else if (frameId !== undefined) onId(frameId)
          frameId = undefined; frameEvent = undefined
        } else if (line.startsWith('id: ')) frameId = line.slice(4)
        else if (line.startsWith('event: ')) frameEvent = line.slice(7)
      }
    })
    const again = () => {
      if (!running || s.reconnecting) return
      s.reconnecting = true
      c.reconnects++
      setTimeout(connectOnce, 200 + Math.random() * 800)
    }
    s.on('error', again)
    s.on('close', again)
    s.write(`GET /events?topic=soak.x HTTP/1.1\r\nHost: 127.0.0.1\r\n${c.lastId !== undefined ? `Last-Event-ID: ${c.lastId}\r\n` : ''}\r\n`)
    c.socket = s
  }
  const onId = id => {
    const dot = id.lastIndexOf('.')
    const epoch = id.slice(0, dot)
    const seq = Number(id.slice(dot + 1))
    c.lastId = id
    c.received++
    if (epoch !== c.epoch) { c.epoch = epoch; c.lastSeq = seq; return }
    if (c.lastSeq >= 0 && seq <= c.lastSeq) { c.dup++; return }
    if (c.lastSeq >= 0 && seq > c.lastSeq + 1) { c.lost += seq - c.lastSeq - 1; if (c.gaps.length < 5) c.gaps.push([c.lastSeq, seq]) }
    c.lastSeq = seq
  }
  connectOnce()
  return c
}
for (let i = 0; i < CLIENTS; i++) {
  clients.push(client(i))
  if (i % 100 === 99) await sleep(20)
}
await sleep(1000)

// ---------------------------------------------------------------- publisher (paced; loss is judged on gateway ids,
// which follow bus order, so concurrent publishes are fine; at most 32 in flight)
let published = 0
let attempted = 0
let publishErrors = 0
let inFlight = 0
const pad = 'x'.repeat(Math.max(0, PAYLOAD - 40))
async function publishOne (n) {
  inFlight++
  try {
    const res = await fetch(`${url}/events/publish`, {
      method: 'POST',
      headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' },
      body: JSON.stringify({ subject: 'soak.x', data: { n, t: Date.now(), pad } })
    })
    await res.arrayBuffer()
    if (res.status === 200) published++; else publishErrors++
  } catch { publishErrors++ } finally { inFlight-- }
}
const publisher = (async () => {
  const started = Date.now()
  while (running) {
    const due = Math.floor((Date.now() - started) * RATE / 1000)
    while (attempted < due && inFlight < 32) void publishOne(attempted++)
    await sleep(2)
  }
  while (inFlight > 0) await sleep(10)
})()

// ---------------------------------------------------------------- sampling
const samples = []
const t0 = Date.now()
while (Date.now() - t0 < SECS * 1000 && child.exitCode === null) {
  await sleep(1000)
  const s = { t: (Date.now() - t0) / 1000, rss: rss(), fds: fds(), published }
  samples.push(s)
  if (samples.length % 10 === 0) log(`t=${s.t.toFixed(0)}s rss=${(s.rss / 2 ** 20).toFixed(1)} MiB fds=${s.fds} published=${published}`)
}
running = false
await publisher
// Let the last events arrive (clients mid-reconnect catch up by replay), bounded.
const maxSeq = () => Math.max(...clients.map(c => c.lastSeq))
for (let i = 0; i < 150 && clients.some(c => c.lastSeq !== maxSeq()); i++) await sleep(100)
for (const c of clients) c.socket?.destroy()

// ---------------------------------------------------------------- report
function slope (pts) { // least squares, y per x
  const n = pts.length
  if (n < 2) return 0
  const mx = pts.reduce((a, p) => a + p[0], 0) / n
  const my = pts.reduce((a, p) => a + p[1], 0) / n
  const num = pts.reduce((a, p) => a + (p[0] - mx) * (p[1] - my), 0)
  const den = pts.reduce((a, p) => a + (p[0] - mx) ** 2, 0)
  return den === 0 ? 0 : num / den
}
const steady = samples.slice(Math.floor(samples.length * 0.2)) // skip warm-up
const expected = published
const short = clients.filter(c => c.received + c.lost < expected * 0.99 && c.resets === 0).length
const result = {
  clients: CLIENTS,
  rate: RATE,
  secs: SECS,
  payload: PAYLOAD,
  published,
  publishedPerSec: +(published / SECS).toFixed(1),
  publishErrors,
  received: clients.reduce((a, c) => a + c.received, 0),
  expectedDeliveries: expected * CLIENTS,
  lost: clients.reduce((a, c) => a + c.lost, 0),
  duplicated: clients.reduce((a, c) => a + c.dup, 0),
  resets: clients.reduce((a, c) => a + c.resets, 0),
  reconnects: clients.reduce((a, c) => a + c.reconnects, 0),
  clientsShort: short,
  clientsBehindAtEnd: clients.filter(c => c.lastSeq !== maxSeq()).length,
  rssStartMiB: +(samples[0]?.rss / 2 ** 20).toFixed(1),
  rssEndMiB: +(samples.at(-1)?.rss / 2 ** 20).toFixed(1),
  rssSlopeMiBPerMin: +(slope(steady.map(s => [s.t / 60, s.rss / 2 ** 20]))).toFixed(3),
  fdsMin: Math.min(...samples.map(s => s.fds)),
  fdsMax: Math.max(...samples.map(s => s.fds)),
  fdsSlopePerMin: +(slope(steady.map(s => [s.t / 60, s.fds]))).toFixed(3),
  exampleGaps: clients.flatMap(c => c.gaps).slice(0, 5)
}
console.log(JSON.stringify(result))
log(`lost ${result.lost}, duplicated ${result.duplicated}, resets ${result.resets}, reconnects ${result.reconnects}; ` +
  `RSS ${result.rssStartMiB} → ${result.rssEndMiB} MiB (slope ${result.rssSlopeMiBPerMin} MiB/min after warm-up); fds ${result.fdsMin}–${result.fdsMax}`)
child.kill('SIGTERM')
process.exit(result.lost === 0 && result.duplicated === 0 ? 0 : 1)
