/** The README's errors table and src/errors.ts list the same codes, with the same statuses. */
import { readFileSync } from 'node:fs'
import { describe, expect, it } from 'vitest'
import { ERRORS, GatewayError, RESET_REASONS } from '../src/errors.js'

const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8')

describe('error registry', () => {
  it('matches the README errors table, code for code and status for status', () => {
    const rows = [...readme.matchAll(/^\|\s*`(SSE_ERR_[A-Z_]+)`\s*\|\s*(\d{3})\s*\|/gm)].map(m => [m[1], Number(m[2])])
    const registry = Object.entries(ERRORS).map(([code, def]) => [code, def.status])
    expect(rows.sort()).toEqual(registry.sort())
  })

  it('documents every reset reason', () => {
    for (const reason of RESET_REASONS) expect(readme).toContain(`\`${reason}\``)
  })

  it('gives every error a stable code, a status and a JSON body', () => {
    const e = new GatewayError('SSE_ERR_TOPIC_INVALID', ['"a..b"', 'empty_token'])
    expect(e.code).toBe('SSE_ERR_TOPIC_INVALID')
    expect(e.statusCode).toBe(400)
    expect(e.toJSON()).toEqual({ error: { code: 'SSE_ERR_TOPIC_INVALID', message: 'topic "a..b" is not a valid subject: empty_token' } })
  })
})

describe('configuration reference', () => {
  it('documents every SSE_* variable the code reads in the README', async () => {
    const { readdirSync } = await import('node:fs')
    const { join } = await import('node:path')
    const root = new URL('..', import.meta.url).pathname
    const files: string[] = []
    const walk = (dir: string): void => {
      for (const e of readdirSync(join(root, dir), { withFileTypes: true })) {
        if (e.isDirectory()) walk(join(dir, e.name))
        else if (e.name.endsWith('.ts')) files.push(join(root, dir, e.name))
      }
    }
    for (const dir of ['src', 'plugins', 'bin']) walk(dir)
    const vars = new Set<string>()
    for (const f of files) for (const m of readFileSync(f, 'utf8').matchAll(/'(SSE_[A-Z0-9_]+)'/g)) vars.add(m[1])
    expect(vars.size).toBeGreaterThan(20)
    expect([...vars].filter(v => !readme.includes(`\`${v}\``))).toEqual([])
  })
})
