/**
 * Turning what a request carries into validated values. Framework-free: the plugin hands in plain objects.
 */
import { createHash, timingSafeEqual } from 'node:crypto'
import { GatewayError } from './errors.js'
import { checkSubject, type SubjectLimits } from './subject.js'
import type { PublishInput } from './bus/types.js'
import { isPublisherEventName, RESERVED_EVENT_NAMES } from './bus/types.js'

/** `?topic=a&topic=b`, validated and de-duplicated; throws a 400 GatewayError naming the offending topic. */
export function parseTopics (raw: unknown, maxTopics: number, limits: SubjectLimits): string[] {
  const list = raw === undefined ? [] : Array.isArray(raw) ? raw : [raw]
  if (list.length === 0) throw new GatewayError('SSE_ERR_TOPIC_MISSING')
  if (list.length > maxTopics) throw new GatewayError('SSE_ERR_TOPIC_TOO_MANY', [list.length, maxTopics])
  const topics: string[] = []
  for (const t of list) {
    if (typeof t !== 'string') throw new GatewayError('SSE_ERR_TOPIC_INVALID', ['(non-string)', 'empty'])
    const problem = checkSubject(t, { limits })
    if (problem !== undefined) throw new GatewayError('SSE_ERR_TOPIC_INVALID', [JSON.stringify(printable(t)), problem])
    if (!topics.includes(t)) topics.push(t)
  }
  return topics
}

/** The cursor to resume from: the `Last-Event-ID` header wins over `?lastEventId=`; empty means none. */
export function pickLastEventId (header: unknown, query: unknown): string | undefined {
  const h = Array.isArray(header) ? header[0] : header
  if (typeof h === 'string' && h !== '') return h
  const q = Array.isArray(query) ? query[0] : query
  if (typeof q === 'string' && q !== '') return q
  return undefined
}

export function isTruthyFlag (v: unknown): boolean {
  return v === '1' || v === 'true' || v === ''
}

/** Validates a `POST /events/publish` body: `{ subject, data: string | JSON, event?, id? }`. */
export function parsePublishBody (body: unknown, limits: SubjectLimits): PublishInput {
  if (body === null || typeof body !== 'object' || Array.isArray(body)) {
    throw new GatewayError('SSE_ERR_PUBLISH_INVALID', ['expected a JSON object {"subject", "data", "event"?}'])
  }
  const b = body as Record<string, unknown>
  if (typeof b.subject !== 'string') throw new GatewayError('SSE_ERR_PUBLISH_INVALID', ['"subject" must be a string'])
  const problem = checkSubject(b.subject, { wildcards: false, limits })
  if (problem !== undefined) throw new GatewayError('SSE_ERR_PUBLISH_SUBJECT', [JSON.stringify(printable(b.subject)), problem])
  if (!('data' in b) || b.data === undefined) throw new GatewayError('SSE_ERR_PUBLISH_INVALID', ['"data" is required'])
  const data = typeof b.data === 'string' ? b.data : JSON.stringify(b.data)
  const out: PublishInput = { subject: b.subject, data }
  if (b.event !== undefined) {
    if (!isPublisherEventName(b.event)) {
      throw new GatewayError('SSE_ERR_PUBLISH_INVALID', [
        `"event" must match [A-Za-z0-9_.:-]{1,64} and not be one of the gateway's own (${[...RESERVED_EVENT_NAMES].join(', ')})`])
    }
    out.event = b.event
  }
  if (b.msgId !== undefined) {
    if (typeof b.msgId !== 'string' || b.msgId.length === 0 || b.msgId.length > 128) {
      throw new GatewayError('SSE_ERR_PUBLISH_INVALID', ['"msgId" must be a string of 1 to 128 characters'])
    }
    out.msgId = b.msgId
  }
  return out
}

/** Constant-time check of `Authorization: Bearer <token>` (hashing first makes the lengths equal). */
export function bearerMatches (header: unknown, token: string): boolean {
  if (typeof header !== 'string' || !header.startsWith('Bearer ')) return false
  const a = createHash('sha256').update(header.slice(7)).digest()
  const b = createHash('sha256').update(token).digest()
  return timingSafeEqual(a, b)
}

/** Makes a rejected value safe to echo in an error message. */
function printable (s: string): string {
  // eslint-disable-next-line no-control-regex
  return (s.length > 80 ? s.slice(0, 80) + '…' : s).replace(/[\u0000-\u001f\u007f]/g, c => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`)
}
