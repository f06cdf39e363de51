/**
 * Authorization: which subjects a principal may subscribe to.
 *
 * Allowed patterns = configured rules with `{placeholders}` filled from the principal, plus the principal's own
 * `subjects`. A topic is allowed only when one allowed pattern covers every subject the topic can match
 * (wildcard containment, src/subject.ts coversSubject), never by string prefix.
 */
import { checkSubject, coversSubject } from '../subject.js'
import { GatewayError } from '../errors.js'
import type { Authorize, Principal } from './types.js'

const PLACEHOLDER = /\{([A-Za-z_][A-Za-z0-9_]{0,63})\}/g
// A filled value must be exactly one plain token: '.', '*', '>' or whitespace would widen or reshape the pattern.
const UNSAFE_VALUE = /[.*>\s\u0000-\u001f\u007f]/
const MAX_VALUE_LENGTH = 128

export interface Rule {
  source: string
  placeholders: string[]
}

/** Validates rules at configuration time; throws SSE_ERR_CONFIG naming the bad rule. */
export function parseRules (rules: readonly string[], varName = 'SSE_ALLOW'): Rule[] {
  return rules.map((source) => {
    const placeholders = [...source.matchAll(PLACEHOLDER)].map((m) => m[1])
    const probe = source.replace(PLACEHOLDER, 'x')
    if (probe.includes('{') || probe.includes('}')) throw new GatewayError('SSE_ERR_CONFIG', [`${varName}: rule ${source} has a malformed placeholder`])
    const problem = checkSubject(probe)
    if (problem !== undefined) throw new GatewayError('SSE_ERR_CONFIG', [`${varName}: rule ${source} is not a valid subject pattern (${problem})`])
    return { source, placeholders }
  })
}

function field (p: Principal, name: string): string | undefined {
  let v: unknown
  if (name === 'user') v = p.user
  else if (name === 'session') v = p.session
  else v = p.data?.[name]
  if (typeof v === 'number' && Number.isSafeInteger(v)) v = String(v)
  if (typeof v !== 'string' || v.length === 0 || v.length > MAX_VALUE_LENGTH || UNSAFE_VALUE.test(v)) return undefined
  return v
}

/** The patterns a principal may subscribe under. Rules whose placeholders cannot be filled safely are skipped. */
export function allowedPatterns (rules: readonly Rule[], p: Principal): string[] {
  const out: string[] = []
  for (const r of rules) {
    let ok = true
    const filled = r.placeholders.length === 0
      ? r.source
      : r.source.replace(PLACEHOLDER, (_m, name: string) => {
        const v = field(p, name)
        if (v === undefined) { ok = false; return 'x' }
        return v
      })
    if (ok && checkSubject(filled) === undefined) out.push(filled)
  }
  for (const s of p.subjects ?? []) {
    if (typeof s === 'string' && checkSubject(s) === undefined) out.push(s)
  }
  return out
}

export function createAuthorizer (rules: readonly string[] | readonly Rule[]): Authorize {
  const parsed: Rule[] = rules.length > 0 && typeof rules[0] === 'string'
    ? parseRules(rules as readonly string[])
    : [...(rules as readonly Rule[])]
  // Principals are long-lived (one per stream); computing their patterns once per principal object is enough.
  const memo = new WeakMap<Principal, string[]>()
  return function authorize (principal, topics) {
    let allowed = memo.get(principal)
    if (allowed === undefined) {
      allowed = allowedPatterns(parsed, principal)
      memo.set(principal, allowed)
    }
    for (const t of topics) {
      if (!allowed.some((a) => coversSubject(a, t))) return t
    }
    return undefined
  }
}
