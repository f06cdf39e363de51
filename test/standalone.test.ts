/** The standalone server as a person runs it: `node dist/bin/sse-gateway.js` (built by `npm test`'s pretest). */
import { spawn, type ChildProcess } from 'node:child_process'
import { once } from 'node:events'
import { fileURLToPath } from 'node:url'
import { afterEach, describe, expect, it } from 'vitest'
import { configFromEnv } from '../src/config.js'
import { recordingClient } from './helpers/gateway.js'

const BIN = fileURLToPath(new URL('../dist/bin/sse-gateway.js', import.meta.url))
const children: ChildProcess[] = []
afterEach(() => { for (const c of children.splice(0)) c.kill('SIGKILL') })

function run (env: Record<string, string>) {
  const child = spawn(process.execPath, [BIN], { env: { PATH: process.env.PATH, ...env }, stdio: ['ignore', 'pipe', 'pipe'] })
  children.push(child)
  let out = ''
  let err = ''
  child.stdout!.on('data', d => { out += d })
  child.stderr!.on('data', d => { err += d })
  return { child, out: () => out, err: () => err }
}

describe('configuration from the environment', () => {
  it('applies the documented defaults', () => {
    const c = configFromEnv({})
    expect(c.host).toBe('127.0.0.1')
    expect(c.port).toBe(8080)
    expect(c.options.heartbeatMs).toBe(15000)
    expect(c.generatedToken).toBe(true)
  })

  const bad: Array<[Record<string, string>, string]> = [
    [{ SSE_PORT: 'eighty' }, 'SSE_PORT'],
    [{ SSE_PORT: '70000' }, 'SSE_PORT'],
    [{ SSE_HEARTBEAT_MS: '5' }, 'SSE_HEARTBEAT_MS'],
    [{ SSE_MAX_TOPICS: '0' }, 'SSE_MAX_TOPICS'],
    [{ SSE_MAX_CONNECTIONS_PER_USER: '0' }, 'SSE_MAX_CONNECTIONS_PER_USER'],
    [{ SSE_PUBLISH_TOKEN: 'short' }, 'SSE_PUBLISH_TOKEN'],
    [{ SSE_LOG_LEVEL: 'loud' }, 'SSE_LOG_LEVEL']
  ]
  for (const [env, name] of bad) {
    it(`rejects ${JSON.stringify(env)} naming ${name}`, () => {
      expect(() => configFromEnv(env)).toThrow(expect.objectContaining({ code: 'SSE_ERR_CONFIG', message: expect.stringContaining(name) }))
    })
  }
})

describe('the sse-gateway binary', () => {
  it('exits with code 2 and one line naming the variable on invalid configuration', async () => {
    const p = run({ SSE_HEARTBEAT_MS: 'soon' })
    const [code] = await once(p.child, 'exit')
    expect(code).toBe(2)
    expect(p.err().trim().split('\n')).toHaveLength(1)
    expect(p.err()).toContain('SSE_HEARTBEAT_MS')
  })

  it('runs on the embedded bus with nothing configured: prints the URL and a token, serves the demo page, relays a publish', async () => {
    const p = run({ SSE_PORT: '0', SSE_LOG_LEVEL: 'warn' })
    const deadline = Date.now() + 10_000
    while (!/publish token .*: (\S+)/.test(p.out())) {
      if (Date.now() > deadline || p.child.exitCode !== null) throw new Error(`no start-up line: ${p.out()} ${p.err()}`)
      await new Promise(resolve => setTimeout(resolve, 50))
    }
    const url = /listening on (http:\/\/\S+)/.exec(p.out())![1]
    const token = /publish token .*: (\S+)/.exec(p.out())![1]
    expect(p.out()).toContain('bus: memory')
    const page = await fetch(`${url}/`)
    expect(page.status).toBe(200)
    expect(await page.text()).toContain('events/client.js')
    const c = recordingClient(`${url}/events?topic=demo.>`)
    try {
      await c.until(() => c.opens.length > 0)
      const res = await fetch(`${url}/events/publish`, {
        method: 'POST',
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
        body: JSON.stringify({ subject: 'demo.hello', data: { msg: 'hi' } })
      })
      expect(res.status).toBe(200)
      await c.until(() => c.received.length === 1)
      expect(JSON.parse(c.received[0].data)).toEqual({ msg: 'hi' })
    } finally {
      c.close()
    }
    expect(p.out()).toContain('no authentication configured')
  })
})
