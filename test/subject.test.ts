import { describe, expect, it } from 'vitest'
import { checkSubject, coversSubject, isWildcard, matchSubject } from '../src/subject.js'

describe('subject validation', () => {
  const table: Array<[string, string | undefined, boolean?]> = [
    ['a', undefined],
    ['dashboard.project.42.instances', undefined],
    ['a.*', undefined],
    ['a.>', undefined],
    ['*.b.>', undefined],
    ['>', undefined],
    ['*', undefined],
    ['', 'empty'],
    ['a..b', 'empty_token'],
    ['.a', 'empty_token'],
    ['a.', 'empty_token'],
    ['a b', 'bad_character'],
    ['a\tb', 'bad_character'],
    ['a\nb', 'bad_character'],
    ['a\u0000b', 'bad_character'],
    ['a\u2028b', 'bad_character'],
    ['a.>.b', 'bad_wildcard'],
    ['a.b*', 'bad_wildcard'],
    ['a.>x', 'bad_wildcard'],
    ['$JS.API.>', 'reserved'],
    ['$SYS.x', 'reserved'],
    ['_INBOX.x', 'reserved'],
    ['x'.repeat(257), 'too_long'],
    [Array.from({ length: 17 }, () => 'a').join('.'), 'too_many_tokens'],
    ['a.*', 'wildcard_not_allowed', false],
    ['a.>', 'wildcard_not_allowed', false],
    ['a.b', undefined, false]
  ]
  for (const [subject, problem, wildcards = true] of table) {
    it(`${JSON.stringify(subject.slice(0, 30))}${wildcards ? '' : ' (publish)'} → ${problem ?? 'ok'}`, () => {
      expect(checkSubject(subject, { wildcards })).toBe(problem)
    })
  }
})

describe('subject matching', () => {
  const table: Array<[string, string, boolean]> = [
    ['a.b', 'a.b', true],
    ['a.b', 'a.c', false],
    ['a.*', 'a.b', true],
    ['a.*', 'a.b.c', false],
    ['a.*', 'a', false],
    ['a.>', 'a.b', true],
    ['a.>', 'a.b.c.d', true],
    ['a.>', 'a', false],
    ['*.b', 'a.b', true],
    ['*.b', 'a.c', false],
    ['*.*.c', 'a.b.c', true],
    ['>', 'a', true],
    ['>', 'a.b.c', true],
    ['*', 'a', true],
    ['*', 'a.b', false],
    ['a.*.>', 'a.b', false],
    ['a.*.>', 'a.b.c', true],
    ['a.b.c', 'a.b', false]
  ]
  for (const [pattern, subject, expected] of table) {
    it(`${pattern} ${expected ? 'matches' : 'does not match'} ${subject}`, () => {
      expect(matchSubject(pattern, subject)).toBe(expected)
    })
  }

  it('tells wildcards from literals', () => {
    expect(['a.*', 'a.>', '*', '>', '*.a', 'a.*.b'].every(isWildcard)).toBe(true)
    expect(['a', 'a.b', 'ab*'].some(isWildcard)).toBe(false)
  })
})

describe('subject containment (authorization is containment, not prefix)', () => {
  const table: Array<[string, string, boolean]> = [
    ['a.>', 'a.b', true],
    ['a.>', 'a.*', true],
    ['a.>', 'a.>', true],
    ['a.>', 'a.*.>', true],
    ['a.>', 'a', false],
    ['a.*', 'a.b', true],
    ['a.*', 'a.*', true],
    ['a.*', 'a.>', false],
    ['a.b', 'a.*', false],
    ['dashboard.project.42.>', 'dashboard.project.*.>', false],
    ['dashboard.project.*.>', 'dashboard.project.42.>', true],
    ['>', 'anything.at.all', true],
    ['*', '>', false],
    ['*.b', 'a.b', true],
    ['a.*.c', 'a.*.c', true],
    ['a.*.c', 'a.>', false]
  ]
  for (const [outer, inner, expected] of table) {
    it(`${outer} ${expected ? 'covers' : 'does not cover'} ${inner}`, () => {
      expect(coversSubject(outer, inner)).toBe(expected)
    })
  }
})
