/**
 * The standalone server as a child process (`node dist/bin/sse-gateway.js`, built by `npm test`'s pretest), for
 * tests that measure its RSS via /proc, send it signals, or read its logs. Killed by PID when the test ends.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { connect, type Socket } from 'node:net'
import { fileURLToPath } from 'node:url'
import { createParser, type EventSourceMessage } from 'eventsource-parser'

const BIN = fileURLToPath(new URL('../../dist/bin/sse-gateway.js', import.meta.url))
export const CHILD_TOKEN = 'child-publish-token-0123456789'

const live = new Set<ChildProcess>()
process.once('exit', () => { for (const c of live) { try { c.kill('SIGKILL') } catch {} } })

export interface ChildGateway {
  child: ChildProcess
  url: string
  port: number
  /** Everything the process wrote to stdout (pino JSON lines) and stderr so far. */
  out: () => string
  err: () => string
  exited: Promise<{ code: number | null, signal: NodeJS.Signals | null, at: number }>
  rssBytes: () => number
  metric: (line: string) => Promise<number>
  publish: (subject: string, data: unknown) => Promise<number>
  kill: () => void
}

export async function startChildGateway (env: Record<string, string> = {}): Promise<ChildGateway> {
  const child = spawn(process.execPath, [BIN], {
    env: { PATH: process.env.PATH, SSE_PORT: '0', SSE_PUBLISH_TOKEN: CHILD_TOKEN, SSE_LOG_LEVEL: 'warn', ...env },
    stdio: ['ignore', 'pipe', 'pipe']
  })
  live.add(child)
  let out = ''
  let err = ''
  child.stdout!.setEncoding('utf8').on('data', d => { out += d })
  child.stderr!.setEncoding('utf8').on('data', d => { err += d })
  const exited = new Promise<{ code: number | null, signal: NodeJS.Signals | null, at: number }>(resolve => {
    child.once('exit', (code, signal) => { live.delete(child); resolve({ code, signal, at: Date.now() }) })
  })
  const deadline = Date.now() + 15_000
  while (!/listening on (http:\/\/\S+)/.test(out)) {
    if (Date.now() > deadline || child.exitCode !== null) throw new Error(`gateway did not start: ${out} ${err}`)
    await new Promise(resolve => setTimeout(resolve, 20))
  }
  const url = /listening on (http:\/\/\S+)/.exec(out)![1]
  return {
    child,
    url,
    port: Number(new URL(url).port),
    out: () => out,
    err: () => err,
    exited,
    rssBytes: () => Number(/VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${child.pid!}/status`, 'utf8'))![1]) * 1024,
    async metric (line) {
      const text = await (await fetch(`${url}/metrics`)).text()
      const found = text.split('\n').find(l => l.startsWith(line + ' '))
      if (found === undefined) throw new Error(`metric ${line} not found`)
      return Number(found.slice(line.length + 1))
    },
    async publish (subject, data) {
      const res = await fetch(`${url}/events/publish`, {
        method: 'POST',
        headers: { authorization: `Bearer ${CHILD_TOKEN}`, 'content-type': 'application/json' },
        body: JSON.stringify({ subject, data })
      })
      await res.arrayBuffer()
      return res.status
    },
    kill () { try { child.kill('SIGKILL') } catch {} }
  }
}

/** A raw SSE client on its own socket: records the response head, parsed events, retry: values, and how it ended. */
export interface RawStream {
  socket: Socket
  head: string
  events: EventSourceMessage[]
  retries: number[]
  /** 'end' = the server closed cleanly (FIN), 'error' = reset, undefined = still open. */
  ended?: 'end' | 'error'
  endedAt?: number
  bytes: number
}

export function rawStream (port: number, path: string, opts: { paused?: boolean, headers?: Record<string, string>, onEvent?: (e: EventSourceMessage) => void } = {}): RawStream {
  const socket = connect(port, '127.0.0.1')
  const st: RawStream = { socket, head: '', events: [], retries: [], bytes: 0 }
  const parser = createParser({
    onEvent: e => { st.events.push(e); opts.onEvent?.(e) },
    onRetry: r => { st.retries.push(r) }
  })
  let inHead = true
  let buf = ''
  socket.setEncoding('utf8')
  socket.on('data', (d: string) => {
    st.bytes += d.length
    if (inHead) {
      buf += d
      const i = buf.indexOf('\r\n\r\n')
      if (i < 0) return
      st.head = buf.slice(0, i)
      inHead = false
      d = buf.slice(i + 4)
      buf = ''
    }
    parser.feed(d)
  })
  socket.on('end', () => { st.ended ??= 'end'; st.endedAt ??= Date.now() })
  socket.on('error', () => { st.ended ??= 'error'; st.endedAt ??= Date.now() })
  socket.on('close', () => { st.ended ??= 'end'; st.endedAt ??= Date.now() })
  const extra = Object.entries(opts.headers ?? {}).map(([k, v]) => `${k}: ${v}\r\n`).join('')
  socket.write(`GET ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\n${extra}\r\n`)
  if (opts.paused === true) socket.pause()
  return st
}

export async function until (cond: () => boolean | Promise<boolean>, ms: number, what: string): Promise<void> {
  const deadline = Date.now() + ms
  while (!(await cond())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}`)
    await new Promise(resolve => setTimeout(resolve, 20))
  }
}

export function percentile (values: number[], p: number): number {
  if (values.length === 0) return NaN
  const sorted = [...values].sort((a, b) => a - b)
  return sorted[Math.min(sorted.length - 1, Math.floor(p / 100 * sorted.length))]
}
