// The benchmark suite: the gateway side by side with the Node reference fan-out and nchan, in one run, on one machine.
//
//   npm run bench                  quick mode (a few minutes)
//   npm run bench -- --full        longer steps, 3 replay reconnects, ~20,000 held streams, 5,000 msg/s step
//   options: --only=gateway,node-batch   --skip=nchan   --scenarios=idle,fanout,replay,storm,held   --no-micro
//            --out=bench/results/x.json  --no-pin   --secs=N   --repeat=N   --nice=N   --no-build   --keep-logs
//
// Every server runs pinned to core 0 and the load generator (bench/loadgen.mjs, a separate process) to core 1 when
// `taskset` exists and the machine has two cores or more. Each server is started, measured and stopped by its pid
// before the next one starts; nothing binds outside 127.0.0.1. Prints a Markdown table and writes the JSON to
// bench/results/<date>.json.
import { spawn, execFileSync } from 'node:child_process'
import fs from 'node:fs'
import net from 'node:net'
import os from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { setTimeout as sleep } from 'node:timers/promises'

const BENCH = path.dirname(fileURLToPath(import.meta.url))
const ROOT = path.resolve(BENCH, '..')
const args = process.argv.slice(2)
const flag = (name) => args.includes(`--${name}`)
const opt = (name, def) => { const a = args.find((x) => x.startsWith(`--${name}=`)); return a ? a.slice(name.length + 3) : def }
const FULL = flag('full')
const MODE = FULL ? 'full' : 'quick'
const list = (s) => (s ? s.split(',').filter(Boolean) : null)
const ONLY = list(opt('only')); const SKIP = list(opt('skip')) ?? []
const SCEN = list(opt('scenarios')) ?? ['idle', 'fanout', 'replay', 'storm', ...(FULL ? ['held'] : [])]
const SECS = +opt('secs', FULL ? 10 : 5)
// The machine may be shared (other jobs on both cores): full mode repeats each fan-out step and reports the median.
const REPEAT = Math.max(1, +opt('repeat', FULL ? 3 : 1))
// --nice=-10 (root) runs every benchmark process ahead of other jobs on a shared machine; recorded in the JSON.
const NICE = Math.trunc(+opt('nice', 0)) || 0
const TOKEN = 'bench-publish-token'
const STREAMS_PER_SESSION = 5 // a user with five tabs: under the default per-user cap (32)
const log = (...a) => console.error('[bench]', ...a)

// ---------------------------------------------------------------- machine
const have = (cmd) => { try { execFileSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' }); return true } catch { return false } }
const sh = (cmd) => { try { return execFileSync('sh', ['-c', cmd], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim() } catch { return '' } }
const PIN = !flag('no-pin') && have('taskset') && os.cpus().length >= 2
const FD_HARD = +sh('ulimit -Hn') || 1024
const FD_LIMIT = Math.min(FD_HARD, 65536)
// Both the server and the load generator need one descriptor per stream, plus a margin for listeners, logs, NATS.
const HELD = Math.min(20000, FD_LIMIT - 100)
const NATS_BIN = ['/usr/sbin/nats-server', '/usr/local/bin/nats-server', '/usr/bin/nats-server'].find((p) => fs.existsSync(p)) ??
  (have('nats-server') ? 'nats-server' : null)
const NCHAN_MODULE = ['/usr/lib/nginx/modules/ngx_nchan_module.so', '/usr/share/nginx/modules/ngx_nchan_module.so'].find((p) => fs.existsSync(p))
const NGINX = have('nginx') ? 'nginx' : (fs.existsSync('/usr/sbin/nginx') ? '/usr/sbin/nginx' : null)
const GATEWAY_BIN = path.join(ROOT, 'dist/bin/sse-gateway.js')

function machine () {
  return {
    date: new Date().toISOString(), host: os.hostname(), kernel: os.release(), cpu: os.cpus()[0]?.model, cpus: os.cpus().length,
    memGiB: +(os.totalmem() / 2 ** 30).toFixed(1), node: process.version,
    nginx: NGINX ? sh(`${NGINX} -v 2>&1`) : null, nchan: sh("dpkg-query -W -f='${Version}' libnginx-mod-nchan 2>/dev/null") || null,
    natsServer: NATS_BIN ? sh(`${NATS_BIN} --version`) : null, fdLimit: FD_LIMIT, pinned: PIN, nice: NICE,
    loadavgAtStart: os.loadavg().map((x) => +x.toFixed(2)),
    gitHead: sh(`git -C ${ROOT} rev-parse --short HEAD`),
  }
}

// ---------------------------------------------------------------- processes
function freePort () {
  return new Promise((resolve, reject) => {
    const s = net.createServer().listen(0, '127.0.0.1', () => { const { port } = s.address(); s.close(() => resolve(port)) })
    s.on('error', reject)
  })
}

/** Starts `argv` with the descriptor limit raised and pinned to `core`; `exec` keeps the pid the process's own. */
function launch (argv, { core, env = {}, cwd = ROOT, logFile }) {
  const quoted = argv.map((a) => `'${String(a).replaceAll("'", "'\\''")}'`).join(' ')
  const pin = (PIN && core !== undefined ? `taskset -c ${core} ` : '') + (NICE ? `nice -n ${NICE} ` : '')
  const child = spawn('bash', ['-c', `ulimit -n ${FD_LIMIT} && exec ${pin}${quoted}`], {
    cwd, env: { ...process.env, ...env }, stdio: ['ignore', logFile ? fs.openSync(logFile, 'a') : 'ignore', logFile ? fs.openSync(logFile, 'a') : 'ignore'],
  })
  return child
}

async function waitPort (port, child, timeoutMs = 15000) {
  const t0 = Date.now()
  while (Date.now() - t0 < timeoutMs) {
    if (child.exitCode !== null) throw new Error(`exited with code ${child.exitCode}`)
    const ok = await new Promise((resolve) => {
      const s = net.connect({ host: '127.0.0.1', port }, () => { s.destroy(); resolve(true) })
      s.on('error', () => resolve(false))
    })
    if (ok) return
    await sleep(100)
  }
  throw new Error(`port ${port} did not open within ${timeoutMs} ms`)
}

async function stop (child, signal = 'SIGTERM') {
  if (!child || child.exitCode !== null || child.signalCode) return
  const exited = new Promise((resolve) => child.once('exit', resolve))
  child.kill(signal)
  if (await Promise.race([exited.then(() => true), sleep(5000).then(() => false)])) return
  child.kill('SIGKILL')
  await Promise.race([exited, sleep(2000)])
}

/** Runs one load-generator process on core 1 and returns its JSON result. */
function loadgen (spec, maxSecs = 300) {
  return new Promise((resolve) => {
    const quoted = `'${JSON.stringify({ ...spec, maxSecs }).replaceAll("'", "'\\''")}'`
    const pin = (PIN ? 'taskset -c 1 ' : '') + (NICE ? `nice -n ${NICE} ` : '')
    const child = spawn('bash', ['-c', `ulimit -n ${FD_LIMIT} && exec ${pin}'${process.execPath}' '${path.join(BENCH, 'loadgen.mjs')}' ${quoted}`], {
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    let out = ''; let err = ''
    child.stdout.on('data', (d) => { out += d })
    child.stderr.on('data', (d) => { err += d; process.stderr.write(d) })
    const timer = setTimeout(() => child.kill('SIGKILL'), (maxSecs + 30) * 1000)
    child.on('close', (code) => {
      clearTimeout(timer)
      const line = out.trim().split('\n').pop()
      try { resolve(JSON.parse(line)) } catch { resolve({ error: `load generator exited ${code}: ${err.slice(-500)}` }) }
    })
  })
}

// ---------------------------------------------------------------- targets
function gatewayEnv (port, extra = {}) {
  return {
    SSE_HOST: '127.0.0.1', SSE_PORT: String(port), SSE_PUBLISH_TOKEN: TOKEN,
    SSE_HISTORY_SIZE: '20000', SSE_HISTORY_BYTES: String(64 << 20), SSE_MAX_CONNECTIONS: String(HELD + 1000), ...extra,
  }
}
const gatewaySub = { path: '/events?topic=bench.{ch}' }
const gatewayHttpPub = { kind: 'http', path: '/events/publish', json: true, subject: 'bench.{ch}', headers: `Authorization: Bearer ${TOKEN}\r\n` }
const refSub = { path: '/sub/{ch}' }
const refPub = { kind: 'http', path: '/pub/{ch}', json: false }

function gatewayMissing () {
  if (!fs.existsSync(GATEWAY_BIN)) return `dist/bin/sse-gateway.js not found: run \`npm run build\` (the core may not be on this branch yet)`
  return null
}
/** The standalone server prints `(bus: <kind>)` once listening: a build that ignores SSE_NATS_URL is caught here. */
async function expectBus (child, logFile, kind) {
  for (let i = 0; i < 50; i++) {
    const m = /\(bus: ([\w-]+)\)/.exec(fs.readFileSync(logFile, 'utf8'))
    if (m) {
      if (m[1] !== kind) throw new Error(`this build of the gateway started with bus: ${m[1]}, not ${kind} (NATS settings not wired into the standalone server yet?)`)
      return
    }
    if (child.exitCode !== null) break
    await sleep(100)
  }
  throw new Error(`the gateway did not report its bus kind (expected ${kind})`)
}

/** The dashboard stand-in for SSE_AUTH=introspect; it runs beside the load generator, not on the server core. */
async function startDashboard (tmp) {
  const port = await freePort()
  const child = launch([process.execPath, path.join(BENCH, 'ref/dashboard-stub.mjs')], { core: 1, env: { PORT: String(port) }, logFile: path.join(tmp, 'dashboard.log') })
  await waitPort(port, child)
  return { port, child }
}
function authEnv (dashPort) {
  return { SSE_AUTH: 'introspect', SSE_INTROSPECT_URL: `http://127.0.0.1:${dashPort}/introspect`, SSE_ALLOW: 'bench.>' }
}
async function dashboardCalls (port) {
  try { return await (await fetch(`http://127.0.0.1:${port}/__calls`)).json() } catch { return null }
}

async function startNats (tmp) {
  const port = await freePort()
  const store = fs.mkdtempSync(path.join(tmp, 'js-'))
  const child = launch([NATS_BIN, '-a', '127.0.0.1', '-p', String(port), '-js', '-sd', store], { core: 0, logFile: path.join(tmp, 'nats.log') })
  await waitPort(port, child)
  return { port, child }
}

/** Each target: why it cannot run (or null), and how to start it. `start` returns { port, pid, sub, pub, stop }. */
const TARGETS = [
  {
    name: 'gateway', title: 'gateway (embedded bus, HTTP publish, introspect auth)',
    missing: gatewayMissing,
    async start (tmp) {
      const dash = await startDashboard(tmp)
      const port = await freePort()
      const child = launch([process.execPath, GATEWAY_BIN], {
        core: 0, env: gatewayEnv(port, authEnv(dash.port)), logFile: path.join(tmp, 'gateway.log'),
      })
      try { await waitPort(port, child) } catch (e) { await stop(dash.child); throw e }
      return { port, pid: child.pid, sub: gatewaySub, pub: gatewayHttpPub, dashboard: dash.port, stop: async () => { await stop(child); await stop(dash.child) } }
    },
  },
  {
    name: 'gateway-nats', title: 'gateway (NATS core, publish through NATS)',
    scenarios: ['fanout', 'idle', 'storm'],
    missing: () => gatewayMissing() ?? (!NATS_BIN ? 'nats-server not installed (apt-get install -y nats-server)' : null),
    async start (tmp) {
      const nats = await startNats(tmp)
      const port = await freePort()
      const child = launch([process.execPath, GATEWAY_BIN], { core: 0, env: gatewayEnv(port, { SSE_NATS_URL: `nats://127.0.0.1:${nats.port}` }), logFile: path.join(tmp, 'gateway-nats.log') })
      try { await waitPort(port, child); await expectBus(child, path.join(tmp, 'gateway-nats.log'), 'nats') } catch (e) { await stop(child); await stop(nats.child); throw e }
      return {
        port, pid: child.pid, sub: gatewaySub, pub: { kind: 'nats', port: nats.port, subject: 'bench.{ch}' },
        stop: async () => { await stop(child); await stop(nats.child) },
      }
    },
  },
  {
    name: 'gateway-js', title: 'gateway (JetStream, publish through NATS)',
    scenarios: ['replay', 'fanout'],
    missing: () => gatewayMissing() ?? (!NATS_BIN ? 'nats-server not installed (apt-get install -y nats-server)' : null),
    async start (tmp) {
      const nats = await startNats(tmp)
      const port = await freePort()
      const child = launch([process.execPath, GATEWAY_BIN], {
        core: 0,
        env: gatewayEnv(port, { SSE_NATS_URL: `nats://127.0.0.1:${nats.port}`, SSE_JETSTREAM_STREAM: 'BENCH', SSE_JETSTREAM_SUBJECTS: 'bench.>', SSE_JETSTREAM_CREATE: 'true' }),
        logFile: path.join(tmp, 'gateway-js.log'),
      })
      try { await waitPort(port, child); await expectBus(child, path.join(tmp, 'gateway-js.log'), 'jetstream') } catch (e) { await stop(child); await stop(nats.child); throw e }
      return {
        port, pid: child.pid, sub: gatewaySub, pub: { kind: 'nats', port: nats.port, subject: 'bench.{ch}' },
        stop: async () => { await stop(child); await stop(nats.child) },
      }
    },
  },
  ...['raw', 'batch'].map((mode) => ({
    name: `node-${mode}`, title: mode === 'raw' ? 'raw node:http, one write per event' : 'raw node:http, coalesced per turn',
    missing: () => null,
    async start (tmp) {
      const port = await freePort()
      const child = launch([process.execPath, path.join(BENCH, 'ref/node-ref.mjs')], { core: 0, env: { MODE: mode, PORT: String(port) }, logFile: path.join(tmp, `node-${mode}.log`) })
      await waitPort(port, child)
      return { port, pid: child.pid, sub: refSub, pub: refPub, stop: () => stop(child) }
    },
  })),
  {
    name: 'nchan', title: `nchan (nginx, 1 worker)`,
    missing: () => (!NGINX || !NCHAN_MODULE) ? 'nginx with the nchan module is not installed: apt-get install -y nginx-light libnginx-mod-nchan' : null,
    async start (tmp) {
      const port = await freePort()
      const prefix = fs.mkdtempSync(path.join(tmp, 'nginx-'))
      fs.mkdirSync(path.join(prefix, 'logs'))
      const conf = path.join(prefix, 'nginx.conf')
      fs.writeFileSync(conf, fs.readFileSync(path.join(BENCH, 'ref/nchan.conf'), 'utf8')
        .replaceAll('__PORT__', String(port)).replaceAll('__MODULE__', NCHAN_MODULE))
      const child = launch([NGINX, '-p', prefix + '/', '-c', conf], { core: 0, logFile: path.join(tmp, 'nchan.log') })
      await waitPort(port, child)
      // SIGQUIT: graceful shutdown of the master and its worker.
      return { port, pid: child.pid, sub: refSub, pub: refPub, stop: () => stop(child, 'SIGQUIT') }
    },
  },
]

// ---------------------------------------------------------------- scenarios
const PLAN = {
  idle: [{ key: 'idle-10k', mode: 'idle', n: 10000, warm: 1000 }],
  held: [{ key: `held-${HELD}`, mode: 'idle', n: HELD, warm: 1000, connectPar: 200, probeTimeoutMs: 90000 }],
  fanout: [
    { key: 'fanout-1k-100', mode: 'fanout', n: 1000, rate: 100, secs: SECS },
    { key: 'fanout-1k-1000', mode: 'fanout', n: 1000, rate: 1000, secs: SECS },
    ...(FULL ? [{ key: 'fanout-1k-5000', mode: 'fanout', n: 1000, rate: 5000, secs: SECS }] : []),
  ],
  replay: [{ key: 'replay-10k', mode: 'replay', count: 10000, reps: FULL ? 3 : 2 }],
  storm: [
    { key: 'storm-5k', mode: 'storm', n: 5000, warmSessions: true },
    { key: 'storm-5k-cold', mode: 'storm', n: 5000 },
  ],
}

async function runTarget (t, tmp) {
  const res = { name: t.name, title: t.title, scenarios: {} }
  const why = t.missing()
  if (why) { res.absent = why; log(`${t.name}: ABSENT — ${why}`); return res }
  // Holding ~20,000 streams is a gateway target; nginx cannot hold that many under this fd limit anyway.
  const wanted = SCEN.filter((s) => (!t.scenarios || t.scenarios.includes(s)) && (s !== 'held' || t.name === 'gateway'))
  if (!wanted.length) return res
  let srv
  try { srv = await t.start(tmp) } catch (e) { res.absent = `failed to start: ${e.message}`; log(`${t.name}: ${res.absent}`); return res }
  log(`${t.name}: pid ${srv.pid} port ${srv.port}`)
  try {
    for (const s of wanted) {
      for (const step of PLAN[s]) {
        const { key, ...spec } = step
        log(`${t.name}: ${key}`)
        const cookies = srv.dashboard ? { prefix: `${key}-${Date.now() % 1e6}`, distinct: Math.ceil((spec.n ?? 1) / STREAMS_PER_SESSION) } : undefined
        const calls0 = srv.dashboard ? await dashboardCalls(srv.dashboard) : null
        const reps = spec.mode === 'fanout' ? REPEAT : 1
        const all = []
        for (let i = 0; i < reps; i++) {
          const load1 = os.loadavg()[0]
          all.push(await loadgen({ ...spec, cookies: cookies && { ...cookies, prefix: `${cookies.prefix}r${i}` }, dashboard: srv.dashboard, port: srv.port, pid: srv.pid, label: `${t.name} ${key}`, sub: srv.sub, pub: srv.pub }))
          all[all.length - 1].loadavg1AtStart = +load1.toFixed(2) // other jobs on the machine: see the README's note on noise
          if (i + 1 < reps) await sleep(1000)
        }
        const r = reps === 1 ? all[0] : medianRun(all)
        if (srv.dashboard) {
          const calls1 = await dashboardCalls(srv.dashboard)
          // Zero calls means this build of the standalone server ignores SSE_AUTH: the streams were anonymous.
          r.auth = { strategy: calls1.calls > calls0.calls ? 'introspect' : 'none (SSE_AUTH not wired in this build)', distinctSessions: cookies.distinct, dashboardCalls: calls1.calls - calls0.calls, sessionsAsked: calls1.distinct - calls0.distinct, maxCallsPerSession: calls1.maxPerSession }
        }
        res.scenarios[key] = r
        log(`${t.name}: ${key} → ${brief(r)}`)
        await sleep(1000)
      }
    }
  } finally {
    await srv.stop()
  }
  return res
}

/** The run with the median p99 (ties: the lower delivery rate); the others are kept under `repeats`. */
function medianRun (runs) {
  const ok = runs.filter((r) => !r.error)
  if (!ok.length) return runs[0]
  const sorted = [...ok].sort((a, b) => (a.latMs.p99 ?? Infinity) - (b.latMs.p99 ?? Infinity) || a.deliveredPerSec - b.deliveredPerSec)
  const m = sorted[(sorted.length - 1) >> 1]
  return { ...m, repeats: runs.map((r) => (r.error ? { error: r.error } : { deliveredPerSec: r.deliveredPerSec, lossPct: r.lossPct, publishSkipped: r.publishSkipped, latMs: r.latMs, loadavg1AtStart: r.loadavg1AtStart })) }
}

// ---------------------------------------------------------------- reporting
const k = (v) => (v == null ? 'n/a' : v >= 1e6 ? `${(v / 1e6).toFixed(2)}M` : v >= 1e3 ? `${(v / 1e3).toFixed(1)}k` : String(v))
const ms = (v) => (v == null ? 'n/a' : v < 10 ? v.toFixed(1) : Math.round(v).toLocaleString('en-US'))
function brief (r) {
  if (!r) return 'n/a'
  if (r.error) return `error: ${r.error}`
  switch (r.mode) {
    case 'idle': return `${r.kbPerStream} KB/stream (${r.subscribed}/${r.n} subscribed)`
    case 'fanout': return `${k(r.deliveredPerSec)}/s, loss ${r.lossPct}%, p50 ${ms(r.latMs.p50)} / p99 ${ms(r.latMs.p99)} / max ${ms(r.latMs.max)} ms` +
      (r.publishSkipped ? `, ${r.publishSkipped} publishes skipped` : '') + (r.aborted ? ', aborted' : '') + `, server ${r.serverCpuSec} CPU s`
    case 'replay': return `${r.runs.map((x) => (x.complete ? ms(x.lastEventMs) : `incomplete ${x.events}`)).join(', ')} ms`
    case 'storm': return `${r.subscribed}/${r.n} subscribed in ${r.allSubscribedSecs} s (headers p99 ${ms(r.headersMs.p99)} ms)`
    default: return JSON.stringify(r).slice(0, 200)
  }
}

function cell (r) {
  if (!r) return '—'
  if (r.error) return `error: ${r.error.slice(0, 60)}`
  switch (r.mode) {
    case 'idle': return `${r.kbPerStream} KB` + (r.subscribed < r.n ? ` (${r.subscribed}/${r.n})` : '')
    case 'fanout': return `${k(r.deliveredPerSec)}/s, p99 ${ms(r.latMs.p99)} ms` + (r.lossPct > 0 ? `, loss ${r.lossPct}%` : '') +
      (r.publishSkipped ? `, skipped ${Math.round(100 * r.publishSkipped / r.attempted)}%` : '')
    case 'replay': return r.allComplete ? `${r.runs.map((x) => ms(x.lastEventMs)).join(' / ')} ms` : `incomplete (${r.runs.map((x) => x.events).join('/')})`
    case 'storm': return `${r.allSubscribedSecs} s` + (r.subscribed < r.n ? ` (${r.subscribed}/${r.n} subscribed)` : '') +
      (r.dashboardCallsDuringStorm !== undefined && r.auth?.dashboardCalls ? `, ${r.dashboardCallsDuringStorm} dashboard calls / ${r.sessions} sessions` : '')
    default: return '?'
  }
}

const ROWS = [
  ['idle-10k', 'RSS per idle stream, 10,000 streams'],
  [`held-${HELD}`, `RSS per stream, ${HELD.toLocaleString('en-US')} streams held`],
  ['fanout-1k-100', '1,000 subscribers × 100 msg/s'],
  ['fanout-1k-1000', '1,000 subscribers × 1,000 msg/s'],
  ['fanout-1k-5000', '1,000 subscribers × 5,000 msg/s'],
  ['replay-10k', '10,000 missed events on reconnect'],
  ['storm-5k', '5,000 streams opened at once (sessions cached)'],
  ['storm-5k-cold', '5,000 streams opened at once (1,000 cold sessions)'],
]

/** The issue's targets, evaluated on this run's numbers (ratios against the references of the same run). */
function verdicts (byName) {
  const sc = (name, key) => byName[name]?.scenarios?.[key]
  const gwFan = byName['gateway-nats']?.scenarios?.['fanout-1k-1000'] ? 'gateway-nats' : 'gateway'
  const out = []
  const add = (target, value, ok) => out.push({ target, value, met: ok === null ? null : !!ok })
  const f1000 = sc(gwFan, 'fanout-1k-1000'); const f100 = sc(gwFan, 'fanout-1k-100')
  const b1000 = sc('node-batch', 'fanout-1k-1000'); const n1000 = sc('nchan', 'fanout-1k-1000')
  if (f1000 && !f1000.error) {
    add(`1k×1k (${gwFan}): every event delivered`, `loss ${f1000.lossPct}%, skipped ${f1000.publishSkipped}`, f1000.lossPct === 0 && f1000.publishSkipped === 0)
    const rb = b1000?.deliveredPerSec ? f1000.deliveredPerSec / b1000.deliveredPerSec : null
    add('1k×1k: delivered/s ≥ 0.8× node-batch', rb == null ? 'n/a' : `${rb.toFixed(2)}×`, rb == null ? null : rb >= 0.8)
    const rn = n1000?.deliveredPerSec ? f1000.deliveredPerSec / n1000.deliveredPerSec : null
    add('1k×1k: delivered/s ≥ 5× nchan', rn == null ? 'n/a' : `${rn.toFixed(2)}×`, rn == null ? null : rn >= 5)
    add('1k×1k: p99 ≤ 150 ms', `${ms(f1000.latMs.p99)} ms`, f1000.latMs.p99 != null && f1000.latMs.p99 <= 150)
  }
  if (f100 && !f100.error) add(`1k×100 (${gwFan}): p99 ≤ 60 ms`, `${ms(f100.latMs.p99)} ms`, f100.latMs.p99 != null && f100.latMs.p99 <= 60 && f100.lossPct === 0)
  const idle = sc('gateway', 'idle-10k'); const rawIdle = sc('node-raw', 'idle-10k')
  if (idle && !idle.error) {
    add('idle stream at 10k ≤ 12 KB', `${idle.kbPerStream} KB`, idle.kbPerStream <= 12 && idle.subscribed === idle.n)
    const r = rawIdle?.kbPerStream ? idle.kbPerStream / rawIdle.kbPerStream : null
    add('idle stream ≤ 1.5× node-raw', r == null ? 'n/a' : `${r.toFixed(2)}×`, r == null ? null : r <= 1.5)
  }
  const held = sc('gateway', `held-${HELD}`)
  if (held && !held.error) add(`${HELD} streams held (20,000 asked; fd hard limit ${FD_HARD})`, `${held.stillOpen}/${held.n} open, ${held.kbPerStream} KB`, held.stillOpen === held.n && held.n >= 20000)
  const rep = sc('gateway', 'replay-10k')
  if (rep && !rep.error) add('replay 10k from memory ≤ 100 ms', rep.allComplete ? `${ms(rep.worstMs)} ms worst` : 'incomplete', rep.allComplete && rep.worstMs <= 100)
  const repJs = sc('gateway-js', 'replay-10k')
  if (repJs && !repJs.error) add('replay 10k from JetStream ≤ 500 ms', repJs.allComplete ? `${ms(repJs.worstMs)} ms worst` : 'incomplete', repJs.allComplete && repJs.worstMs <= 500)
  const storm = sc('gateway', 'storm-5k')
  if (storm && !storm.error) {
    const authed = storm.auth?.dashboardCalls > 0
    add(`storm: 5,000 streams open within 5 s (${authed ? 'introspect auth' : 'anonymous: SSE_AUTH not wired'})`, `${storm.allSubscribedSecs} s, ${storm.subscribed}/${storm.n}`, storm.subscribed === storm.n && storm.allSubscribedSecs <= 5)
    if (authed) add('storm: at most one dashboard call per distinct cookie', `${storm.dashboardCallsDuringStorm} calls during the storm / ${storm.sessions} sessions (warmed)`, storm.dashboardCallsDuringStorm <= storm.sessions)
  }
  const cold = sc('gateway', 'storm-5k-cold')
  if (cold && !cold.error && cold.auth?.dashboardCalls > 0) {
    add('storm, cold sessions: all 5,000 open within 5 s (not an issue target; for information)', `${cold.allSubscribedSecs} s, ${cold.subscribed}/${cold.n}` +
      (Object.keys(cold.notSubscribedWhy ?? {}).length ? `; refused: ${JSON.stringify(cold.notSubscribedWhy)}` : ''), cold.subscribed === cold.n && cold.allSubscribedSecs <= 5)
    add('storm, cold sessions: one dashboard call per distinct cookie', `${cold.dashboardCallsDuringStorm} calls / ${cold.sessions} sessions`, cold.dashboardCallsDuringStorm <= cold.sessions)
  }
  return out
}

function markdown (report) {
  const cols = report.targets.filter((t) => !t.absent || true)
  const lines = []
  lines.push(`| scenario | ${cols.map((t) => t.name).join(' | ')} |`)
  lines.push(`|---|${cols.map(() => '---').join('|')}|`)
  for (const [key, title] of ROWS) {
    if (!cols.some((t) => t.scenarios[key])) continue
    lines.push(`| ${title} | ${cols.map((t) => (t.absent ? 'absent' : cell(t.scenarios[key]))).join(' | ')} |`)
  }
  lines.push('')
  const absent = cols.filter((t) => t.absent)
  for (const t of absent) lines.push(`- **${t.name}** absent: ${t.absent}`)
  if (absent.length) lines.push('')
  if (report.verdicts.length) {
    lines.push('| target (issue 6) | this run | met |', '|---|---|---|')
    for (const v of report.verdicts) lines.push(`| ${v.target} | ${v.value} | ${v.met === null ? 'n/a' : v.met ? 'yes' : '**no**'} |`)
    lines.push('')
  }
  if (report.micro?.length) {
    lines.push('| micro-benchmark | ops/s | ns/op |', '|---|---|---|')
    for (const m of report.micro) lines.push(`| ${m.name} | ${k(m.opsPerSec)} | ${m.nsPerOp} |`)
    lines.push('')
  }
  const m = report.machine
  lines.push(`${report.mode} mode, ${m.date.slice(0, 16)}Z, ${m.cpus}× ${m.cpu}, ${m.memGiB} GiB, Linux ${m.kernel}, Node ${m.node}, ` +
    `${m.nginx ?? 'no nginx'} + nchan ${m.nchan ?? 'absent'}, ${m.natsServer ?? 'no nats-server'}; ` +
    `${m.pinned ? 'server on core 0, load generator on core 1' : 'not pinned'}${m.nice ? `, nice ${m.nice}` : ''}; load average at start ${m.loadavgAtStart.join(' ')}, at end ${report.loadavgAtEnd.join(' ')}. ` +
    'Cells: delivered events/s and p99 publish→client latency (fan-out), RSS growth per stream (idle), last event of each reconnect (replay), all streams subscribed (storm).')
  return lines.join('\n')
}

async function runMicro () {
  const dir = path.join(BENCH, 'micro')
  const out = []
  for (const f of fs.readdirSync(dir).filter((x) => x.endsWith('.mjs')).sort()) {
    const r = await new Promise((resolve) => {
      const child = spawn(process.execPath, [path.join(dir, f), ...(FULL ? ['--full'] : [])], { stdio: ['ignore', 'pipe', 'inherit'], cwd: ROOT })
      let s = ''
      child.stdout.on('data', (d) => { s += d })
      child.on('close', () => { try { resolve(JSON.parse(s.trim().split('\n').pop())) } catch { resolve(null) } })
    })
    if (Array.isArray(r)) out.push(...r)
    else if (r?.skipped) log(`micro ${f}: skipped — ${r.skipped}`)
  }
  return out
}

// ---------------------------------------------------------------- main
// Measure what is in src/ now, not a stale dist/ (--no-build to skip, e.g. to measure a build copied elsewhere).
if (!flag('no-build') && fs.existsSync(path.join(ROOT, 'tsconfig.build.json'))) {
  try { execFileSync('npm', ['run', 'build', '--silent'], { cwd: ROOT, stdio: ['ignore', 'ignore', 'inherit'] }) } catch { log('npm run build failed: measuring the existing dist/ (if any)') }
}
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'sse-bench-'))
const report = { mode: MODE, command: `npm run bench${args.length ? ' -- ' + args.join(' ') : ''}`, machine: machine(), targets: [] }
if (!PIN) log('taskset or a second core is missing: server and load generator share cores')
log(`mode ${MODE}, scenarios ${SCEN.join(',')}, fd limit ${FD_LIMIT}, scratch ${tmp}`)
const hard = setTimeout(() => { log('hard time limit (40 min) reached'); process.exit(3) }, 40 * 60 * 1000)
hard.unref()
for (const t of TARGETS) {
  if (ONLY && !ONLY.includes(t.name)) continue
  if (SKIP.includes(t.name)) continue
  report.targets.push(await runTarget(t, tmp))
}
report.micro = flag('no-micro') ? [] : await runMicro()
report.loadavgAtEnd = os.loadavg().map((x) => +x.toFixed(2))
const byName = Object.fromEntries(report.targets.map((t) => [t.name, t]))
report.verdicts = verdicts(byName)
const md = markdown(report)
report.markdown = md
const outFile = opt('out', path.join(BENCH, 'results', `${report.machine.date.slice(0, 19).replaceAll(':', '-')}Z.json`))
fs.mkdirSync(path.dirname(outFile), { recursive: true })
fs.writeFileSync(outFile, JSON.stringify(report, null, 1) + '\n')
console.log(md)
// The scratch folder holds server logs and JetStream stores: kept only when asked (--keep-logs).
if (flag('keep-logs')) log(`wrote ${path.relative(process.cwd(), outFile)}; server logs in ${tmp}`)
else { fs.rmSync(tmp, { recursive: true, force: true }); log(`wrote ${path.relative(process.cwd(), outFile)} (--keep-logs keeps the server logs)`) }
