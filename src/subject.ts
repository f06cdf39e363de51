/**
 * NATS subject semantics: validation, matching and containment.
 * Tokens are separated by `.`; `*` matches exactly one token, `>` one or more trailing tokens.
 * @see https://docs.nats.io/nats-concepts/subjects
 */

export interface SubjectLimits {
  /** Maximum length of one subject in characters. */
  maxLength: number
  /** Maximum number of tokens in one subject. */
  maxTokens: number
}

export const DEFAULT_SUBJECT_LIMITS: Readonly<SubjectLimits> = Object.freeze({ maxLength: 256, maxTokens: 16 })

export type SubjectProblem =
  | 'empty'
  | 'too_long'
  | 'too_many_tokens'
  | 'bad_character'
  | 'empty_token'
  | 'bad_wildcard'
  | 'wildcard_not_allowed'
  | 'reserved'

// Whitespace, C0/C1 controls, DEL, and Unicode line/paragraph separators are never part of a subject.
// eslint-disable-next-line no-control-regex
const BAD_CHAR = /[\s\u0000-\u001f\u007f-\u009f\u2028\u2029\ufeff]/

/**
 * Returns why `subject` is not acceptable, or `undefined` when it is.
 * Subscriptions may use wildcards; publications may not (`wildcards: false`).
 * Subjects under `$` (system, JetStream API) and `_INBOX` (request/reply) are reserved:
 * relaying them would leak other clients' traffic.
 */
export function checkSubject (
  subject: string,
  { wildcards = true, limits = DEFAULT_SUBJECT_LIMITS }: { wildcards?: boolean, limits?: SubjectLimits } = {}
): SubjectProblem | undefined {
  if (typeof subject !== 'string' || subject.length === 0) return 'empty'
  if (subject.length > limits.maxLength) return 'too_long'
  if (BAD_CHAR.test(subject)) return 'bad_character'
  const tokens = subject.split('.')
  if (tokens.length > limits.maxTokens) return 'too_many_tokens'
  for (let i = 0; i < tokens.length; i++) {
    const t = tokens[i]
    if (t.length === 0) return 'empty_token'
    if (t === '*' || t === '>') {
      if (!wildcards) return 'wildcard_not_allowed'
      if (t === '>' && i !== tokens.length - 1) return 'bad_wildcard'
      if (i === 0 && t === '>' ) continue
      continue
    }
    // NATS would treat `a*` as a literal token; a browser asking for it almost certainly meant a wildcard.
    if (t.includes('*') || t.includes('>')) return 'bad_wildcard'
  }
  const first = tokens[0]
  if (first.startsWith('$') || first === '_INBOX') return 'reserved'
  return undefined
}

export function isWildcard (subject: string): boolean {
  return subject === '>' || subject === '*' || subject.endsWith('.>') || subject.endsWith('.*') ||
    subject.startsWith('*.') || subject.includes('.*.')
}

/** True when the literal `subject` matches `pattern`. Both must be valid. */
export function matchSubject (pattern: string, subject: string): boolean {
  if (pattern === subject) return true
  const p = pattern.split('.')
  const s = subject.split('.')
  for (let i = 0; i < p.length; i++) {
    const t = p[i]
    if (t === '>') return s.length > i
    if (i >= s.length) return false
    if (t !== '*' && t !== s[i]) return false
  }
  return p.length === s.length
}

/**
 * True when every subject matched by `inner` is also matched by `outer` (wildcard containment).
 * `a.*.>` is not covered by `a.42.>`; `a.>` covers `a.*.b` and `a.>`; `*` never covers `>`.
 */
export function coversSubject (outer: string, inner: string): boolean {
  if (outer === inner) return true
  const o = outer.split('.')
  const n = inner.split('.')
  for (let i = 0; i < o.length; i++) {
    const ot = o[i]
    if (ot === '>') return n.length > i
    if (i >= n.length) return false
    const nt = n[i]
    if (nt === '>') return false // inner matches arbitrarily many tokens here; outer only a fixed count
    if (ot === '*') continue
    if (nt === '*' || ot !== nt) return false
  }
  return o.length === n.length
}
