// Subject matching (src/subject.ts) and, when it exists, the hub's fan-out index (src/hub.ts).
// Matrix: literal/wildcard × hit/miss × subject depth.
import { bench, done, load, skip, use } from './lib.mjs'

const subj = await load('src/subject.js')
if (!subj) { skip('dist/src/subject.js missing: run `npm run build`') } else {
  const { matchSubject, checkSubject } = subj
  for (const depth of [2, 4, 8]) {
    const toks = Array.from({ length: depth }, (_, i) => `t${i}`)
    const s = toks.join('.')
    const miss = [...toks.slice(0, -1), 'zz'].join('.')
    const star = [...toks.slice(0, -2), '*', toks[depth - 1]].join('.')
    const gt = [toks[0], '>'].join('.')
    bench(`subject: match literal hit, depth ${depth}`, () => matchSubject(s, s), { batch: 100000 })
    bench(`subject: match literal miss, depth ${depth}`, () => matchSubject(miss, s), { batch: 100000 })
    bench(`subject: match '*' hit, depth ${depth}`, () => matchSubject(star, s), { batch: 100000 })
    bench(`subject: match '>' hit, depth ${depth}`, () => matchSubject(gt, s), { batch: 100000 })
  }
  bench('subject: checkSubject (validate a 4-token topic)', () => checkSubject('orders.eu.42.status'), { batch: 50000 })

  // The fan-out index: which connections want subject S. Shapes differ between implementations, so this
  // only runs when src/hub.ts exposes what bench/micro/hub-shape.mjs knows how to drive.
  const hub = await load('src/hub.js')
  if (hub) {
    const { driveHub } = await import('./hub-shape.mjs')
    await driveHub(hub, { bench, use })
  } else console.error('subject: src/hub.ts not on this branch yet; fan-out index not measured')
  done()
}
