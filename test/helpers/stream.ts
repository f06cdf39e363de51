/**
 * A raw SSE stream over a real socket that stays open: what arrived, waits on content, and whether it closed.
 */
import { connect } from 'node:net'

export interface RawStream {
  /** Everything received so far (head and body). */
  text: () => string
  status: () => number | undefined
  until: (pred: (text: string) => boolean, ms?: number) => Promise<void>
  closed: Promise<number>
  /** Resolves with the time the server closed the stream; rejects after `ms`. */
  ended: (ms?: number) => Promise<number>
  close: () => void
}

export function openRaw (base: string, path: string, headers: Record<string, string> = {}): RawStream {
  const u = new URL(base)
  const s = connect(Number(u.port), u.hostname)
  let buf = ''
  s.setEncoding('utf8')
  s.on('data', (d: string) => { buf += d })
  s.on('error', () => {})
  const closed = new Promise<number>((resolve) => s.on('close', () => resolve(Date.now())))
  s.write(`GET ${path} HTTP/1.1\r\nHost: ${u.host}\r\n${Object.entries(headers).map(([k, v]) => `${k}: ${v}\r\n`).join('')}\r\n`)
  return {
    text: () => buf,
    status: () => { const m = /^HTTP\/1\.1 (\d{3})/.exec(buf); return m ? Number(m[1]) : undefined },
    async until (pred, ms = 5000) {
      const deadline = Date.now() + ms
      while (!pred(buf)) {
        if (Date.now() > deadline) throw new Error(`condition not met in ${ms} ms; received ${JSON.stringify(buf.slice(-600))}`)
        await new Promise((resolve) => setTimeout(resolve, 10))
      }
    },
    closed,
    async ended (ms = 5000) {
      let timer: NodeJS.Timeout | undefined
      const timeout = new Promise<never>((_resolve, reject) => {
        timer = setTimeout(() => reject(new Error(`stream still open after ${ms} ms; received ${JSON.stringify(buf.slice(-600))}`)), ms)
      })
      try { return await Promise.race([closed, timeout]) } finally { clearTimeout(timer) }
    },
    close: () => { s.destroy() },
  }
}
