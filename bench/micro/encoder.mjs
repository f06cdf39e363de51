// The SSE encoder (src/encoder.ts): one frame per event, shared by every connection.
// Matrix: payload size × single/multi-line × with/without event name × plain/envelope; and the cached-frame hit.
import { bench, done, load, skip } from './lib.mjs'

const enc = await load('src/encoder.js')
if (!enc) { skip('dist/src/encoder.js missing: run `npm run build`') } else {
  const { encodeEventText, frameOf } = enc
  for (const size of [16, 200, 2000, 20000]) {
    const line = 'x'.repeat(size)
    const multi = Array.from({ length: Math.max(2, size / 50) }, () => 'y'.repeat(48)).join('\n').slice(0, size)
    const json = JSON.stringify({ v: 'z'.repeat(Math.max(1, size - 8)) })
    const mk = (data, event) => (i) => ({ id: `lxq1abc.${i}`, seq: i, subject: 'orders.eu.42', data, ...(event ? { event } : {}) })
    const batch = size >= 20000 ? 50 : size >= 2000 ? 300 : 2000
    for (const [label, f, envelope] of [
      ['one line', mk(line), false],
      ['one line + event', mk(line, 'update'), false],
      ['multi-line', mk(multi), false],
      ['envelope, JSON data', mk(json), true],
    ]) {
      bench(`encoder: frameOf ${size} B, ${label}`, (i) => frameOf(f(i), envelope), { batch })
    }
  }
  const ev = { id: 'lxq1abc.1', seq: 1, subject: 'orders.eu.42', data: 'x'.repeat(200) }
  frameOf(ev, false)
  bench('encoder: frameOf cached (second connection onwards)', () => frameOf(ev, false), { batch: 100000 })
  bench('encoder: encodeEventText 200 B (string only)', (i) => encodeEventText({ id: `e.${i}`, seq: i, subject: 's', data: ev.data }), { batch: 5000 })
  done()
}
