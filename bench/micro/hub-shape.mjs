// The fan-out index (src/hub.ts) and the per-connection delivery path (src/connection.ts), without sockets:
// which subscribers want subject S, and what one delivery costs up to the point of the socket write.
import { benchAsync, load } from './lib.mjs'

const nullBus = { addInterest () {}, removeInterest () {} }

export async function driveHub ({ Hub }, { bench }) {
  if (typeof Hub !== 'function' || typeof Hub.prototype.dispatch !== 'function') {
    console.error('hub micro-benchmark: src/hub.ts has no Hub#dispatch; not measured')
    return
  }
  const data = 'x'.repeat(200)
  let seq = 0
  const event = (subject) => ({ id: `ep.${++seq}`, seq, subject, data })
  let delivered = 0
  const counter = (topics) => ({ topics, stamp: 0, deliver () { delivered++ } })

  // 1,000 subscribers on one literal subject: the fan-out shape.
  const h1 = new Hub(nullBus)
  for (let i = 0; i < 1000; i++) h1.add(counter(['bench.fan']))
  bench('hub: dispatch 1 event → 1,000 subscribers (literal), per delivery', () => h1.dispatch(event('bench.fan')), { batch: 50, ops: 1000 })

  // 10,000 subscribers over 1,000 subjects (10 each): the index must not scan everyone.
  const h2 = new Hub(nullBus)
  for (let i = 0; i < 10000; i++) h2.add(counter([`tenant.t${i % 1000}.orders`]))
  bench('hub: dispatch, 10,000 subs on 1,000 subjects, 10 matched, per event', (i) => h2.dispatch(event(`tenant.t${i % 1000}.orders`)), { batch: 2000 })
  bench('hub: dispatch, 10,000 subs, subject nobody wants, per event', (i) => h2.dispatch(event(`other.t${i % 1000}.x`)), { batch: 2000 })

  // Wildcards: 100 distinct patterns, 10 subscribers each, plus the literal ones; per-subject pattern cache.
  const h3 = new Hub(nullBus)
  for (let i = 0; i < 1000; i++) h3.add(counter([`tenant.t${i % 100}.*`]))
  for (let i = 0; i < 1000; i++) h3.add(counter([`tenant.t${i % 100}.orders`, 'tenant.>']))
  bench('hub: dispatch, 100 wildcard patterns + overlap dedup, per event', (i) => h3.dispatch(event(`tenant.t${i % 100}.orders`)), { batch: 500 })

  // Subscribe/unsubscribe churn (connection open/close).
  const h4 = new Hub(nullBus)
  for (let i = 0; i < 10000; i++) h4.add(counter([`tenant.t${i % 1000}.orders`]))
  bench('hub: add + remove one subscriber (2 topics) among 10,000', (i) => {
    const s = counter([`tenant.t${i % 1000}.orders`, `user.u${i}`]); h4.add(s); h4.remove(s)
  }, { batch: 2000 })

  // The whole delivery path to just before the syscall: hub → Connection.deliver → shared frame → queue → one
  // coalesced Buffer per connection per turn, flushed by the hub on setImmediate as in the server.
  const conn = await load('src/connection.js')
  if (conn?.Connection) {
    const { Connection } = conn
    let bytes = 0
    const fakeSocket = () => ({ writableLength: 0, write (b) { bytes += b.length; return true }, on () { return this }, resume () {}, setNoDelay () {}, destroy () {}, end () {} })
    const owner = (hub) => ({ hub, maxQueueBytes: 1 << 20, onClosed () {}, onBytes () {} })
    for (const perTurn of [1, 10]) {
      const hub = new Hub(nullBus)
      const o = owner(hub)
      const conns = []
      for (let i = 0; i < 1000; i++) {
        const c = new Connection(fakeSocket(), o, { topics: ['bench.fan'], envelope: false })
        hub.add(c)
        conns.push(c)
      }
      const turn = () => new Promise((resolve) => setImmediate(resolve))
      await benchAsync(`connection: ${perTurn} event(s)/turn → 1,000 connections, deliver + flush, per delivery`, async () => {
        for (let e = 0; e < perTurn; e++) hub.dispatch(event('bench.fan'))
        await turn() // the hub's flush was scheduled first, so it has run when this resolves
      }, { batch: 20, ops: 1000 * perTurn })
      if (bytes === 0) throw new Error('nothing written')
    }
  }
  if (delivered === 0) throw new Error('nothing delivered')
}
