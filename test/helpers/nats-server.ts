/**
 * Starts real `nats-server` processes for tests: JetStream on, store in a temp folder, random loopback ports,
 * stopped or killed by PID. Every process started here is killed when the test file ends (afterAll in the
 * suites, plus a process `exit` hook as a last resort).
 *
 * No binary → the NATS suites are skipped with a loud banner; with CI=true that is a failure instead.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { accessSync, constants, mkdtempSync, rmSync } from 'node:fs'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { delimiter, join } from 'node:path'

const live = new Set<NatsServer>()
process.once('exit', () => { for (const s of live) s.killSync() })

/**
 * Path of the `nats-server` binary (PATH, then /usr/sbin, /usr/local/bin), or undefined.
 * `SSE_TEST_NATS_SERVER=<path>` picks a binary; `SSE_TEST_NATS_SERVER=none` simulates a machine without one.
 */
export function findNatsServer (): string | undefined {
  const forced = process.env.SSE_TEST_NATS_SERVER
  if (forced === 'none') return undefined
  if (forced !== undefined && forced !== '') return forced
  const dirs = [...(process.env.PATH ?? '').split(delimiter), '/usr/sbin', '/usr/local/sbin', '/usr/local/bin']
  for (const d of dirs) {
    if (d === '') continue
    const p = join(d, 'nats-server')
    try { accessSync(p, constants.X_OK); return p } catch {}
  }
  return undefined
}

const BIN = findNatsServer()

/**
 * True when the NATS suites can run. Without a binary: prints a banner (and throws under CI=true),
 * so use it as `describe.skipIf(!natsAvailable())`.
 */
export function natsAvailable (): boolean {
  if (BIN !== undefined) return true
  const msg = 'nats-server NOT FOUND on PATH or /usr/sbin: the NATS/JetStream suites are SKIPPED. ' +
    'Install it (apt-get install -y nats-server) to run them.'
  if (process.env.CI === 'true') throw new Error(`${msg} (CI=true: failing instead of skipping)`)
  console.error(`\n${'!'.repeat(100)}\n!!! ${msg}\n${'!'.repeat(100)}\n`)
  return false
}

export async function freePort (): Promise<number> {
  return await new Promise((resolve, reject) => {
    const srv = createServer()
    srv.unref()
    srv.on('error', reject)
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address()
      srv.close(() => { typeof addr === 'object' && addr !== null ? resolve(addr.port) : reject(new Error('no port')) })
    })
  })
}

export interface NatsServerOptions {
  /** Server name (JetStream needs distinct names in a cluster). */
  name?: string
  jetstream?: boolean
  cluster?: { name: string, port: number, routes: number[] }
  /** Extra command-line arguments. */
  args?: string[]
}

export class NatsServer {
  proc: ChildProcess | undefined
  readonly storeDir: string
  #stderr = ''

  private constructor (
    readonly port: number,
    readonly monitorPort: number,
    readonly opts: NatsServerOptions
  ) {
    this.storeDir = mkdtempSync(join(tmpdir(), 'sse-nats-'))
  }

  static async start (opts: NatsServerOptions = {}): Promise<NatsServer> {
    if (BIN === undefined) throw new Error('nats-server binary not found')
    const s = new NatsServer(await freePort(), await freePort(), { jetstream: true, ...opts })
    await s.#spawn()
    return s
  }

  get pid (): number | undefined { return this.proc?.pid }
  get url (): string { return `nats://127.0.0.1:${this.port}` }
  get monitorUrl (): string { return `http://127.0.0.1:${this.monitorPort}` }
  get running (): boolean { return this.proc !== undefined && this.proc.exitCode === null && this.proc.signalCode === null }

  async #spawn (): Promise<void> {
    const args = ['-a', '127.0.0.1', '-p', String(this.port), '-m', String(this.monitorPort)]
    if (this.opts.name !== undefined) args.push('-n', this.opts.name)
    if (this.opts.jetstream !== false) args.push('-js', '-sd', this.storeDir)
    if (this.opts.cluster !== undefined) {
      const c = this.opts.cluster
      args.push('--cluster_name', c.name, '--cluster', `nats://127.0.0.1:${c.port}`,
        '--routes', c.routes.map(p => `nats://127.0.0.1:${p}`).join(','))
    }
    args.push(...(this.opts.args ?? []))
    this.#stderr = ''
    const proc = spawn(BIN as string, args, { stdio: ['ignore', 'ignore', 'pipe'] })
    proc.stderr?.on('data', (b: Buffer) => { this.#stderr = (this.#stderr + b.toString()).slice(-8000) })
    this.proc = proc
    live.add(this)
    proc.once('exit', () => { if (this.proc === proc) live.delete(this) })
    await this.waitReady()
  }

  /** Polls the monitoring endpoint until the server answers (and JetStream, when enabled, is up). */
  async waitReady (timeoutMs = 15_000): Promise<void> {
    const deadline = Date.now() + timeoutMs
    while (Date.now() < deadline) {
      if (!this.running) throw new Error(`nats-server exited during start-up:\n${this.#stderr}`)
      try {
        const res = await fetch(`${this.monitorUrl}/varz`, { signal: AbortSignal.timeout(1000) })
        if (res.ok) {
          const v = await res.json() as { jetstream?: { config?: unknown } }
          if (this.opts.jetstream === false || v.jetstream?.config !== undefined) return
        }
      } catch {}
      await new Promise(resolve => setTimeout(resolve, 50))
    }
    throw new Error(`nats-server on ${this.port} not ready after ${timeoutMs} ms:\n${this.#stderr}`)
  }

  async monitor<T = any> (path: string): Promise<T> {
    const res = await fetch(`${this.monitorUrl}${path}`, { signal: AbortSignal.timeout(5000) })
    if (!res.ok) throw new Error(`GET ${path}: ${res.status}`)
    return await res.json() as T
  }

  /** Sends `signal` and waits for the process to exit. */
  async kill (signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
    const proc = this.proc
    if (proc === undefined || proc.exitCode !== null || proc.signalCode !== null) return
    const exited = new Promise<void>(resolve => proc.once('exit', () => resolve()))
    proc.kill(signal)
    const t = setTimeout(() => proc.kill('SIGKILL'), 10_000)
    await exited
    clearTimeout(t)
  }

  async stop (): Promise<void> { await this.kill('SIGTERM') }

  /** Starts again on the same ports and store directory (after stop or kill). */
  async restart (): Promise<void> {
    await this.kill('SIGTERM')
    await this.#spawn()
  }

  killSync (): void {
    try { this.proc?.kill('SIGKILL') } catch {}
  }

  /** Stops the process and removes the store directory. */
  async dispose (): Promise<void> {
    await this.kill('SIGKILL')
    live.delete(this)
    rmSync(this.storeDir, { recursive: true, force: true })
  }
}

export interface NatsCluster {
  servers: NatsServer[]
  /** Comma-separated client URLs of every node. */
  urls: string
  dispose: () => Promise<void>
}

/** Three routed JetStream servers with distinct names; resolves when each node reports JetStream up. */
export async function startCluster (size = 3, name = 'sse'): Promise<NatsCluster> {
  const clusterPorts = await Promise.all(Array.from({ length: size }, async () => await freePort()))
  const servers = await Promise.all(clusterPorts.map(async (port, i) =>
    await NatsServer.start({ name: `${name}-n${i + 1}`, cluster: { name, port, routes: clusterPorts } })))
  // Wait until the JetStream meta group has a leader, so stream creation does not race the election.
  const deadline = Date.now() + 20_000
  for (;;) {
    const jsz = await servers[0].monitor<{ meta_cluster?: { leader?: string, cluster_size?: number } }>('/jsz').catch(() => undefined)
    if (jsz?.meta_cluster?.leader !== undefined && jsz.meta_cluster.leader !== '') break
    if (Date.now() > deadline) throw new Error('JetStream cluster has no meta leader after 20 s')
    await new Promise(resolve => setTimeout(resolve, 100))
  }
  return {
    servers,
    urls: servers.map(s => s.url).join(','),
    dispose: async () => { await Promise.all(servers.map(async s => await s.dispose())) }
  }
}
