// 20,000 streams held on one machine by two gateway instances sharing one nats-server: the scale-out topology
// (stateless instances behind the proxy). One process cannot hold 20,000 here: the descriptor hard limit is 20,000
// per process and a server needs a few more for its listener, NATS, logs. Each instance holds half, fed by its own
// load-generator process (bench/loadgen.mjs, idle mode); the script samples both instances' /metrics while they hold.
//
//   node bench/held.mjs [--total=20000] [--hold-secs=20] [--out=bench/results/<date>-held.json]
// Needs `npm run build` and nats-server. Loopback only; bounded in count and time.
import { spawn, execSync } from 'node:child_process'
import fs from 'node:fs'
import net from 'node:net'
import os from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..')
const args = process.argv.slice(2)
const opt = (name, def) => { const a = args.find((x) => x.startsWith(`--${name}=`)); return a ? a.slice(name.length + 3) : def }
const TOTAL = Math.min(Number(opt('total', 20000)), 40000)
const HOLD_MS = Math.min(Number(opt('hold-secs', 20)), 120) * 1000
const INSTANCES = 2
const PER = Math.ceil(TOTAL / INSTANCES)
const FD_HARD = Number(execSync('bash -c "ulimit -Hn"').toString().trim()) || 1024
const FD = Math.min(FD_HARD, 65536)
const NATS_BIN = ['/usr/sbin/nats-server', '/usr/local/bin/nats-server', '/usr/bin/nats-server'].find((p) => fs.existsSync(p))
const GATEWAY_BIN = path.join(ROOT, 'dist/bin/sse-gateway.js')
const PIN = (() => { try { execSync('taskset -c 0 true'); return os.cpus().length > 1 } catch { return false } })()
const log = (...a) => console.error('[held]', ...a)
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms))

if (!NATS_BIN) { console.error('nats-server not installed (apt-get install -y nats-server)'); process.exit(2) }
if (!fs.existsSync(GATEWAY_BIN)) { console.error('dist/bin/sse-gateway.js not found: run `npm run build`'); process.exit(2) }
if (PER + 100 > FD) { console.error(`each instance needs ~${PER + 100} descriptors, the hard limit is ${FD}`); process.exit(2) }

function freePort () {
  return new Promise((resolve, reject) => {
    const s = net.createServer().listen(0, '127.0.0.1', () => { const { port } = s.address(); s.close(() => resolve(port)) })
    s.on('error', reject)
  })
}

function launch (argv, core, env = {}, stderr = 'inherit') {
  const quoted = argv.map((a) => `'${String(a).replaceAll("'", "'\\''")}'`).join(' ')
  const pin = PIN ? `taskset -c ${core} ` : ''
  return spawn('bash', ['-c', `ulimit -n ${FD} && exec ${pin}${quoted}`], { cwd: ROOT, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', stderr] })
}

async function waitPort (port, timeoutMs = 15000) {
  const t0 = Date.now()
  while (Date.now() - t0 < timeoutMs) {
    const ok = await new Promise((resolve) => { const s = net.connect({ host: '127.0.0.1', port }, () => { s.destroy(); resolve(true) }); s.on('error', () => resolve(false)) })
    if (ok) return
    await sleep(100)
  }
  throw new Error(`port ${port} did not open`)
}

async function openStreams (port) {
  const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text()
  return Number(/^sse_streams_open (\d+)/m.exec(text)?.[1] ?? NaN)
}

const children = []
const cleanup = () => { for (const c of children) try { c.kill('SIGKILL') } catch {} }
process.on('exit', cleanup)

const store = fs.mkdtempSync(path.join(os.tmpdir(), 'sse-held-'))
try {
  const natsPort = await freePort()
  children.push(launch([NATS_BIN, '-a', '127.0.0.1', '-p', String(natsPort), '-sd', store], 0, {}, 'ignore'))
  await waitPort(natsPort)
  const gateways = []
  for (let i = 0; i < INSTANCES; i++) {
    const port = await freePort()
    const child = launch([process.execPath, GATEWAY_BIN], 0, {
      SSE_HOST: '127.0.0.1', SSE_PORT: String(port), SSE_NATS_URL: `nats://127.0.0.1:${natsPort}`,
      SSE_MAX_CONNECTIONS: String(PER + 1000), SSE_LOG_LEVEL: 'warn'
    })
    child.stdout.resume()
    children.push(child)
    await waitPort(port)
    gateways.push({ port, pid: child.pid })
  }
  log(`${INSTANCES} instances on ports ${gateways.map((g) => g.port).join(', ')}, ${PER} streams each, hold ${HOLD_MS / 1000} s`)

  let peak = 0
  let peakAt = null
  let sampling = true
  const sampler = (async () => {
    while (sampling) {
      const counts = await Promise.all(gateways.map((g) => openStreams(g.port).catch(() => 0)))
      const sum = counts.reduce((a, b) => a + b, 0)
      if (sum > peak) { peak = sum; peakAt = counts }
      await sleep(500)
    }
  })()

  const t0 = Date.now()
  const results = await Promise.all(gateways.map((g, i) => new Promise((resolve, reject) => {
    const spec = {
      mode: 'idle', label: `held${i}`, port: g.port, pid: g.pid, n: PER, connectPar: 200, probeTimeoutMs: 90000,
      settleMs: HOLD_MS, sub: { path: '/events?topic=bench.{ch}' }, pub: { kind: 'nats', port: natsPort, subject: 'bench.{ch}' }
    }
    const lg = launch([process.execPath, path.join(ROOT, 'bench/loadgen.mjs'), JSON.stringify(spec)], 1)
    children.push(lg)
    let out = ''
    lg.stdout.on('data', (d) => { out += d })
    lg.on('exit', (code) => {
      try { resolve(JSON.parse(out.trim().split('\n').at(-1))) } catch { reject(new Error(`loadgen ${i} exited ${code}: ${out.slice(0, 300)}`)) }
    })
  })))
  sampling = false
  await sampler

  const held = results.reduce((a, r) => a + r.stillOpen, 0)
  const report = {
    date: new Date().toISOString(), total: TOTAL, instances: INSTANCES, fdHardLimit: FD_HARD, pinned: PIN, wallSecs: Math.round((Date.now() - t0) / 1000),
    heldAtEndOfHold: held, peakSimultaneousOpen: peak, peakPerInstance: peakAt,
    perInstance: results.map((r) => ({ n: r.n, subscribed: r.subscribed, stillOpen: r.stillOpen, kbPerStream: r.kbPerStream, connectSecs: r.connectSecs, notSubscribedWhy: r.notSubscribedWhy }))
  }
  const out = opt('out', path.join(ROOT, 'bench/results', `${report.date.slice(0, 10)}-held.json`))
  fs.writeFileSync(out, JSON.stringify(report, null, 2) + '\n')
  console.log(`| streams held (${INSTANCES} instances, one nats-server) | ${held.toLocaleString('en-US')} of ${TOTAL.toLocaleString('en-US')} at the end of the hold; peak ${peak.toLocaleString('en-US')} open at once (${peakAt?.join(' + ')}); ${report.perInstance.map((r) => `${r.kbPerStream} KB`).join(' / ')} per stream |`)
  log(`wrote ${path.relative(ROOT, out)}`)
  process.exitCode = held >= TOTAL && peak >= TOTAL ? 0 : 1
} finally {
  cleanup()
  fs.rmSync(store, { recursive: true, force: true })
}
