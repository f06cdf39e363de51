/**
 * The bus conformance suite: every adapter (memory, NATS core, JetStream) runs it through `runBusSuite`.
 * It states what the hub relies on: ids issued by the bus in order, exactly-once delivery across overlapping
 * interests, replay after an id, and an explicit reset for every cursor that cannot be honoured.
 */
import { afterEach, describe, expect, it } from 'vitest'
import type { Bus, BusEvent } from '../src/bus/types.js'
import { parseEventId } from '../src/bus/types.js'

export interface BusSuiteOptions {
  name: string
  /** A fresh, not yet started bus. Each call must be isolated from the others (e.g. its own stream/subject prefix). */
  create: () => Promise<Bus>
  /** Subject prefix the bus carries (JetStream: inside the stream's subjects). */
  prefix?: string
  /** How long to wait for a delivery that must happen. */
  timeoutMs?: number
}

function collector () {
  const events: BusEvent[] = []
  const waiters: Array<() => void> = []
  return {
    events,
    onEvent (ev: BusEvent) { events.push(ev); for (const w of waiters.splice(0)) w() },
    async waitFor (n: number, ms: number) {
      const deadline = Date.now() + ms
      while (events.length < n) {
        const left = deadline - Date.now()
        if (left <= 0) throw new Error(`timed out waiting for ${n} events, got ${events.length}`)
        await new Promise<void>(resolve => { waiters.push(resolve); setTimeout(resolve, left).unref() })
      }
    }
  }
}

export function runBusSuite ({ name, create, prefix = 'suite', timeoutMs = 5000 }: BusSuiteOptions): void {
  describe(`bus conformance: ${name}`, () => {
    const buses: Bus[] = []
    afterEach(async () => { await Promise.all(buses.splice(0).map(b => b.close())) })

    async function started () {
      const bus = await create()
      buses.push(bus)
      const c = collector()
      await bus.start({ onEvent: c.onEvent })
      return { bus, c }
    }

    it('delivers published events matching an interest, in order, with increasing ids from the bus', async () => {
      const { bus, c } = await started()
      bus.addInterest(`${prefix}.a.*`)
      await settle(bus)
      for (let i = 0; i < 20; i++) await bus.publish({ subject: `${prefix}.a.${i % 3}`, data: `m${i}` })
      await c.waitFor(20, timeoutMs)
      const mine = c.events.filter(e => e.subject.startsWith(`${prefix}.a.`))
      expect(mine.map(e => e.data)).toEqual(Array.from({ length: 20 }, (_, i) => `m${i}`))
      const seqs = mine.map(e => e.seq)
      for (let i = 1; i < seqs.length; i++) expect(seqs[i]).toBeGreaterThan(seqs[i - 1])
      for (const e of mine) expect(parseEventId(e.id)?.seq).toBe(e.seq)
    })

    it('delivers an event once even when it matches several interests', async () => {
      const { bus, c } = await started()
      bus.addInterest(`${prefix}.b.>`)
      bus.addInterest(`${prefix}.b.x`)
      bus.addInterest(`${prefix}.*.x`)
      await settle(bus)
      await bus.publish({ subject: `${prefix}.b.x`, data: 'one' })
      await bus.publish({ subject: `${prefix}.b.y`, data: 'two' })
      await c.waitFor(2, timeoutMs)
      await new Promise(resolve => setTimeout(resolve, 100))
      expect(c.events.map(e => e.data)).toEqual(['one', 'two'])
    })

    it('carries the event name, and drops names outside the grammar or reserved by the gateway', async () => {
      const { bus, c } = await started()
      bus.addInterest(`${prefix}.n`)
      await settle(bus)
      await bus.publish({ subject: `${prefix}.n`, data: 'x', event: 'status.changed' })
      await bus.publish({ subject: `${prefix}.n`, data: 'y', event: 'bad\nevent: admin' })
      await bus.publish({ subject: `${prefix}.n`, data: 'z', event: 'reset' })
      await c.waitFor(3, timeoutMs)
      expect(c.events[0].event).toBe('status.changed')
      expect(c.events[1].event).toBeUndefined()
      // The gateway's own event names are reserved: a publisher cannot fake a reset.
      expect(c.events[2].event).toBeUndefined()
    })

    it('replays the events after an id, filtered by topics, in order', async () => {
      const { bus, c } = await started()
      bus.addInterest(`${prefix}.r.>`)
      await settle(bus)
      const start = bus.cursor()
      for (let i = 0; i < 10; i++) await bus.publish({ subject: `${prefix}.r.${i % 2 === 0 ? 'even' : 'odd'}`, data: String(i) })
      await c.waitFor(10, timeoutMs)
      const all = await bus.replay(start, [`${prefix}.r.>`], { limit: 100 })
      expect(all.kind).toBe('events')
      if (all.kind !== 'events') return
      expect(all.events.map(e => e.data)).toEqual(['0', '1', '2', '3', '4', '5', '6', '7', '8', '9'])
      expect(all.events.map(e => e.id)).toEqual(c.events.map(e => e.id))
      const odd = await bus.replay(c.events[2].id, [`${prefix}.r.odd`], { limit: 100 })
      expect(odd.kind === 'events' && odd.events.map(e => e.data)).toEqual(['3', '5', '7', '9'])
      const none = await bus.replay(c.events[9].id, [`${prefix}.r.>`], { limit: 100 })
      expect(none.kind === 'events' && none.events.length).toBe(0)
    })

    it('answers reset for malformed, foreign-epoch, future and too-long replays, never throws', async () => {
      const { bus, c } = await started()
      bus.addInterest(`${prefix}.z`)
      await settle(bus)
      const start = bus.cursor()
      for (let i = 0; i < 5; i++) await bus.publish({ subject: `${prefix}.z`, data: String(i) })
      await c.waitFor(5, timeoutMs)
      const { epoch, seq } = parseEventId(c.events[4].id)!
      const cases: Array<[string, string]> = [
        ['garbage', 'malformed'],
        ['', 'malformed'],
        ['x'.repeat(8192), 'malformed'],
        [`${epoch}.-1`, 'malformed'],
        [`${epoch}.18446744073709551616`, 'malformed'],
        [`other0epoch.${seq}`, 'epoch'],
        [`${epoch}.${seq + 1_000_000}`, 'ahead']
      ]
      for (const [id, reason] of cases) {
        const r = await bus.replay(id, [`${prefix}.z`], { limit: 100 })
        expect({ id: id.slice(0, 40), r: r.kind === 'reset' ? r.reason : 'events' }).toEqual({ id: id.slice(0, 40), r: reason })
        if (r.kind === 'reset') expect(parseEventId(r.cursor)).toBeDefined()
      }
      const tooMany = await bus.replay(start, [`${prefix}.z`], { limit: 3 })
      expect(tooMany.kind === 'reset' && tooMany.reason).toBe('too_many')
    })

    it('reports a cursor at the newest event', async () => {
      const { bus, c } = await started()
      bus.addInterest(`${prefix}.c`)
      await settle(bus)
      await bus.publish({ subject: `${prefix}.c`, data: 'x' })
      await c.waitFor(1, timeoutMs)
      expect(bus.cursor()).toBe(c.events[0].id)
      expect(bus.health().ready).toBe(true)
    })
  })
}

/** Lets an adapter's subscription reach its server before publishing (a round trip for NATS; nothing for memory). */
async function settle (bus: Bus & { flush?: () => Promise<void> }): Promise<void> {
  if (typeof bus.flush === 'function') await bus.flush()
}
