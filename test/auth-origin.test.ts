import { describe, expect, it } from 'vitest'
import { createOriginCheck, normalizeOrigin, type OriginRequest } from '../src/auth/origin.js'

const CORS = (o: string): Record<string, string> =>
  ({ 'access-control-allow-origin': o, 'access-control-allow-credentials': 'true', vary: 'Origin' })

describe('origin check', () => {
  const listed = createOriginCheck({ origins: ['https://dash.example.com', 'https://admin.example.com:8443'] })
  const own = createOriginCheck({})
  const ownProxied = createOriginCheck({ trustProxy: true })
  const r = (headers: OriginRequest['headers'], encrypted = false): OriginRequest => ({ headers, encrypted })

  const table: Array<[string, ReturnType<typeof createOriginCheck>, OriginRequest, boolean, Record<string, string>?]> = [
    ['listed origin → CORS echoed exactly', listed, r({ origin: 'https://dash.example.com', host: 'gw' }), true, CORS('https://dash.example.com')],
    ['listed origin with port', listed, r({ origin: 'https://admin.example.com:8443' }), true, CORS('https://admin.example.com:8443')],
    ['default port is normalised', listed, r({ origin: 'https://dash.example.com:443' }), true, CORS('https://dash.example.com')],
    ['unlisted origin', listed, r({ origin: 'https://evil.example' }), false],
    ['look-alike origin', listed, r({ origin: 'https://dash.example.com.evil.example' }), false],
    ['scheme differs', listed, r({ origin: 'http://dash.example.com' }), false],
    ['Origin: null', listed, r({ origin: 'null' }), false],
    ['Origin with a path', listed, r({ origin: 'https://dash.example.com/x' }), false],
    ['not a URL', listed, r({ origin: 'dash.example.com' }), false],
    ['javascript: origin', listed, r({ origin: 'javascript:alert(1)' }), false],
    ['no Origin, no fetch metadata (curl, same-origin GET)', listed, r({}), true, {}],
    ['no Origin, same-origin', listed, r({ 'sec-fetch-site': 'same-origin' }), true, {}],
    ['no Origin, cross-site', listed, r({ 'sec-fetch-site': 'cross-site' }), false],
    ['listed origin, cross-site fetch metadata', listed, r({ origin: 'https://dash.example.com', 'sec-fetch-site': 'cross-site' }), true, CORS('https://dash.example.com')],
    ['default: own origin (Host)', own, r({ origin: 'http://gw.local:8080', host: 'gw.local:8080' }), true, { vary: 'Origin' }],
    ['default: own origin over TLS', own, r({ origin: 'https://gw.local', host: 'gw.local' }, true), true, { vary: 'Origin' }],
    ['default: other origin', own, r({ origin: 'https://evil.example', host: 'gw.local' }), false],
    ['default: X-Forwarded-Host ignored unless trusted', own,
      r({ origin: 'https://dash.example.com', host: '127.0.0.1:8080', 'x-forwarded-host': 'dash.example.com', 'x-forwarded-proto': 'https' }), false],
    ['default: trusted proxy', ownProxied,
      r({ origin: 'https://dash.example.com', host: '127.0.0.1:8080', 'x-forwarded-host': 'dash.example.com', 'x-forwarded-proto': 'https' }), true, { vary: 'Origin' }],
    ['default: trusted proxy, first of a list', ownProxied,
      r({ origin: 'https://dash.example.com', host: 'x', 'x-forwarded-host': 'dash.example.com, inner', 'x-forwarded-proto': 'https,http' }), true, { vary: 'Origin' }],
    ['default: trusted proxy, foreign origin', ownProxied,
      r({ origin: 'https://evil.example', host: 'x', 'x-forwarded-host': 'dash.example.com', 'x-forwarded-proto': 'https' }), false],
    ['default: never CORS-echoed', own, r({ origin: 'http://gw.local', host: 'gw.local' }), true, { vary: 'Origin' }],
  ]
  it.each(table)('%s', (_n, check, req, ok, headers) => {
    const d = check(req)
    expect(d.ok).toBe(ok)
    if (d.ok) {
      expect(d.headers).toEqual(headers)
      expect(Object.values(d.headers)).not.toContain('*')
    }
  })

  it('names the rejected origin', () => {
    expect(listed(r({ origin: 'https://evil.example' }))).toEqual({ ok: false, origin: 'https://evil.example' })
  })

  it('refuses to be configured with a non-origin', () => {
    expect(() => createOriginCheck({ origins: ['https://x.example/path'] })).toThrow()
    expect(normalizeOrigin('HTTPS://Dash.Example.COM')).toBe('https://dash.example.com')
  })
})
