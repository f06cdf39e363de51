import { describe, expect, it } from 'vitest'
import { Hub, type Subscriber } from '../src/hub.js'
import { MemoryBus } from '../src/bus/memory.js'
import { SubjectTrie } from '../src/subject-trie.js'
import { matchSubject } from '../src/subject.js'
import type { BusEvent } from '../src/bus/types.js'

function sub (...topics: string[]): Subscriber & { got: string[] } {
  const got: string[] = []
  return { topics, stamp: 0, got, deliver (ev: BusEvent) { got.push(ev.subject) } }
}

class CountingBus extends MemoryBus {
  interests = new Map<string, number>()
  override addInterest (p: string): void { this.interests.set(p, (this.interests.get(p) ?? 0) + 1) }
  override removeInterest (p: string): void { this.interests.set(p, (this.interests.get(p) ?? 0) - 1) }
}

describe('hub subject index', () => {
  it('declares one upstream interest per distinct pattern, released when the last subscriber leaves', () => {
    const bus = new CountingBus({ history: { maxEvents: 10, maxBytes: 1e6 } })
    const hub = new Hub(bus)
    const subs = Array.from({ length: 1000 }, () => sub('same.topic', 'user.*.x'))
    for (const s of subs) hub.add(s)
    expect(Object.fromEntries(bus.interests)).toEqual({ 'same.topic': 1, 'user.*.x': 1 })
    for (const s of subs.slice(0, 999)) hub.remove(s)
    expect(Object.fromEntries(bus.interests)).toEqual({ 'same.topic': 1, 'user.*.x': 1 })
    hub.remove(subs[999])
    expect(Object.fromEntries(bus.interests)).toEqual({ 'same.topic': 0, 'user.*.x': 0 })
  })

  it('delivers each event once per subscriber, to exactly the subscribers whose topics match', () => {
    const hub = new Hub(new MemoryBus({ history: { maxEvents: 10, maxBytes: 1e6 } }))
    const a = sub('a.b', 'a.*', 'a.>', '>')
    const b = sub('a.*')
    const c = sub('x.>')
    for (const s of [a, b, c]) hub.add(s)
    let seq = 0
    for (const subject of ['a.b', 'a.c', 'a.b.c', 'x', 'x.y']) hub.dispatch({ id: `e.${++seq}`, seq, subject, data: '' })
    expect(a.got).toEqual(['a.b', 'a.c', 'a.b.c', 'x', 'x.y'])
    expect(b.got).toEqual(['a.b', 'a.c'])
    expect(c.got).toEqual(['x.y'])
    expect(hub.stats.deliveries).toBe(5 + 2 + 1)
  })
})

describe('subject trie agrees with matchSubject', () => {
  it('on a generated table of patterns and subjects', () => {
    const tokens = ['a', 'b', 'c']
    const subjects: string[] = []
    const gen = (prefix: string[], depth: number): void => {
      if (prefix.length > 0) subjects.push(prefix.join('.'))
      if (depth === 0) return
      for (const t of tokens) gen([...prefix, t], depth - 1)
    }
    gen([], 3)
    const patterns = new Set<string>()
    for (const s of subjects) {
      const parts = s.split('.')
      for (let mask = 0; mask < 1 << parts.length; mask++) {
        const p = parts.map((t, i) => (mask & (1 << i)) !== 0 ? '*' : t)
        patterns.add(p.join('.'))
        for (let k = 0; k < p.length; k++) patterns.add([...p.slice(0, k), '>'].join('.'))
      }
    }
    const trie = new SubjectTrie<string>()
    for (const p of patterns) trie.add(p, p)
    for (const s of subjects) {
      const found: string[] = []
      trie.match(s.split('.'), set => { for (const v of set) found.push(v) })
      const expected = [...patterns].filter(p => matchSubject(p, s))
      expect(found.sort(), s).toEqual(expected.sort())
    }
    for (const p of patterns) expect(trie.remove(p, p)).toBe(true)
    expect(trie.patterns).toBe(0)
  })
})
