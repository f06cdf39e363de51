import { describe, expect, it } from 'vitest'
import { parseRevocation, SessionGuard, type GuardedGateway } from '../src/auth/guard.js'
import type { Principal } from '../src/auth/types.js'
import type { RevalidateResult } from '../src/auth/index.js'

interface FakeConn { principal?: Principal, topics: string[], closed: boolean, event?: string }

function fakeGateway (conns: FakeConn[]): GuardedGateway & { scans: number } {
  const gw = {
    scans: 0,
    connections: () => conns.filter((c) => !c.closed),
    closeWhere: (pred: (c: FakeConn) => boolean, _reason: string, event: string) => {
      gw.scans++
      let n = 0
      for (const c of conns) if (!c.closed && pred(c)) { c.closed = true; c.event = event; n++ }
      return n
    },
    hub: { add: () => {}, remove: () => {}, subscribers: () => [] },
  }
  return gw
}

const allow = (): undefined => undefined

describe('SessionGuard', () => {
  it('20,000 streams of 20,000 sessions: one check each, closes in a bounded number of scans', async () => {
    const conns: FakeConn[] = Array.from({ length: 20_000 }, (_, i) => ({ principal: { user: 'u' + i, session: 's' + i }, topics: ['t'], closed: false }))
    const gw = fakeGateway(conns)
    let checks = 0
    const guard = new SessionGuard(gw, {
      revalidate: async (p): Promise<RevalidateResult> => { checks++; return Number(p.user.slice(1)) % 2 === 0 ? { status: 'denied' } : { status: 'ok', principal: p } },
      authorize: allow, intervalMs: 60_000, graceMs: 1000,
    })
    const t0 = Date.now()
    await guard.sweep()
    expect(Date.now() - t0).toBeLessThan(5000)
    expect(checks).toBe(20_000)
    expect(conns.filter((c) => c.closed)).toHaveLength(10_000)
    expect(conns.every((c) => c.closed === (Number(c.principal!.user.slice(1)) % 2 === 0))).toBe(true)
    // 20,000 checks flushed every 256: about 80 batches × 2 event kinds, not 20,000 scans.
    expect(gw.scans).toBeLessThan(200)
  })

  it('checks each session once, however many tabs it has, and closes all of them', async () => {
    const conns: FakeConn[] = Array.from({ length: 10 }, () => ({ principal: { user: 'a', session: 'same' }, topics: ['t'], closed: false }))
    conns.push({ principal: { user: 'anon', anonymous: true }, topics: ['t'], closed: false })
    let checks = 0
    const guard = new SessionGuard(fakeGateway(conns), {
      revalidate: async () => { checks++; return { status: 'denied' } }, authorize: allow, intervalMs: 60_000, graceMs: 0,
    })
    await guard.sweep()
    expect(checks).toBe(1)
    expect(conns.slice(0, 10).every((c) => c.closed && c.event === 'unauthorized')).toBe(true)
    expect(conns[10].closed).toBe(false) // anonymous (SSE_AUTH=none) is never re-validated
  })

  it('keeps streams while the answer is unknown, until the grace period ends; an answer resets the clock', async () => {
    let now = 0
    let status: RevalidateResult['status'] = 'unavailable'
    const conns: FakeConn[] = [{ principal: { user: 'a', session: 's' }, topics: ['t'], closed: false }]
    const guard = new SessionGuard(fakeGateway(conns), {
      revalidate: async (p) => status === 'ok' ? { status: 'ok', principal: p } : { status } as RevalidateResult,
      authorize: allow, intervalMs: 60_000, graceMs: 1000, now: () => now,
    })
    await guard.sweep(); now = 600; await guard.sweep()
    expect(conns[0].closed).toBe(false)
    status = 'ok'; now = 900; await guard.sweep()
    status = 'unavailable'; now = 1200; await guard.sweep(); now = 2100; await guard.sweep()
    expect(conns[0].closed).toBe(false) // clock restarted at 1200
    now = 2200; await guard.sweep()
    expect(conns[0].closed).toBe(true)
    expect(conns[0].event).toBe('unavailable')
  })

  it('closes only the streams whose topics the fresh principal no longer covers', async () => {
    const conns: FakeConn[] = [
      { principal: { user: 'a', session: 's' }, topics: ['p.1.x'], closed: false },
      { principal: { user: 'a', session: 's' }, topics: ['p.2.x'], closed: false },
    ]
    const guard = new SessionGuard(fakeGateway(conns), {
      revalidate: async (p) => ({ status: 'ok', principal: { ...p, subjects: ['p.1.>'] } }),
      authorize: (p, topics) => topics.find((t) => !(p.subjects ?? []).some((s) => t.startsWith(s.slice(0, -1)))),
      intervalMs: 60_000, graceMs: 0,
    })
    await guard.sweep()
    expect(conns.map((c) => c.closed)).toEqual([false, true])
  })

  it('revokes by user or by session, and drops cached answers', () => {
    const conns: FakeConn[] = [
      { principal: { user: 'a', session: 's1' }, topics: ['t'], closed: false },
      { principal: { user: 'a', session: 's2' }, topics: ['t'], closed: false },
      { principal: { user: 'b', session: 's3' }, topics: ['t'], closed: false },
    ]
    const forgotten: unknown[] = []
    const guard = new SessionGuard(fakeGateway(conns), {
      revalidate: async (p) => ({ status: 'ok', principal: p }), authorize: allow, intervalMs: 60_000, graceMs: 0,
      forget: (w) => forgotten.push(w),
    })
    expect(guard.revoke({ session: 's2' })).toBe(1)
    expect(guard.revoke({ user: 'a' })).toBe(1)
    expect(conns.map((c) => c.closed)).toEqual([true, true, false])
    expect(forgotten).toEqual([{ session: 's2' }, { user: 'a' }])
  })
})

describe('parseRevocation', () => {
  it.each([
    ['{"user":"42"}', { user: '42' }],
    ['{"user":42}', { user: '42' }],
    ['{"session":"0123456789abcdef0123456789abcdef"}', { session: '0123456789abcdef0123456789abcdef' }],
    ['{"user":"a","session":"abcdef01"}', { user: 'a', session: 'abcdef01' }],
    ['{}', undefined],
    ['{"user":""}', undefined],
    ['{"user":{"$ne":1}}', undefined],
    ['{"session":"NOT-HEX"}', undefined],
    ['[1]', undefined],
    ['null', undefined],
    ['not json', undefined],
    ['{"user":"' + 'x'.repeat(5000) + '"}', undefined],
  ])('%s', (data, expected) => {
    expect(parseRevocation(data)).toEqual(expected)
  })
})
