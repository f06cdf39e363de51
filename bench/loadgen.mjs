// SSE load generator: one process, loopback only, bounded in count and time. Started by bench/run.mjs
// (pinned to its own core) with one JSON argument describing the target and the scenario; prints one JSON
// result on stdout, progress on stderr.
//
//   node bench/loadgen.mjs '{"mode":"fanout","port":8080,"pid":123,"sub":{"path":"/events?topic=bench.{ch}"},
//                          "pub":{"kind":"http","path":"/events/publish","json":true,"subject":"bench.{ch}"},
//                          "n":1000,"rate":1000,"secs":5}'
//
// Modes: idle (RSS per idle stream), fanout (N streams on one subject, fixed publish rate), replay (reconnect with
// Last-Event-ID after `count` events), storm (N streams opened at once).
//
// Subscribers are raw `net` sockets reading through `onread` into one shared buffer (no per-read allocation).
// Each payload is `T<µs timestamp, 12 digits>S<seq, 8 digits>xxx…`: the scanner counts `data: T` markers and
// reads the timestamp, so latency is publish→receive on this process's monotonic clock. A stream counts as
// subscribed once it has received a probe event (seq 99999999); probes are never counted as deliveries.
import net from 'node:net'
import { performance } from 'node:perf_hooks'
import { readRss, readCpuSec, coreTimes, coreUtil, tcpMemPages } from './lib/proc.mjs'

const spec = JSON.parse(process.argv[2] || '{}')
const HOST = '127.0.0.1' // loopback only, on purpose not configurable
const PORT = spec.port
const PID = spec.pid | 0
const LABEL = spec.label || `port${PORT}`
const PAYLOAD = spec.payload ?? 200
const CONNECT_PAR = spec.connectPar ?? 200 // bounded connect concurrency (listen backlogs are 511 by default)
const PUB_CONNS = spec.pubConns ?? 4
const PUB_MAX_INFLIGHT = spec.pubMaxInflight ?? 64 // per HTTP publisher connection; beyond it a publish is skipped
const ABORT_MS = spec.abortMs ?? 5000 // stop publishing once delivery latency exceeds this
const PROBE_SEQ = 99999999

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms))
const nowUs = () => Math.round(performance.now() * 1000)
const log = (...a) => console.error(`[loadgen ${LABEL}]`, ...a)
const fill = (tpl, ch) => tpl.replaceAll('{ch}', ch)

// ---------------------------------------------------------------- latency histogram: 10 µs buckets, 10 s range
const NB = 1_000_000
const hist = new Uint32Array(NB)
let hCount = 0; let hMax = 0; let hSum = 0; let lastLatUs = 0
function resetHist () { hist.fill(0); hCount = 0; hMax = 0; hSum = 0; lastLatUs = 0 }
function pct (p) {
  if (!hCount) return null
  const target = Math.ceil(hCount * p)
  let acc = 0
  for (let i = 0; i < NB; i++) { acc += hist[i]; if (acc >= target) return (i * 10 + 5) / 1000 }
  return hMax / 1000
}

// ---------------------------------------------------------------- payload
const TSW = 12; const SEQW = 8
const MARK = Buffer.from('data: T')
const NEED = MARK.length + TSW + 1 + SEQW
function payload (seq) {
  const b = Buffer.alloc(PAYLOAD, 'x')
  b.write('T' + String(nowUs()).padStart(TSW, '0') + 'S' + String(seq).padStart(SEQW, '0'), 0, 'latin1')
  return b
}

// ---------------------------------------------------------------- subscribers
let totalEvents = 0; let lastRecvAt = 0; let recording = false
const stats = { headers: 0, subErrors: 0, closed: 0, errorCodes: {}, statuses: {} }
function scan (st, chunk) {
  let buf = st.carry ? Buffer.concat([st.carry, chunk]) : chunk
  st.carry = null
  if (st.keepText && st.text.length < st.textCap) st.text += buf.toString('latin1')
  const now = nowUs()
  let pos = 0
  for (let guard = 0; guard < 1e7; guard++) {
    const i = buf.indexOf(MARK, pos)
    if (i < 0) {
      const keep = Math.max(pos, buf.length - (MARK.length - 1))
      if (keep < buf.length) st.carry = Buffer.from(buf.subarray(keep))
      break
    }
    if (i + NEED > buf.length) { st.carry = Buffer.from(buf.subarray(i)); break }
    let ts = 0
    for (let k = i + MARK.length, e = k + TSW; k < e; k++) ts = ts * 10 + buf[k] - 48
    let seq = 0
    for (let k = i + MARK.length + TSW + 1, e = k + SEQW; k < e; k++) seq = seq * 10 + buf[k] - 48
    pos = i + NEED
    if (seq === PROBE_SEQ) { st.probes++; continue }
    st.count++; totalEvents++; st.lastSeq = seq
    if (st.onSeq) st.onSeq(seq)
    if (recording) {
      const lat = now - ts
      hist[Math.min(NB - 1, Math.max(0, (lat / 10) | 0))]++
      hCount++; hSum += lat; if (lat > hMax) hMax = lat; lastLatUs = lat
    }
  }
  buf = null
  st.bytes += chunk.length
  lastRecvAt = now
}

const RECV_BUF = Buffer.allocUnsafe(256 * 1024) // one read buffer shared by every subscriber socket
function openSub (path, extraHeaders = '', opts = {}) {
  return new Promise((resolve) => {
    const st = {
      sock: null, hdr: false, ok: false, hb: null, carry: null, count: 0, probes: 0, bytes: 0, lastSeq: -1,
      tStart: performance.now(), tHeaders: 0, status: '', onSeq: opts.onSeq ?? null, keepText: !!opts.keepText, textCap: opts.textCap ?? 1 << 16, text: '',
    }
    // `onread` hands every read to us in RECV_BUF: consume synchronously, copy anything kept.
    const onData = (nread, buf) => {
      const chunk = buf.subarray(0, nread)
      if (!st.hdr) {
        st.hb = st.hb ? Buffer.concat([st.hb, chunk]) : Buffer.from(chunk)
        const i = st.hb.indexOf('\r\n\r\n')
        if (i < 0) { if (st.hb.length > 65536) sock.destroy(); return }
        st.status = st.hb.subarray(0, st.hb.indexOf('\r\n')).toString('latin1')
        st.hdr = true; st.tHeaders = performance.now()
        st.ok = st.status.startsWith('HTTP/1.1 200')
        if (st.ok) stats.headers++
        else {
          stats.subErrors++
          stats.statuses[st.status] = (stats.statuses[st.status] ?? 0) + 1
          if (stats.subErrors <= 3) log('subscribe refused:', st.status, st.hb.subarray(i + 4, i + 300).toString('latin1'))
        }
        const rest = st.hb.subarray(i + 4); st.hb = null
        if (rest.length) scan(st, rest)
        resolve(st)
        return
      }
      scan(st, chunk)
    }
    const sock = net.connect({ host: HOST, port: PORT, onread: { buffer: RECV_BUF, callback: onData } })
    st.sock = sock
    sock.setNoDelay(true)
    sock.on('connect', () => sock.write(`GET ${path} HTTP/1.1\r\nHost: ${HOST}:${PORT}\r\n` +
      `Accept: text/event-stream\r\nCache-Control: no-cache\r\n${extraHeaders}\r\n`))
    sock.on('error', (e) => {
      stats.errorCodes[e.code] = (stats.errorCodes[e.code] ?? 0) + 1
      if (!st.hdr) { stats.subErrors++; resolve(st) }
    })
    sock.on('close', () => { stats.closed++; st.closedAt = performance.now(); opts.onClose?.(); if (!st.hdr) resolve(st) })
  })
}

// Session cookies (SSE_AUTH=introspect against bench/ref/dashboard-stub.mjs): stream i presents session i % distinct,
// like a user with several tabs. A fresh prefix per run keeps earlier runs' cached sessions out of the count.
const COOKIES = spec.cookies ?? null
const cookieFor = COOKIES ? (i) => `Cookie: sessionid=${COOKIES.prefix}-${i % COOKIES.distinct}\r\n` : () => ''

async function openSubs (n, path, par = CONNECT_PAR, headersFor = cookieFor) {
  const subs = []
  let next = 0
  // The first bytes of each stream are kept (small) so a stream the server answered and closed can say why.
  const worker = async () => {
    while (next < n) { const i = next++; subs.push(await openSub(path, headersFor(i), { keepText: true, textCap: 256 })) }
  }
  await Promise.all(Array.from({ length: Math.min(par, n) }, worker))
  return subs
}

function closeSubs (subs) { for (const s of subs) s.sock.destroy() }

// ---------------------------------------------------------------- publishers
/** Pipelined raw HTTP/1.1 POSTs over a few keep-alive sockets (gateway JSON endpoint, or the references' raw body). */
class HttpPublisher {
  constructor (cfg, ch) {
    this.cfg = cfg; this.sent = 0; this.acked = 0; this.errors = 0; this.skipped = 0; this.maxInflight = 0; this.rr = 0
    this.path = fill(cfg.path, ch)
    this.subject = fill(cfg.subject ?? '', ch)
    this.conns = Array.from({ length: PUB_CONNS }, () => this.#open())
    this.errorSample = ''
  }

  #open () {
    const c = { sock: net.connect({ host: HOST, port: PORT }), inflight: 0, tail: '' }
    c.sock.setNoDelay(true)
    c.ready = new Promise((resolve, reject) => { c.sock.once('connect', resolve); c.sock.once('error', reject) })
    c.sock.on('data', (d) => {
      const s = c.tail + d.toString('latin1')
      let pos = 0
      for (let guard = 0; guard < 1e6; guard++) {
        const i = s.indexOf('HTTP/1.1 ', pos)
        if (i < 0 || i + 10 > s.length) break
        if (s[i + 9] !== '2') { this.errors++; if (!this.errorSample) this.errorSample = s.slice(i, i + 400) }
        c.inflight--; this.acked++; pos = i + 10
      }
      c.tail = s.slice(Math.max(pos, s.length - 10))
    })
    c.sock.on('error', (e) => { this.errors++; log('publisher socket error', e.code) })
    return c
  }

  ready () { return Promise.all(this.conns.map((c) => c.ready)) }

  body (seq) {
    const p = payload(seq)
    if (!this.cfg.json) return p
    // The payload is ASCII without quotes or backslashes, so it can be spliced into JSON as is.
    return Buffer.concat([Buffer.from(`{"subject":"${this.subject}","data":"`), p, Buffer.from('"}')])
  }

  publish (seq, capped = true) {
    let c = null
    for (let k = 0; k < this.conns.length; k++) {
      const cand = this.conns[this.rr++ % this.conns.length]
      if (!capped || cand.inflight < PUB_MAX_INFLIGHT) { c = cand; break }
    }
    if (!c) { this.skipped++; return false } // the server is not keeping up: skip rather than queue without bound
    const body = this.body(seq)
    const head = `POST ${this.path} HTTP/1.1\r\nHost: ${HOST}:${PORT}\r\n${this.cfg.headers ?? ''}` +
      `Content-Type: ${this.cfg.json ? 'application/json' : 'text/plain'}\r\nContent-Length: ${body.length}\r\n\r\n`
    c.sock.write(Buffer.concat([Buffer.from(head, 'latin1'), body]))
    c.inflight++; this.sent++
    if (c.inflight > this.maxInflight) this.maxInflight = c.inflight
    return true
  }

  inflight () { return this.sent - this.acked }
  async drain (timeoutMs = 30000) {
    const t0 = performance.now()
    while (this.acked < this.sent && performance.now() - t0 < timeoutMs) await sleep(10)
  }

  close () { for (const c of this.conns) c.sock.destroy() }
}

/** Core NATS publisher speaking the text protocol directly (PUB, PING/PONG): cheap, no client library in the loop. */
class NatsPublisher {
  constructor (cfg, ch) {
    this.subject = fill(cfg.subject, ch); this.sent = 0; this.acked = 0; this.errors = 0; this.skipped = 0; this.maxInflight = 0
    this.errorSample = ''
    this.pongs = []
    this.sock = net.connect({ host: HOST, port: cfg.port })
    this.sock.setNoDelay(true)
    let tail = ''
    this.readyP = new Promise((resolve, reject) => {
      this.sock.once('error', reject)
      this.sock.on('data', (d) => {
        const s = tail + d.toString('latin1')
        const lines = s.split('\r\n'); tail = lines.pop()
        for (const line of lines) {
          if (line.startsWith('INFO ')) {
            this.sock.write('CONNECT {"verbose":false,"pedantic":false,"echo":false,"name":"sse-bench","lang":"node","version":"0","protocol":1}\r\nPING\r\n')
          } else if (line === 'PING') this.sock.write('PONG\r\n')
          else if (line === 'PONG') { if (this.pongs.length) this.pongs.shift()(); else resolve() }
          else if (line.startsWith('-ERR')) { this.errors++; this.errorSample ||= line; log('nats', line) }
        }
      })
    })
  }

  ready () { return this.readyP }
  publish (seq) {
    // nats-server buffers for slow subscribers and cuts them off; keep our own side bounded as well.
    if (this.sock.writableLength > 4 << 20) { this.skipped++; return false }
    const p = payload(seq)
    this.sock.write(Buffer.concat([Buffer.from(`PUB ${this.subject} ${p.length}\r\n`), p, Buffer.from('\r\n')]))
    this.sent++; this.acked++
    return true
  }

  inflight () { return 0 }
  /** PING/PONG round trip: everything published before it has been processed by nats-server. */
  async drain (timeoutMs = 30000) {
    await Promise.race([new Promise((resolve) => { this.pongs.push(resolve); this.sock.write('PING\r\n') }), sleep(timeoutMs)])
  }

  close () { this.sock.destroy() }
}

async function dashboardCalls (port) {
  try { return await (await fetch(`http://${HOST}:${port}/__calls`)).json() } catch { return null }
}

function makePublisher (ch) {
  return spec.pub.kind === 'nats' ? new NatsPublisher(spec.pub, ch) : new HttpPublisher(spec.pub, ch)
}

// ---------------------------------------------------------------- helpers
/** Publishes probe events until every open stream has received one (bounded), i.e. every stream is subscribed. */
async function waitSubscribed (subs, pub, timeoutMs = spec.probeTimeoutMs ?? 60000) {
  const t0 = performance.now()
  const live = subs.filter((s) => s.ok)
  for (let i = 0; performance.now() - t0 < timeoutMs; i++) {
    let waiting = 0 // open streams without a probe yet (a stream the server closed will never get one)
    for (const s of live) if (s.probes === 0 && !s.sock.destroyed) waiting++
    if (waiting === 0) break
    if (i % 5 === 0) pub.publish(PROBE_SEQ, false)
    await sleep(50)
  }
  const subscribeMs = Math.round(performance.now() - t0)
  await sleep(200) // late probe copies must not land in the measurement
  return { subscribed: live.filter((s) => s.probes > 0).length, subscribeMs }
}

/** For streams that never got a probe: the first typed event each received (retry-later reason), tallied. */
function whyNotSubscribed (subs) {
  const why = {}
  for (const s of subs) {
    if (!s.ok || s.probes > 0) continue
    const k = (/event: ([^\n]+)\ndata: ([^\n]{0,120})/.exec(s.text)?.slice(1).join(' ') ?? (s.closedAt ? 'closed, no event' : 'open, no probe')).replace(/"message":"[^"]*"/, '')
    why[k] = (why[k] ?? 0) + 1
  }
  return why
}

async function rateStep (subs, pub, rate, secs) {
  resetHist()
  const n = subs.filter((s) => s.ok && !s.sock.destroyed).length
  const recv0 = totalEvents
  const cpu0 = readCpuSec(PID); const hcpu0 = process.cpuUsage(); const cores0 = coreTimes()
  const total = Math.round(rate * secs)
  let attempted = 0; let sent = 0; let aborted = false
  const skipped0 = pub.skipped
  recording = true
  const t0 = performance.now()
  await new Promise((resolve) => {
    const tick = () => {
      const due = Math.min(total, Math.floor((performance.now() - t0) * rate / 1000) + 1)
      for (; attempted < due; attempted++) if (pub.publish(attempted)) sent++
      if (lastLatUs > ABORT_MS * 1000) { aborted = true; resolve(); return }
      if (attempted >= total) resolve(); else setTimeout(tick, 1)
    }
    tick()
  })
  const tPubEnd = performance.now()
  const expected = sent * n
  // Drain until everything arrived, or 5 s without progress, or 30 s in all.
  let lastSeen = totalEvents; let lastChange = performance.now()
  for (let guard = 0; guard < 3000; guard++) {
    if (totalEvents - recv0 >= expected) break
    await sleep(10)
    if (totalEvents !== lastSeen) { lastSeen = totalEvents; lastChange = performance.now() }
    if (performance.now() - lastChange > 5000 || performance.now() - tPubEnd > 30000) break
  }
  recording = false
  const received = totalEvents - recv0
  const wall = (Math.max(tPubEnd, lastRecvAt / 1000) - t0) / 1000
  const srvCpu = readCpuSec(PID) - cpu0; const hcpu = process.cpuUsage(hcpu0); const cores = coreUtil(cores0, coreTimes())
  return {
    subscribers: n, rate, secs, attempted, published: sent, publishSkipped: pub.skipped - skipped0, aborted,
    achievedPublishRate: Math.round(sent / ((tPubEnd - t0) / 1000)),
    expected, received, lossPct: expected ? +(100 * (1 - received / expected)).toFixed(3) : 0,
    deliveredPerSec: Math.round(received / wall), wallSecs: +wall.toFixed(2),
    latMs: { p50: pct(0.5), p99: pct(0.99), p999: pct(0.999), max: hMax / 1000, mean: hCount ? +(hSum / hCount / 1000).toFixed(3) : null },
    serverCpuSec: +srvCpu.toFixed(2), serverCpuUtil: +(srvCpu / wall).toFixed(2),
    eventsPerServerCpuSec: srvCpu > 0 ? Math.round(received / srvCpu) : null,
    loadgenCpuUtil: +((hcpu.user + hcpu.system) / 1e6 / wall).toFixed(2),
    cores, // whole-core busy incl. softirq (server side on cpu0, load generator on cpu1 when pinned)
    pubErrors: pub.errors, pubErrorSample: pub.errorSample || undefined,
    serverRssKB: readRss(PID).vmRssKB,
  }
}

// ---------------------------------------------------------------- modes
const channel = (tag) => `${tag}${process.pid}x${Date.now() % 1e6}`

async function modeIdle () {
  const n = spec.n ?? 10000
  const ch = channel('idle')
  const path = fill(spec.sub.path, ch)
  const pub = makePublisher(ch); await pub.ready()
  // Warm-up: V8 grows its heap in steps; a first small batch keeps that step out of the per-stream figure.
  if (spec.warm) {
    const w = await openSubs(spec.warm, path)
    await waitSubscribed(w, pub, 20000)
    closeSubs(w); await sleep(1000)
  }
  const rss0 = readRss(PID); const tcp0 = tcpMemPages()
  const t0 = performance.now()
  const subs = await openSubs(n, path)
  const connectSecs = (performance.now() - t0) / 1000
  const sub = await waitSubscribed(subs, pub)
  await sleep(spec.settleMs ?? 3000)
  const rss1 = readRss(PID); const tcp1 = tcpMemPages()
  const stillOpen = subs.filter((s) => s.ok && !s.sock.destroyed).length
  const notSubscribedWhy = whyNotSubscribed(subs)
  pub.close(); closeSubs(subs); await sleep(1500)
  const rss2 = readRss(PID)
  return {
    n, opened: subs.filter((s) => s.ok).length, subscribed: sub.subscribed, stillOpen, subscribeMs: sub.subscribeMs, notSubscribedWhy,
    connectSecs: +connectSecs.toFixed(2), ...stats,
    rssBeforeKB: rss0.vmRssKB, rssAfterKB: rss1.vmRssKB, rssAfterCloseKB: rss2.vmRssKB,
    kbPerStream: +((rss1.vmRssKB - rss0.vmRssKB) / n).toFixed(2),
    anonKbPerStream: +((rss1.rssAnonKB - rss0.rssAnonKB) / n).toFixed(2),
    kernelTcpKbPerStreamBothEnds: +(((tcp1 - tcp0) * 4) / n).toFixed(2),
  }
}

async function modeFanout () {
  const n = spec.n ?? 1000
  const ch = channel('fan')
  const subs = await openSubs(n, fill(spec.sub.path, ch))
  const pub = makePublisher(ch); await pub.ready()
  const sub = await waitSubscribed(subs, pub)
  if (sub.subscribed < n) log(`only ${sub.subscribed}/${n} streams subscribed`)
  await sleep(300)
  const r = await rateStep(subs, pub, spec.rate ?? 1000, spec.secs ?? 5)
  const stillOpen = subs.filter((s) => s.ok && !s.sock.destroyed).length
  const notSubscribedWhy = whyNotSubscribed(subs)
  pub.close(); closeSubs(subs)
  return { n, notSubscribedWhy, subscribed: sub.subscribed, subscribeMs: sub.subscribeMs, stillOpen, ...r, subErrors: stats.subErrors, closed: stats.closed }
}

async function modeReplay () {
  const count = spec.count ?? 10000; const reps = spec.reps ?? 3
  const ch = channel('rep')
  const path = fill(spec.sub.path, ch)
  let firstSeen = null; let lastSeen = null
  const tracker = await openSub(path, cookieFor(0), {
    keepText: true,
    onSeq: (seq) => { if (seq === 0) firstSeen?.(); if (seq === count) lastSeen?.() },
  })
  if (!tracker.ok) throw new Error(`tracker stream refused: ${tracker.status}`)
  const pub = makePublisher(ch); await pub.ready()
  await waitSubscribed([tracker], pub, 20000)
  const gotFirst = new Promise((resolve) => { firstSeen = resolve })
  pub.publish(0, false)
  await Promise.race([gotFirst, sleep(10000)])
  // The id of event 0 as the server framed it (`id:` precedes `data:` within the frame).
  // Skipped lines may be neither blank (a frame boundary) nor another `id:`, so the match stays within one frame.
  const m = /(?:^|\n)id: ?([^\r\n]*)\r?\n(?:(?!id:)[^\r\n]+\r?\n)*?data: T\d{12}S00000000/.exec(tracker.text)
  if (!m) throw new Error('could not read the id of the first event from the stream')
  const firstId = m[1]
  tracker.keepText = false; tracker.text = ''
  const gotLast = new Promise((resolve) => { lastSeen = resolve })
  const tp0 = performance.now()
  for (let s = 1; s <= count; s++) { // `count` events after the cursor
    for (let w = 0; w < 5000 && pub.inflight() >= PUB_MAX_INFLIGHT * PUB_CONNS; w++) await sleep(1)
    pub.publish(s, false)
    if (spec.pub.kind === 'nats' && s % 500 === 0) await pub.drain(5000)
  }
  await pub.drain()
  await Promise.race([gotLast, sleep(30000)])
  const publishSecs = (performance.now() - tp0) / 1000
  const trackerGot = tracker.count
  tracker.sock.destroy(); pub.close()
  await sleep(300)
  const runs = []
  for (let r = 0; r < reps; r++) {
    const t0 = performance.now()
    let tFirst = 0; let tLast = 0; let done
    const finished = new Promise((resolve) => { done = resolve })
    const st = await openSub(path, `Last-Event-ID: ${firstId}\r\n${cookieFor(0)}`, {
      keepText: true,
      onSeq: (seq) => {
        if (!tFirst) tFirst = performance.now()
        if (seq === count) { tLast = performance.now(); done() }
      },
      onClose: () => done?.(), // the server ended the stream (e.g. a slow-consumer cut-off): stop waiting
    })
    await Promise.race([finished, sleep(30000)])
    runs.push({
      headersMs: +(st.tHeaders - t0).toFixed(2), firstEventMs: tFirst ? +(tFirst - t0).toFixed(2) : null,
      lastEventMs: tLast ? +(tLast - t0).toFixed(2) : null, events: st.count, bytes: st.bytes,
      complete: st.count === count && tLast > 0, status: st.status,
      closedByServerMs: st.closedAt ? +(st.closedAt - t0).toFixed(2) : undefined,
      head: st.count < count ? st.text.slice(0, 300) : undefined,
    })
    st.sock.destroy()
    await sleep(300)
  }
  const done = runs.filter((r) => r.lastEventMs !== null).map((r) => r.lastEventMs)
  return {
    count, firstId, trackerReceived: trackerGot, publishSecs: +publishSecs.toFixed(2), pubErrors: pub.errors,
    pubErrorSample: pub.errorSample || undefined, runs,
    bestMs: done.length ? Math.min(...done) : null, worstMs: runs.every((r) => r.complete) ? Math.max(...done) : null,
    allComplete: runs.every((r) => r.complete),
  }
}

async function modeStorm () {
  const n = spec.n ?? 5000
  const ch = channel('storm')
  const path = fill(spec.sub.path, ch)
  const pub = makePublisher(ch); await pub.ready()
  // "Cached sessions": every session has opened (and closed) one stream shortly before, as after a deploy or a
  // network blip, so the gateway may answer from its cache; without it every distinct cookie is a cold look-up.
  if (spec.warmSessions && COOKIES) {
    const warm = await openSubs(COOKIES.distinct, path, 100)
    closeSubs(warm); await sleep(500)
  }
  const calls0 = spec.dashboard ? await dashboardCalls(spec.dashboard) : null
  const rss0 = readRss(PID); const cpu0 = readCpuSec(PID)
  const t0 = performance.now()
  const subs = await openSubs(n, path, spec.connectPar ?? n)
  const headersSecs = (performance.now() - t0) / 1000
  const sub = await waitSubscribed(subs, pub, 30000)
  const allOpenSecs = (performance.now() - t0) / 1000
  const hdrTimes = subs.filter((s) => s.ok).map((s) => s.tHeaders - s.tStart).sort((a, b) => a - b)
  const q = (p) => hdrTimes.length ? +hdrTimes[Math.min(hdrTimes.length - 1, Math.floor(p * hdrTimes.length))].toFixed(1) : null
  const rss1 = readRss(PID)
  pub.close(); closeSubs(subs)
  const why = whyNotSubscribed(subs)
  const calls1 = spec.dashboard ? await dashboardCalls(spec.dashboard) : null
  return {
    sessions: COOKIES?.distinct, warmSessions: !!spec.warmSessions,
    dashboardCallsDuringStorm: calls1 ? calls1.calls - calls0.calls : undefined,
    notSubscribedWhy: why,
    n, connectPar: spec.connectPar ?? n, opened: hdrTimes.length, subscribed: sub.subscribed,
    headersSecs: +headersSecs.toFixed(2), allSubscribedSecs: +allOpenSecs.toFixed(2),
    headersMs: { p50: q(0.5), p99: q(0.99), max: q(1 - 1e-9) }, serverCpuSec: +(readCpuSec(PID) - cpu0).toFixed(2),
    rssGrowthKB: rss1.vmRssKB - rss0.vmRssKB, ...stats,
  }
}

const modes = { idle: modeIdle, fanout: modeFanout, replay: modeReplay, storm: modeStorm }
if (!modes[spec.mode]) { console.error('mode must be one of', Object.keys(modes).join(', ')); process.exit(2) }
const hardStop = setTimeout(() => { log('hard time limit reached'); process.exit(3) }, (spec.maxSecs ?? 300) * 1000)
hardStop.unref()
try {
  const result = { mode: spec.mode, label: LABEL, ...(await modes[spec.mode]()) }
  process.stdout.write(JSON.stringify(result) + '\n')
  process.exit(0)
} catch (err) {
  log('failed:', err?.stack ?? err)
  process.stdout.write(JSON.stringify({ mode: spec.mode, label: LABEL, error: String(err?.message ?? err), ...stats }) + '\n')
  process.exit(1)
}
