/**
 * Hub.coalesce: connections whose queues hold the same frames in one turn share one Buffer; any difference
 * (a frame in the middle, a control frame) gets its own, with the right bytes.
 */
import { describe, expect, it } from 'vitest'
import { Hub } from '../src/hub.js'
import type { Bus } from '../src/bus/types.js'

const bus = { addInterest () {}, removeInterest () {} } as unknown as Bus

describe('Hub.coalesce', () => {
  it('shares one Buffer between identical chunk lists and never between different ones', () => {
    const hub = new Hub(bus)
    const a = Buffer.from('id: 1\ndata: a\n\n')
    const b = Buffer.from('id: 2\ndata: b\n\n')
    const c = Buffer.from('id: 3\ndata: c\n\n')
    const b2 = Buffer.from('id: 2\ndata: b\n\n') // same bytes, another frame: must not be taken for `b`
    const bytes = (list: Buffer[]): number => list.reduce((n, x) => n + x.length, 0)

    const first = hub.coalesce([a, b, c], bytes([a, b, c]))
    const second = hub.coalesce([a, b, c], bytes([a, b, c]))
    expect(second).toBe(first)
    expect(first.toString()).toBe('id: 1\ndata: a\n\nid: 2\ndata: b\n\nid: 3\ndata: c\n\n')

    const middle = hub.coalesce([a, b2, c], bytes([a, b2, c]))
    expect(middle).not.toBe(first)
    expect(middle.toString()).toBe(first.toString())

    const shorter = hub.coalesce([a, c], bytes([a, c]))
    expect(shorter.toString()).toBe('id: 1\ndata: a\n\nid: 3\ndata: c\n\n')
    const longer = hub.coalesce([a, c, b], bytes([a, c, b]))
    expect(longer.toString()).toBe('id: 1\ndata: a\n\nid: 3\ndata: c\n\nid: 2\ndata: b\n\n')
  })
})
