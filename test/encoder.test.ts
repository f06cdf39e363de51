import { describe, expect, it } from 'vitest'
import { createParser, type EventSourceMessage } from 'eventsource-parser'
import { encodeControl, encodeEventText, envelopeData, frameOf, safeField } from '../src/encoder.js'
import type { BusEvent } from '../src/bus/types.js'

function parse (text: string): EventSourceMessage[] {
  const out: EventSourceMessage[] = []
  const parser = createParser({ onEvent: e => out.push(e) })
  parser.feed(text)
  return out
}

const ev = (data: string, extra: Partial<BusEvent> = {}): BusEvent => ({ id: 'e1.7', seq: 7, subject: 'a.b', data, ...extra })

describe('SSE framing (WHATWG event stream interpretation)', () => {
  const payloads: Array<[string, string, string]> = [
    ['plain', 'hello', 'hello'],
    ['empty', '', ''],
    ['LF', 'a\nb', 'a\nb'],
    ['CRLF', 'a\r\nb', 'a\nb'],
    ['lone CR', 'a\rb', 'a\nb'],
    ['mixed and trailing', 'a\r\n\rb\n', 'a\n\nb\n'],
    ['unicode', 'zażółć 🚀 ✓', 'zażółć 🚀 ✓'],
    ['injection attempt', 'x\n\nid: 9\nevent: admin\ndata: pwned', 'x\n\nid: 9\nevent: admin\ndata: pwned'],
    ['leading space kept', ' padded', ' padded'],
    ['colon first', ':not a comment', ':not a comment'],
    ['NUL in data', 'a\u0000b', 'a\u0000b']
  ]
  for (const [name, data, expected] of payloads) {
    it(`round-trips a payload: ${name}`, () => {
      const events = parse(encodeEventText(ev(data)))
      expect(events).toHaveLength(1)
      expect(events[0].data).toBe(expected)
      expect(events[0].id).toBe('e1.7')
      expect(events[0].event).toBeUndefined()
    })
  }

  it('omits the event line when there is no event name, so onmessage fires', () => {
    expect(encodeEventText(ev('x'))).toBe('id: e1.7\ndata: x\n\n')
  })

  it('never lets CR, LF or NUL into id or event fields', () => {
    const text = encodeEventText(ev('x', { id: 'e1.7\nevent: admin', event: 'ok\r\ndata: injected\u0000' }))
    const events = parse(text)
    expect(events).toHaveLength(1)
    expect(events[0].id).toBe('e1.7event: admin')
    expect(events[0].event).toBe('okdata: injected')
    expect(events[0].data).toBe('x')
    expect(safeField('a\r\nb\0c')).toBe('abc')
  })

  it('wraps the payload in an envelope naming the subject, embedding JSON as JSON', () => {
    expect(JSON.parse(envelopeData(ev('{"n":1}')))).toEqual({ subject: 'a.b', data: { n: 1 } })
    expect(JSON.parse(envelopeData(ev('not json')))).toEqual({ subject: 'a.b', data: 'not json' })
    expect(JSON.parse(envelopeData(ev('12abc')))).toEqual({ subject: 'a.b', data: '12abc' })
    const pretty = '{\n  "n": 1\n}'
    const [parsed] = parse(encodeEventText(ev(pretty), true))
    expect(JSON.parse(parsed.data)).toEqual({ subject: 'a.b', data: { n: 1 } })
  })

  it('encodes each event once and shares the Buffer', () => {
    const e = ev('x')
    const a = frameOf(e, false)
    expect(frameOf(e, false)).toBe(a)
    expect(frameOf(e, true)).toBe(frameOf(e, true))
    expect(frameOf(e, true)).not.toBe(a)
  })

  it('encodes control events without an id, so the cursor is kept', () => {
    const [reset] = parse(encodeControl('reset', { reason: 'epoch', cursor: 'e2.5' }).toString())
    expect(reset.event).toBe('reset')
    expect(reset.id).toBeUndefined()
    expect(JSON.parse(reset.data)).toEqual({ reason: 'epoch', cursor: 'e2.5' })
  })
})
