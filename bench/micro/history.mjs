// Replay lookup (src/bus/history.ts): a 20,000-event ring; replay N events after a cursor, filtered by topics.
import { bench, done, load, skip } from './lib.mjs'

const mod = await load('src/bus/history.js')
if (!mod) { skip('dist/src/bus/history.js missing: run `npm run build`') } else {
  const { History } = mod
  const h = new History('ep', { maxEvents: 20000, maxBytes: 256 << 20 })
  const data = 'x'.repeat(200)
  for (let seq = 1; seq <= 20000; seq++) h.append({ id: `ep.${seq}`, seq, subject: `bench.ch${seq % 10}`, data })
  const last = h.lastSeq
  const cases = [
    ['10 events, 1 literal topic', last - 100, ['bench.ch3'], 10],
    ['1,000 events, wildcard topic', last - 1000, ['bench.*'], 1000],
    ['10,000 events, wildcard topic', last - 10000, ['bench.>'], 10000],
    ['10,000 events scanned, 1 of 10 subjects', last - 10000, ['bench.ch3'], 1000],
    ['10,000 events scanned, 3 topics (2 literal + 1 miss)', last - 10000, ['bench.ch3', 'bench.ch4', 'other.x'], 2000],
    ['nothing after the cursor (up to date)', last, ['bench.>'], 0],
  ]
  for (const [label, after, topics, n] of cases) {
    const r = h.replaySeq(after, topics, 100000)
    if (r.kind !== 'events' || r.events.length !== n) throw new Error(`${label}: expected ${n} events, got ${r.kind} ${r.events?.length}`)
    const batch = n >= 10000 ? 5 : n >= 1000 ? 50 : 5000
    bench(`history: replay ${label}`, () => h.replaySeq(after, topics, 100000), { batch })
  }
  bench('history: replay by id string (parse + lookup, 10 events)', () => h.replay(`ep.${last - 10}`, ['bench.>'], 100000), { batch: 5000 })
  let seq = last
  bench('history: append (ring full, evicting)', () => h.append({ id: `ep.${++seq}`, seq, subject: 'bench.ch1', data }), { batch: 5000 })
  done()
}
