/**
 * The Origin check, run before any cookie verification, dashboard call or bus work.
 *
 * A browser sends the user's cookies with a credentialed EventSource opened by any page. CORS only stops that
 * page from *reading* the stream; the request itself still arrives and would spend a dashboard call, a bus
 * subscription and a per-user slot (the SSE form of cross-site WebSocket hijacking, CWE-1385). So:
 * - `Origin: null`, or an Origin not allowed → 403.
 * - No Origin (same-origin GETs omit it) but `Sec-Fetch-Site: cross-site` → 403.
 * - Allowed origins: SSE_ORIGINS when set; otherwise the request's own origin. The own origin uses
 *   X-Forwarded-Proto/-Host only when the proxy is trusted, since a plain `proxy_pass` rewrites Host and
 *   an untrusted client can send any X-Forwarded-* it likes.
 * - CORS with credentials only for listed origins, echoed exactly, with `Vary: Origin`; never `*`, never a
 *   reflected arbitrary origin.
 * @see https://fetch.spec.whatwg.org/#origin-header
 * @see https://w3c.github.io/webappsec-fetch-metadata/#sec-fetch-site-header
 */
import type { IncomingHttpHeaders } from 'node:http'

export interface OriginPolicyOptions {
  /** Allowed origins (`scheme://host[:port]`). Empty → the request's own origin only. */
  origins?: readonly string[]
  /** Trust X-Forwarded-Host / X-Forwarded-Proto (the gateway sits behind a proxy that sets them). */
  trustProxy?: boolean
}

export interface OriginRequest {
  headers: IncomingHttpHeaders
  /** True when the socket is TLS (the request's own scheme without a trusted proxy). */
  encrypted?: boolean
}

export type OriginDecision =
  | { ok: true, headers: Record<string, string> }
  | { ok: false, origin: string }

export type CheckOrigin = (req: OriginRequest) => OriginDecision

/** Normalises `scheme://host[:port]`; undefined for anything that is not an http(s) origin. */
export function normalizeOrigin (value: string): string | undefined {
  if (typeof value !== 'string' || value.length === 0 || value.length > 2048 || value === 'null') return undefined
  let u: URL
  try { u = new URL(value) } catch { return undefined }
  if (u.protocol !== 'http:' && u.protocol !== 'https:') return undefined
  // An Origin header is exactly scheme://host[:port]; anything more (path, credentials) is not an origin.
  if (u.username !== '' || u.password !== '' || (u.pathname !== '/' && u.pathname !== '') || u.search !== '' || u.hash !== '') return undefined
  return u.origin
}

function first (h: string | string[] | undefined): string | undefined {
  const v = Array.isArray(h) ? h[0] : h
  if (v === undefined) return undefined
  const f = v.split(',')[0].trim()
  return f.length > 0 ? f : undefined
}

/** The origin the browser sees for this request, as far as the gateway can tell. */
export function ownOrigin (req: OriginRequest, trustProxy: boolean): string | undefined {
  const proto = (trustProxy ? first(req.headers['x-forwarded-proto'])?.toLowerCase() : undefined) ?? (req.encrypted === true ? 'https' : 'http')
  const host = (trustProxy ? first(req.headers['x-forwarded-host']) : undefined) ?? req.headers.host
  if (host === undefined || (proto !== 'http' && proto !== 'https')) return undefined
  return normalizeOrigin(`${proto}://${host}`)
}

export function createOriginCheck (opts: OriginPolicyOptions = {}): CheckOrigin {
  const listed = new Set<string>()
  for (const o of opts.origins ?? []) {
    const n = normalizeOrigin(o)
    if (n === undefined) throw new TypeError(`not an origin: ${o}`)
    listed.add(n)
  }
  const trustProxy = opts.trustProxy === true
  return function checkOrigin (req): OriginDecision {
    const raw = req.headers.origin
    if (raw === undefined) {
      // Same-origin GETs carry no Origin; a cross-site request without one is not a browser EventSource we serve.
      const site = first(req.headers['sec-fetch-site'])
      if (site === 'cross-site') return { ok: false, origin: 'cross-site' }
      return { ok: true, headers: {} }
    }
    const origin = normalizeOrigin(raw)
    if (origin === undefined) return { ok: false, origin: raw === 'null' ? 'null' : 'malformed' }
    if (listed.size > 0) {
      if (!listed.has(origin)) return { ok: false, origin }
      // Echo the allowed origin exactly; Vary keeps caches from serving one origin's headers to another.
      return {
        ok: true,
        headers: { 'access-control-allow-origin': origin, 'access-control-allow-credentials': 'true', vary: 'Origin' },
      }
    }
    if (origin === ownOrigin(req, trustProxy)) return { ok: true, headers: { vary: 'Origin' } }
    return { ok: false, origin }
  }
}
