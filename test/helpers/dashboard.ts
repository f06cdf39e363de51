/**
 * A stand-in dashboard for the introspection strategy: a real Fastify app on a loopback port that knows a few
 * sessions, counts its requests, and can be switched into failure modes.
 */
import Fastify, { type FastifyInstance } from 'fastify'

export type DashboardMode = 'ok' | 'slow' | 'fail' | 'garbage' | 'huge' | 'down-401' | 'bad-shape'

export interface Dashboard {
  url: string
  app: FastifyInstance
  /** Requests seen by the introspection endpoint. */
  calls: number
  /** Cookie headers received, in order. */
  cookies: string[]
  mode: DashboardMode
  /** Delay used by `slow` mode and added to every answer (ms). */
  delayMs: number
  sessions: Map<string, { user: string, subjects?: string[], expiresIn?: number }>
  close: () => Promise<void>
}

export async function startDashboard (): Promise<Dashboard> {
  const app = Fastify({ logger: false })
  const d: Dashboard = {
    url: '',
    app,
    calls: 0,
    cookies: [],
    mode: 'ok',
    delayMs: 0,
    sessions: new Map(),
    close: async () => { await app.close() },
  }
  app.get('/auth/introspect', async (req, reply) => {
    d.calls++
    d.cookies.push(req.headers.cookie ?? '')
    const delay = d.mode === 'slow' ? Math.max(d.delayMs, 3000) : d.delayMs
    if (delay > 0) await new Promise((resolve) => setTimeout(resolve, delay))
    switch (d.mode) {
      case 'fail': return reply.code(502).send({ error: 'bad gateway' })
      case 'garbage': return reply.type('application/json').send('<html>oops')
      case 'huge': return reply.type('application/json').send(JSON.stringify({ user: 'x', pad: 'y'.repeat(1_000_000) }))
      case 'bad-shape': return reply.send({ user: 42 })
      case 'down-401': return reply.code(401).send({})
    }
    const m = /(?:^|;\s*)sessionid=([^;]*)/.exec(req.headers.cookie ?? '')
    const s = m ? d.sessions.get(m[1]) : undefined
    if (!s) return reply.code(401).send({ error: 'no session' })
    return s
  })
  await app.listen({ port: 0, host: '127.0.0.1' })
  const addr = app.server.address()
  if (addr === null || typeof addr === 'string') throw new Error('no address')
  d.url = `http://127.0.0.1:${addr.port}/auth/introspect`
  return d
}
