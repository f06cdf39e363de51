/** GET /events/client.js: the browser client served with a JavaScript type, revalidation and a stable path. */
import { readFileSync } from 'node:fs'
import { afterEach, describe, expect, it } from 'vitest'
import Fastify, { type FastifyInstance } from 'fastify'
import { request } from 'undici'
import { sseGatewayPlugin } from '../plugins/gateway.js'
import { clientSourcePath } from '../plugins/client.js'

let app: FastifyInstance | undefined
afterEach(async () => { await app?.close(); app = undefined })

describe('GET /events/client.js', () => {
  it('serves client/index.js as a cacheable, revalidatable JavaScript module', async () => {
    app = Fastify()
    await app.register(sseGatewayPlugin, {})
    const base = await app.listen({ host: '127.0.0.1', port: 0 })
    const res = await request(`${base}/events/client.js`)
    expect(res.statusCode).toBe(200)
    expect(res.headers['content-type']).toBe('text/javascript; charset=utf-8')
    expect(res.headers['cache-control']).toBe('public, max-age=300')
    expect(res.headers['x-content-type-options']).toBe('nosniff')
    const etag = res.headers.etag as string
    expect(etag).toMatch(/^"[A-Za-z0-9_-]{27}"$/)
    const body = await res.body.text()
    expect(body).toBe(readFileSync(clientSourcePath(), 'utf8'))
    expect(body).toContain('export function subscribe')
    // A few KB: the whole point is that every dashboard page can afford it.
    expect(Buffer.byteLength(body)).toBeLessThan(16 * 1024)

    const again = await request(`${base}/events/client.js`, { headers: { 'if-none-match': etag } })
    expect(again.statusCode).toBe(304)
    expect(await again.body.text()).toBe('')
    const stale = await request(`${base}/events/client.js`, { headers: { 'if-none-match': '"other"' } })
    expect(stale.statusCode).toBe(200)
    await stale.body.dump()
  })

  it('honours maxAgeS and can be turned off', async () => {
    app = Fastify()
    await app.register(sseGatewayPlugin, { client: { maxAgeS: 0 } })
    const base = await app.listen({ host: '127.0.0.1', port: 0 })
    const res = await request(`${base}/events/client.js`)
    expect(res.headers['cache-control']).toBe('public, max-age=0')
    await res.body.dump()
    await app.close()

    app = Fastify()
    await app.register(sseGatewayPlugin, { client: false })
    const base2 = await app.listen({ host: '127.0.0.1', port: 0 })
    const off = await request(`${base2}/events/client.js`)
    expect(off.statusCode).toBe(404)
    await off.body.dump()
  })
})
