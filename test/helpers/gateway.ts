/**
 * Test helpers: a real gateway on a real socket (`listen({ port: 0 })`), and an SSE client that records what it got.
 */
import Fastify, { type FastifyInstance } from 'fastify'
import { EventSource } from 'eventsource'
import { sseGatewayPlugin, type SseGatewayOptions } from '../../plugins/gateway.js'

export const PUBLISH_TOKEN = 'test-publish-token-0123456789'

export interface TestGateway {
  app: FastifyInstance
  url: string
  publish (subject: string, data: unknown, event?: string): Promise<{ status: number, body: any }>
  close (): Promise<void>
}

export async function startGateway (opts: Partial<SseGatewayOptions> = {}): Promise<TestGateway> {
  const app = Fastify({ logger: false })
  await app.register(sseGatewayPlugin, { publishToken: PUBLISH_TOKEN, retryMs: 50, ...opts })
  const address = await app.listen({ host: '127.0.0.1', port: 0 })
  return {
    app,
    url: address,
    async publish (subject, data, event) {
      const res = await fetch(`${address}/events/publish`, {
        method: 'POST',
        headers: { authorization: `Bearer ${PUBLISH_TOKEN}`, 'content-type': 'application/json' },
        body: JSON.stringify({ subject, data, ...(event !== undefined ? { event } : {}) })
      })
      return { status: res.status, body: await res.json() }
    },
    async close () { await app.close() }
  }
}

export interface Received { id: string, type: string, data: string }

/** A WHATWG-compliant EventSource (the `eventsource` package) that records every event, with waits. */
export function recordingClient (url: string, types: string[] = [], init?: { headers?: Record<string, string> }) {
  const received: Received[] = []
  const opens: number[] = []
  const errors: number[] = []
  const fetchWithHeaders: typeof fetch = async (input, reqInit) =>
    await fetch(input, { ...reqInit, headers: { ...(reqInit?.headers as Record<string, string>), ...(init?.headers ?? {}) } })
  const es = new EventSource(url, { fetch: fetchWithHeaders })
  const record = (e: MessageEvent): void => { received.push({ id: e.lastEventId, type: e.type, data: e.data }) }
  es.onmessage = record
  for (const t of types) es.addEventListener(t, record)
  es.onopen = () => { opens.push(Date.now()) }
  es.onerror = () => { errors.push(Date.now()) }
  return {
    es,
    received,
    opens,
    errors,
    data: () => received.filter(r => r.type === 'message').map(r => r.data),
    async until (pred: () => boolean, ms = 5000): Promise<void> {
      const deadline = Date.now() + ms
      while (!pred()) {
        if (Date.now() > deadline) throw new Error(`condition not met in ${ms} ms; received ${JSON.stringify(received).slice(0, 500)}`)
        await new Promise(resolve => setTimeout(resolve, 10))
      }
    },
    close () { es.close() }
  }
}

/** Reads a raw HTTP response head and the first bytes of its body from a real socket. */
export async function rawGet (url: string, path: string, headers: Record<string, string> = {}, waitMs = 300): Promise<string> {
  const { connect } = await import('node:net')
  const u = new URL(url)
  return await new Promise((resolve, reject) => {
    const s = connect(Number(u.port), u.hostname)
    let buf = ''
    s.setEncoding('utf8')
    s.on('data', d => { buf += d })
    s.on('error', reject)
    s.on('close', () => resolve(buf))
    s.write(`GET ${path} HTTP/1.1\r\nHost: ${u.host}\r\n${Object.entries(headers).map(([k, v]) => `${k}: ${v}\r\n`).join('')}\r\n`)
    setTimeout(() => { s.destroy(); resolve(buf) }, waitMs)
  })
}
