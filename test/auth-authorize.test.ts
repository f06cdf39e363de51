import { describe, expect, it } from 'vitest'
import { allowedPatterns, createAuthorizer, parseRules } from '../src/auth/authorize.js'
import type { Principal } from '../src/auth/types.js'
import { coversSubject } from '../src/subject.js'
import { isGatewayError } from '../src/errors.js'

describe('coversSubject: wildcard containment, not string prefix', () => {
  const table: Array<[outer: string, inner: string, covered: boolean]> = [
    ['dashboard.project.42.>', 'dashboard.project.42.instances', true],
    ['dashboard.project.42.>', 'dashboard.project.42.*', true],
    ['dashboard.project.42.>', 'dashboard.project.42.>', true],
    ['dashboard.project.42.>', 'dashboard.project.*.>', false],
    ['dashboard.project.42.>', 'dashboard.project.>', false],
    ['dashboard.project.42.>', 'dashboard.project.42', false],
    ['dashboard.project.42.>', 'dashboard.project.420.x', false],
    ['dashboard.project.4', 'dashboard.project.42', false],
    ['dashboard.project.*.>', 'dashboard.project.42.>', true],
    ['dashboard.project.*.>', 'dashboard.project.*.x', true],
    ['dashboard.project.*', 'dashboard.project.>', false],
    ['dashboard.project.*', 'dashboard.project.*', true],
    ['dashboard.project.*', 'dashboard.project.a.b', false],
    ['dashboard.>', 'dashboard.a.b.c', true],
    ['dashboard.>', 'dashboard', false],
    ['dashboard.>', 'dashboards.a', false],
    ['>', 'a.b', true],
    ['>', '>', true],
    ['*', '>', false],
    ['*', 'a', true],
    ['*', 'a.b', false],
    ['a.*.c', 'a.b.c', true],
    ['a.*.c', 'a.*.c', true],
    ['a.*.c', 'a.*.*', false],
    ['a.b.c', 'a.*.c', false],
  ]
  it.each(table)('%s covers %s → %s', (outer, inner, covered) => {
    expect(coversSubject(outer, inner)).toBe(covered)
  })
})

describe('authorization rules', () => {
  const rules = ['dashboard.user.{user}.>', 'dashboard.public.>', 'dashboard.project.{project_id}.>']
  const authorize = createAuthorizer(rules)
  const alice: Principal = { user: 'alice', data: { project_id: '7d4f' } }

  const table: Array<[string, Principal, string[], string | undefined]> = [
    ['own user subtree', alice, ['dashboard.user.alice.notifications'], undefined],
    ['own user wildcard', alice, ['dashboard.user.alice.>'], undefined],
    ['someone else', alice, ['dashboard.user.bob.notifications'], 'dashboard.user.bob.notifications'],
    ['every user', alice, ['dashboard.user.*.notifications'], 'dashboard.user.*.notifications'],
    ['public', alice, ['dashboard.public.status'], undefined],
    ['project from session data', alice, ['dashboard.project.7d4f.instances'], undefined],
    ['other project', alice, ['dashboard.project.9999.instances'], 'dashboard.project.9999.instances'],
    ['all projects', alice, ['dashboard.project.*.>'], 'dashboard.project.*.>'],
    ['first denied is named', alice, ['dashboard.public.a', 'dashboard.user.bob.x', 'dashboard.user.carol.x'], 'dashboard.user.bob.x'],
    ['no project field → rule skipped', { user: 'alice' }, ['dashboard.project.7d4f.x'], 'dashboard.project.7d4f.x'],
    ['numeric field', { user: '42', data: { project_id: 7 } }, ['dashboard.project.7.x', 'dashboard.user.42.x'], undefined],
    ['user with a dot never matches', { user: 'a.b' }, ['dashboard.user.a.b.x'], 'dashboard.user.a.b.x'],
    ['user "*" never matches', { user: '*' }, ['dashboard.user.*.x'], 'dashboard.user.*.x'],
    ['user ">" never matches', { user: '>' }, ['dashboard.user.x.y'], 'dashboard.user.x.y'],
    ['user with space never matches', { user: 'a b' }, ['dashboard.user.a b.x'], 'dashboard.user.a b.x'],
    ['user with tab never matches', { user: 'a\tb' }, ['dashboard.user.a\tb.x'], 'dashboard.user.a\tb.x'],
    ['empty user never matches', { user: '' }, ['dashboard.user..x'], 'dashboard.user..x'],
    ['project with ">" never matches', { user: 'u', data: { project_id: '>' } }, ['dashboard.project.x.y'], 'dashboard.project.x.y'],
    ['principal subjects add patterns', { user: 'u', subjects: ['ops.alerts.>'] }, ['ops.alerts.disk'], undefined],
    ['principal subjects are contained too', { user: 'u', subjects: ['ops.alerts.disk'] }, ['ops.alerts.>'], 'ops.alerts.>'],
    ['invalid principal subjects are ignored', { user: 'u', subjects: ['ops..x', 'ops.a*'] }, ['ops..x'], 'ops..x'],
  ]
  it.each(table)('%s', (_n, p, topics, denied) => {
    expect(authorize(p, topics)).toBe(denied)
  })

  it('fills every placeholder of a rule', () => {
    const rules2 = parseRules(['t.{tenant}.u.{user}.>'])
    expect(allowedPatterns(rules2, { user: 'al', data: { tenant: 'acme' } })).toEqual(['t.acme.u.al.>'])
    expect(allowedPatterns(rules2, { user: 'al' })).toEqual([])
  })

  it.each([
    ['a..b'],
    ['a.{user'],
    ['a.{}.b'],
    ['a.>.b'],
    ['$SYS.>'],
  ])('rejects rule %s at configuration time', (rule) => {
    try {
      parseRules([rule])
      expect.unreachable()
    } catch (err) {
      expect(isGatewayError(err) && err.code).toBe('SSE_ERR_CONFIG')
      expect((err as Error).message).toContain('SSE_ALLOW')
    }
  })

  it('no rules and no principal subjects → nothing allowed', () => {
    expect(createAuthorizer([])({ user: 'u' }, ['a'])).toBe('a')
  })
})
