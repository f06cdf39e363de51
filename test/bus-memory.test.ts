import { describe, expect, it } from 'vitest'
import { MemoryBus } from '../src/bus/memory.js'
import { runBusSuite } from './bus.case.js'

runBusSuite({ name: 'memory', create: async () => new MemoryBus({ history: { maxEvents: 1000, maxBytes: 1 << 20 } }) })

describe('memory bus history bounds', () => {
  it('resets a cursor whose events were evicted by count', async () => {
    const bus = new MemoryBus({ history: { maxEvents: 3, maxBytes: 1 << 20 } })
    await bus.start({ onEvent () {} })
    const first = (await bus.publish({ subject: 'a', data: '1' })).id!
    for (let i = 0; i < 5; i++) await bus.publish({ subject: 'a', data: String(i) })
    const r = await bus.replay(first, ['a'], { limit: 100 })
    expect(r.kind === 'reset' && r.reason).toBe('truncated')
  })

  it('bounds history by bytes', async () => {
    const bus = new MemoryBus({ history: { maxEvents: 1000, maxBytes: 2000 } })
    await bus.start({ onEvent () {} })
    const ids: string[] = []
    for (let i = 0; i < 50; i++) ids.push((await bus.publish({ subject: 'a', data: 'x'.repeat(100) })).id!)
    const r = await bus.replay(ids[0], ['a'], { limit: 1000 })
    expect(r.kind === 'reset' && r.reason).toBe('truncated')
    const recent = await bus.replay(ids[45], ['a'], { limit: 1000 })
    expect(recent.kind === 'events' && recent.events.length).toBe(4)
  })

  it('uses a new epoch per instance, so a restart resets old cursors', async () => {
    const a = new MemoryBus({ history: { maxEvents: 10, maxBytes: 1 << 20 } })
    const b = new MemoryBus({ history: { maxEvents: 10, maxBytes: 1 << 20 } })
    await a.start({ onEvent () {} }); await b.start({ onEvent () {} })
    const id = (await a.publish({ subject: 'a', data: '1' })).id!
    const r = await b.replay(id, ['a'], { limit: 10 })
    expect(r.kind === 'reset' && r.reason).toBe('epoch')
  })
})
