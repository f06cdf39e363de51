/**
 * A replay larger than the per-connection queue bound is delivered whole (it is bounded by the replay limit),
 * in slices, and the stream then goes live. Regression: every replay over `maxQueueBytes` was cut off as a slow
 * consumer before its first byte (found by bench/: 10,000 missed 200-byte events against the 1 MiB default).
 */
import { afterEach, describe, expect, it } from 'vitest'
import { recordingClient, startGateway, type TestGateway } from './helpers/gateway.js'

const cleanups: Array<() => unknown> = []
afterEach(async () => { for (const c of cleanups.splice(0).reverse()) await c() })

describe('large replays', () => {
  it('delivers a replay bigger than maxQueueBytes completely, then live events', async () => {
    const g: TestGateway = await startGateway({ maxQueueBytes: 8192, history: { maxEvents: 1000, maxBytes: 64 << 20 } })
    cleanups.push(() => g.close())
    const payload = (i: number): string => `${i}:`.padEnd(1000, 'x')
    const first = (await g.publish('big', payload(0))).body.id
    // 300 frames of ~1 KB: about 37 times the queue bound, and more than one 256 KB replay slice.
    for (let i = 1; i <= 300; i++) await g.publish('big', payload(i))
    const c = recordingClient(`${g.url}/events?topic=big`, [], { headers: { 'Last-Event-ID': first } })
    cleanups.push(() => c.close())
    await c.until(() => c.received.length >= 300)
    await g.publish('big', payload(301))
    await c.until(() => c.received.length >= 301)
    expect(c.data()).toEqual(Array.from({ length: 301 }, (_, i) => payload(i + 1)))
    expect(c.errors).toEqual([])
    expect(g.app.sseGateway.stats.closed.slow ?? 0).toBe(0)
  })
})
