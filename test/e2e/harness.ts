/**
 * End-to-end harness: real nginx, real Chromium (playwright-core), real gateway processes, real nats-server.
 * Every process is started on random loopback ports with its own temporary directory and stopped by PID.
 *
 * A missing binary is reported loudly; under CI=true it is a failure (the suite must not silently pass).
 */
import { spawn, execFileSync, type ChildProcess } from 'node:child_process'
import { existsSync, mkdtempSync, mkdirSync, rmSync, writeFileSync, readFileSync } from 'node:fs'
import { connect } from 'node:net'
import { freePort } from '../helpers/nats-server.js'

export { freePort }
import { tmpdir } from 'node:os'
import { join, dirname } from 'node:path'
import { fileURLToPath } from 'node:url'
import { createHash, X509Certificate } from 'node:crypto'

export const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..')

/**
 * Returns the first existing executable among `candidates`, or undefined (after a loud warning).
 * Under CI=true a missing dependency throws, so CI fails instead of skipping.
 */
export function needBinary (what: string, candidates: string[], install: string): string | undefined {
  for (const c of candidates) if (existsSync(c)) return c
  const msg = `\n${'!'.repeat(78)}\n!! ${what} NOT FOUND (looked in ${candidates.join(', ')}).\n!! These end-to-end tests are SKIPPED. Install it with: ${install}\n${'!'.repeat(78)}\n`
  if (process.env.CI === 'true') throw new Error(msg)
  console.warn(msg)
  return undefined
}

export const NGINX = needBinary('nginx', ['/usr/sbin/nginx', '/usr/bin/nginx', '/usr/local/sbin/nginx'], 'apt-get install -y nginx')
export const CHROMIUM = needBinary('chromium', ['/usr/bin/chromium', '/usr/bin/chromium-browser'], 'apt-get install -y chromium')
export const NATS_SERVER = needBinary('nats-server', ['/usr/sbin/nats-server', '/usr/bin/nats-server', '/usr/local/bin/nats-server'], 'apt-get install -y nats-server')
export const GATEWAY_BIN = join(ROOT, 'dist', 'bin', 'sse-gateway.js')

export function tempDir (prefix: string): string {
  const dir = mkdtempSync(join(tmpdir(), `sse-e2e-${prefix}-`))
  return dir
}


export async function waitForPort (port: number, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const ok = await new Promise<boolean>((resolve) => {
      const s = connect(port, '127.0.0.1')
      s.once('connect', () => { s.destroy(); resolve(true) })
      s.once('error', () => resolve(false))
    })
    if (ok) return
    if (Date.now() > deadline) throw new Error(`nothing listening on 127.0.0.1:${port} after ${timeoutMs} ms`)
    await sleep(50)
  }
}

export const sleep = async (ms: number): Promise<void> => await new Promise((resolve) => setTimeout(resolve, ms))

/** Polls `check` every 25 ms until it returns a truthy value or `timeoutMs` passes. */
export async function until<T> (what: string, check: () => T | Promise<T>, timeoutMs = 10_000): Promise<T> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const v = await check()
    if (v) return v
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`)
    await sleep(25)
  }
}

interface Proc { child: ChildProcess, output: () => string }

function startProcess (cmd: string, args: string[], env: NodeJS.ProcessEnv, cwd?: string): Proc {
  const child = spawn(cmd, args, { env, cwd, stdio: ['ignore', 'pipe', 'pipe'] })
  let out = ''
  const keep = (b: Buffer): void => { out = (out + b.toString()).slice(-20_000) }
  child.stdout?.on('data', keep)
  child.stderr?.on('data', keep)
  return { child, output: () => out }
}

async function stopProcess (child: ChildProcess, signal: NodeJS.Signals = 'SIGTERM', graceMs = 3000): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()))
  child.kill(signal)
  const timer = setTimeout(() => child.kill('SIGKILL'), graceMs)
  await exited
  clearTimeout(timer)
}

// ---------------------------------------------------------------- nginx

export interface NginxOptions {
  /** The `server { … }` blocks (and anything else for the http context); `{{dir}}` expands to the prefix. */
  servers: string
}

export interface Nginx {
  dir: string
  stop: () => Promise<void>
  accessLog: () => string
  errorLog: () => string
}

/** Runs Debian's nginx in the foreground with a private prefix, config, logs and temp paths. */
export async function startNginx (opts: NginxOptions, ports: number[]): Promise<Nginx> {
  if (NGINX === undefined) throw new Error('nginx missing')
  const dir = tempDir('nginx')
  for (const d of ['body', 'proxy', 'fastcgi', 'uwsgi', 'scgi']) mkdirSync(join(dir, d))
  const runAsRoot = process.getuid?.() === 0
  const conf = `
daemon off;
${runAsRoot ? 'user root;' : ''}
worker_processes 1;
pid ${dir}/nginx.pid;
error_log ${dir}/error.log info;
events { worker_connections 1024; }
http {
  log_format e2e '$connection $connection_requests $server_protocol "$request" $status $body_bytes_sent';
  access_log ${dir}/access.log e2e;
  client_body_temp_path ${dir}/body;
  proxy_temp_path ${dir}/proxy;
  fastcgi_temp_path ${dir}/fastcgi;
  uwsgi_temp_path ${dir}/uwsgi;
  scgi_temp_path ${dir}/scgi;
${opts.servers.replaceAll('{{dir}}', dir)}
}
`
  writeFileSync(join(dir, 'nginx.conf'), conf)
  const proc = startProcess(NGINX, ['-p', dir, '-c', join(dir, 'nginx.conf'), '-e', join(dir, 'error.log')], process.env)
  const read = (f: string): string => { try { return readFileSync(join(dir, f), 'utf8') } catch { return '' } }
  try {
    await Promise.race([
      Promise.all(ports.map(async (p) => await waitForPort(p))),
      new Promise((_resolve, reject) => proc.child.once('exit', (code) => reject(new Error(`nginx exited (${code}): ${proc.output()} ${read('error.log')}`)))),
    ])
  } catch (err) {
    await stopProcess(proc.child)
    throw err
  }
  return {
    dir,
    accessLog: () => read('access.log'),
    errorLog: () => read('error.log'),
    stop: async () => {
      // SIGQUIT is nginx's graceful stop, which would wait for open SSE streams; SIGTERM is the fast one.
      await stopProcess(proc.child, 'SIGTERM')
      rmSync(dir, { recursive: true, force: true })
    },
  }
}

/** A self-signed certificate for 127.0.0.1/localhost, made with openssl; returns paths and the SPKI hash Chromium can pin. */
export function makeCertificate (dir: string): { cert: string, key: string, spki: string } {
  const cert = join(dir, 'cert.pem')
  const key = join(dir, 'key.pem')
  execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', key, '-out', cert, '-days', '1',
    '-subj', '/CN=localhost', '-addext', 'subjectAltName=DNS:localhost,IP:127.0.0.1'], { stdio: 'ignore' })
  const x509 = new X509Certificate(readFileSync(cert))
  const der = x509.publicKey.export({ type: 'spki', format: 'der' })
  const spki = createHash('sha256').update(der).digest('base64')
  return { cert, key, spki }
}

// ---------------------------------------------------------------- gateway

export interface Gateway {
  port: number
  url: string
  token: string
  proc: Proc
  /** SIGKILL: no graceful close, as a crash. */
  kill: () => Promise<void>
  stop: () => Promise<void>
  publish: (subject: string, data: unknown, event?: string) => Promise<{ id?: string }>
}

/** Starts `node dist/bin/sse-gateway.js` (built by `npm test`'s pretest) with the given SSE_* environment. */
export async function startGateway (env: Record<string, string> = {}, port?: number): Promise<Gateway> {
  if (!existsSync(GATEWAY_BIN)) throw new Error(`${GATEWAY_BIN} is missing: run npm run build (npm test does it in pretest)`)
  port ??= await freePort()
  const token = env.SSE_PUBLISH_TOKEN ?? 'e2e-publish-token'
  const proc = startProcess(process.execPath, [GATEWAY_BIN], {
    PATH: process.env.PATH,
    NODE_ENV: 'test',
    SSE_HOST: '127.0.0.1',
    SSE_PORT: String(port),
    SSE_PUBLISH_TOKEN: token,
    ...env,
  }, ROOT)
  try {
    await Promise.race([
      waitForPort(port, 15_000),
      new Promise((_resolve, reject) => proc.child.once('exit', (code) => reject(new Error(`gateway exited (${code}): ${proc.output()}`)))),
    ])
  } catch (err) {
    await stopProcess(proc.child, 'SIGKILL')
    throw err
  }
  const url = `http://127.0.0.1:${port}`
  return {
    port,
    url,
    token,
    proc,
    kill: async () => { await stopProcess(proc.child, 'SIGKILL') },
    stop: async () => { await stopProcess(proc.child, 'SIGTERM', 5000) },
    publish: async (subject, data, event) => {
      const res = await fetch(`${url}/events/publish`, {
        method: 'POST',
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
        body: JSON.stringify({ subject, data, ...(event !== undefined ? { event } : {}) }),
      })
      const body = await res.json() as { id?: string }
      if (res.status >= 300) throw new Error(`publish ${subject} → ${res.status} ${JSON.stringify(body)}`)
      return body
    },
  }
}

// ---------------------------------------------------------------- nats-server

export interface NatsServer { port: number, url: string, dir: string, kill: () => Promise<void>, stop: () => Promise<void> }

export async function startNats (opts: { jetstream?: boolean, dir?: string, port?: number } = {}): Promise<NatsServer> {
  if (NATS_SERVER === undefined) throw new Error('nats-server missing')
  const port = opts.port ?? await freePort()
  const dir = opts.dir ?? tempDir('nats')
  const args = ['-a', '127.0.0.1', '-p', String(port)]
  if (opts.jetstream !== false) args.push('-js', '-sd', dir)
  const proc = startProcess(NATS_SERVER, args, process.env)
  try {
    await Promise.race([
      waitForPort(port),
      new Promise((_resolve, reject) => proc.child.once('exit', (code) => reject(new Error(`nats-server exited (${code}): ${proc.output()}`)))),
    ])
  } catch (err) {
    await stopProcess(proc.child, 'SIGKILL')
    throw err
  }
  return {
    port,
    url: `nats://127.0.0.1:${port}`,
    dir,
    kill: async () => { await stopProcess(proc.child, 'SIGKILL') },
    stop: async () => { await stopProcess(proc.child); rmSync(dir, { recursive: true, force: true }) },
  }
}

// ---------------------------------------------------------------- chromium

/** Flags documented in DEVELOPERS.md; the background-networking ones keep Chromium off the (closed) network. */
export const CHROMIUM_FLAGS = [
  '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync',
]

export async function launchChromium (extraArgs: string[] = [], contextOptions: Record<string, unknown> = {}): Promise<{
  context: import('playwright-core').BrowserContext
  close: () => Promise<void>
}> {
  if (CHROMIUM === undefined) throw new Error('chromium missing')
  const { chromium } = await import('playwright-core')
  const profile = tempDir('chromium')
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    args: [...CHROMIUM_FLAGS, ...extraArgs],
    ...contextOptions,
  })
  return {
    context,
    close: async () => {
      await context.close().catch(() => {})
      rmSync(profile, { recursive: true, force: true })
    },
  }
}

// ---------------------------------------------------------------- a raw SSE reader (Node side)

export interface StreamReader {
  status: number
  headers: Record<string, string | string[] | undefined>
  events: Array<{ id?: string, event?: string, data: string, at: number }>
  comments: number
  /** Set when the response ended or the socket failed. */
  ended: { at: number, error?: string } | undefined
  close: () => void
}

/** Opens `url` (http or https) and parses the SSE body with eventsource-parser, timestamping each event on arrival. */
export async function openStream (url: string, headers: Record<string, string> = {}): Promise<StreamReader> {
  const { createParser } = await import('eventsource-parser')
  const mod = url.startsWith('https:') ? await import('node:https') : await import('node:http')
  return await new Promise((resolve, reject) => {
    const req = mod.get(url, { headers: { accept: 'text/event-stream', ...headers }, agent: false, rejectUnauthorized: false }, (res) => {
      const reader: StreamReader = {
        status: res.statusCode ?? 0,
        headers: res.headers,
        events: [],
        comments: 0,
        ended: undefined,
        close: () => { req.destroy() },
      }
      const parser = createParser({
        onEvent: (e) => { reader.events.push({ id: e.id, event: e.event, data: e.data, at: performance.now() }) },
        onComment: () => { reader.comments++ },
      })
      res.setEncoding('utf8')
      res.on('data', (chunk: string) => parser.feed(chunk))
      res.on('end', () => { reader.ended ??= { at: performance.now() } })
      res.on('error', (err) => { reader.ended ??= { at: performance.now(), error: err.message } })
      res.on('close', () => { reader.ended ??= { at: performance.now(), error: 'closed' } })
      resolve(reader)
    })
    req.on('error', reject)
  })
}

// ---------------------------------------------------------------- the dashboard stand-in

export interface Dashboard {
  port: number
  /** Sessions known to the dashboard: session id → user. Logout deletes one. */
  sessions: Map<string, string>
  introspections: () => number
  stop: () => Promise<void>
}

/**
 * A minimal "existing dashboard": serves pages, logs users in with a `sessionid` cookie, logs them out, and answers
 * the gateway's introspection calls (`GET /introspect` with the forwarded cookie).
 */
export async function startDashboard (pages: Record<string, string>, subjectsFor: (user: string) => string[] = () => []): Promise<Dashboard> {
  const { createServer: createHttpServer } = await import('node:http')
  const { randomBytes } = await import('node:crypto')
  const sessions = new Map<string, string>()
  let introspections = 0
  const cookieOf = (h: string | undefined): string | undefined => /(?:^|;\s*)sessionid=([^;]+)/.exec(h ?? '')?.[1]
  const server = createHttpServer((req, res) => {
    const u = new URL(req.url ?? '/', 'http://x')
    if (u.pathname === '/login') {
      const id = randomBytes(16).toString('hex')
      const user = u.searchParams.get('user') ?? 'alice'
      sessions.set(id, user)
      res.writeHead(200, { 'set-cookie': `sessionid=${id}; Path=/; HttpOnly; SameSite=Lax`, 'content-type': 'application/json' })
      res.end(JSON.stringify({ user }))
      return
    }
    if (u.pathname === '/logout') {
      const id = cookieOf(req.headers.cookie)
      if (id !== undefined) sessions.delete(id)
      res.writeHead(200, { 'set-cookie': 'sessionid=; Path=/; Max-Age=0', 'content-type': 'application/json' })
      res.end('{}')
      return
    }
    if (u.pathname === '/introspect') {
      introspections++
      const user = sessions.get(cookieOf(req.headers.cookie) ?? '')
      if (user === undefined) { res.writeHead(401).end(); return }
      res.writeHead(200, { 'content-type': 'application/json' })
      res.end(JSON.stringify({ user, subjects: subjectsFor(user) }))
      return
    }
    const page = pages[u.pathname]
    if (page === undefined) { res.writeHead(404).end(); return }
    res.writeHead(200, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store' })
    res.end(page)
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const port = (server.address() as { port: number }).port
  return {
    port,
    sessions,
    introspections: () => introspections,
    stop: async () => { server.closeAllConnections(); await new Promise((resolve) => server.close(resolve)) },
  }
}

export function stats (xs: number[]): { n: number, median: number, p95: number, max: number } {
  const s = [...xs].sort((a, b) => a - b)
  const q = (p: number): number => s[Math.min(s.length - 1, Math.floor(p * s.length))]
  return { n: s.length, median: round(q(0.5)), p95: round(q(0.95)), max: round(s[s.length - 1]) }
}

const round = (x: number): number => Math.round(x * 10) / 10
