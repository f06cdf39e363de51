/**
 * Smoke test of the benchmark's load generator (bench/loadgen.mjs) against a real gateway: a few seconds, so a
 * change that breaks the generator or the stream format it relies on shows up in `npm test`, not at release time.
 * The benchmark itself is `npm run bench` and is not part of the test suite.
 */
import { execFile } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { afterEach, describe, expect, it } from 'vitest'
import { PUBLISH_TOKEN, startGateway } from './helpers/gateway.js'

const LOADGEN = fileURLToPath(new URL('../bench/loadgen.mjs', import.meta.url))
const cleanups: Array<() => unknown> = []
afterEach(async () => { for (const c of cleanups.splice(0).reverse()) await c() })

function loadgen (spec: Record<string, unknown>): Promise<any> {
  return new Promise((resolve, reject) => {
    execFile(process.execPath, [LOADGEN, JSON.stringify({ maxSecs: 20, ...spec })], { timeout: 25_000 }, (err, stdout, stderr) => {
      const line = stdout.trim().split('\n').pop() ?? ''
      try { resolve(JSON.parse(line)) } catch { reject(err ?? new Error(`no result from the load generator: ${stderr.slice(-500)}`)) }
    })
  })
}

describe('bench load generator against the gateway', () => {
  it('fans out at a fixed rate with no loss and measures latency; replays after Last-Event-ID', async () => {
    const g = await startGateway({ history: { maxEvents: 1000, maxBytes: 16 << 20 } })
    cleanups.push(() => g.close())
    const target = {
      port: Number(new URL(g.url).port),
      pid: process.pid,
      sub: { path: '/events?topic=bench.{ch}' },
      pub: { kind: 'http', path: '/events/publish', json: true, subject: 'bench.{ch}', headers: `Authorization: Bearer ${PUBLISH_TOKEN}\r\n` }
    }
    const fan = await loadgen({ ...target, mode: 'fanout', n: 20, rate: 50, secs: 1 })
    expect(fan.error).toBeUndefined()
    expect(fan.subscribed).toBe(20)
    expect(fan.published).toBe(50)
    expect(fan.received).toBe(20 * 50)
    expect(fan.lossPct).toBe(0)
    expect(fan.latMs.p99).toBeGreaterThan(0)
    expect(fan.latMs.p99).toBeLessThan(5000)

    const rep = await loadgen({ ...target, mode: 'replay', count: 300, reps: 1 })
    expect(rep.error).toBeUndefined()
    expect(rep.allComplete).toBe(true)
    expect(rep.runs[0].events).toBe(300)
  })
})
