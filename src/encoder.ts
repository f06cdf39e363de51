/**
 * SSE framing, per the WHATWG HTML "Server-sent events" section.
 * @see https://html.spec.whatwg.org/multipage/server-sent-events.html#event-stream-interpretation
 *
 * Pure functions; each event is encoded once and the same Buffer is written to every connection that gets it.
 */
import type { BusEvent } from './bus/types.js'

// A field value may not contain CR or LF (they end the line, letting a value inject fields or whole events: CWE-93),
// nor NUL (the spec makes browsers ignore an `id` containing NUL, which would silently break replay).
// eslint-disable-next-line no-control-regex
const UNSAFE_FIELD = /[\r\n\0]/g
const LINE_BREAK = /\r\n|\r|\n/

/** Strips CR, LF and NUL: ids and event names are issued or validated by the gateway, this is defence in depth. */
export function safeField (value: string): string {
  return value.replace(UNSAFE_FIELD, '')
}

/** `data:` lines for a payload; CRLF, CR and LF all start a new line, so the browser rebuilds the text with LF. */
export function dataLines (data: string): string {
  if (data.length === 0) return 'data:\n'
  if (!/[\r\n]/.test(data)) return `data: ${data}\n`
  let out = ''
  for (const line of data.split(LINE_BREAK)) out += `data: ${line}\n`
  return out
}

/** The opt-in envelope lets a page that multiplexes topics tell them apart: `{"subject": …, "data": …}`. */
export function envelopeData (ev: Pick<BusEvent, 'subject' | 'data'>): string {
  // Embed JSON payloads as JSON (no double encoding); anything else as a JSON string.
  let raw: string | undefined
  const c = ev.data.charCodeAt(0)
  // Only try to parse what can start a JSON value; a cheap filter before JSON.parse.
  if (ev.data.length > 0 && (c === 123 || c === 91 || c === 34 || c === 45 || (c >= 48 && c <= 57) || c === 116 || c === 102 || c === 110)) {
    try { JSON.parse(ev.data); raw = ev.data } catch { raw = undefined }
  }
  return `{"subject":${JSON.stringify(ev.subject)},"data":${raw ?? JSON.stringify(ev.data)}}`
}

export function encodeEventText (ev: Pick<BusEvent, 'id' | 'event' | 'data' | 'subject'>, envelope = false): string {
  let out = `id: ${safeField(ev.id)}\n`
  if (ev.event !== undefined && ev.event !== '') out += `event: ${safeField(ev.event)}\n`
  out += dataLines(envelope ? envelopeData(ev) : ev.data)
  return out + '\n'
}

/** The event's frame, encoded on first use and cached on the event so every connection shares the bytes. */
export function frameOf (ev: BusEvent, envelope: boolean): Buffer {
  if (envelope) return (ev.envelopeFrame ??= Buffer.from(encodeEventText(ev, true)))
  return (ev.frame ??= Buffer.from(encodeEventText(ev, false)))
}

/** A gateway-generated event (reset, busy, unauthorized, …) with a JSON body. No `id:` so the cursor is kept. */
export function encodeControl (event: string, body: unknown): Buffer {
  return Buffer.from(`event: ${safeField(event)}\n${dataLines(JSON.stringify(body))}\n`)
}

export function encodeRetry (ms: number): Buffer {
  return Buffer.from(`retry: ${Math.max(0, Math.floor(ms))}\n\n`)
}

/** A comment line: ignored by browsers, but keeps proxies from timing out an idle stream. */
export const HEARTBEAT = Buffer.from(':\n\n')

/** `base` ± `ratio`, so clients told to come back do not all come back at once. */
export function jitter (base: number, ratio = 0.5): number {
  return Math.round(base * (1 - ratio + Math.random() * 2 * ratio))
}
