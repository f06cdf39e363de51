// A tiny timing helper for the micro-benchmarks (no dependency): each case runs batches until a time budget is spent,
// after a warm-up, and reports the median batch rate, so one GC pause or VM stall does not decide the figure.
import { performance } from 'node:perf_hooks'
import fs from 'node:fs'
import path from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'

export const FULL = process.argv.includes('--full')
const BUDGET_MS = FULL ? 1500 : 300
const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..')

/**
 * Imports a compiled module from dist/ (built by `npm run build`), or undefined when it does not exist.
 * BENCH_DIST=<dir> points at another build, to compare a change with a copy of the previous dist/.
 */
export async function load (rel) {
  const file = path.join(process.env.BENCH_DIST ?? path.join(ROOT, 'dist'), rel)
  if (!fs.existsSync(file)) return undefined
  return import(pathToFileURL(file).href)
}

let sink = 0
/** Keeps results alive so V8 cannot drop the work being measured. */
export function use (v) { if (v !== undefined && v !== null) sink ^= (typeof v === 'number' ? v : (v.length ?? 1)) }

const results = []
/** Times `fn` (called `batch` times per sample); `ops` work items per call (e.g. deliveries per fan-out). */
export function bench (name, fn, { batch = 1000, ops = 1 } = {}) {
  for (let i = 0; i < batch * 2; i++) use(fn(i)) // warm-up: let the JIT settle
  const rates = []
  const t0 = performance.now()
  for (let s = 0; s < 1000 && (s < 5 || performance.now() - t0 < BUDGET_MS); s++) {
    const a = performance.now()
    for (let i = 0; i < batch; i++) use(fn(i))
    rates.push((batch * ops) / ((performance.now() - a) / 1000))
  }
  return record(name, rates)
}

/** The median rate of the samples, recorded and printed. */
function record (name, rates) {
  rates.sort((x, y) => x - y)
  const opsPerSec = Math.round(rates[rates.length >> 1])
  const r = { name, opsPerSec, nsPerOp: +(1e9 / opsPerSec).toFixed(1), samples: rates.length }
  results.push(r)
  console.error(`${name.padEnd(72)} ${String(opsPerSec).padStart(12)} ops/s ${String(r.nsPerOp).padStart(10)} ns/op`)
  return r
}

/** Like `bench`, for work that must let the event loop turn (setImmediate flushes); `fn` returns a promise. */
export async function benchAsync (name, fn, { batch = 20, ops = 1 } = {}) {
  for (let i = 0; i < batch * 2; i++) use(await fn(i))
  const rates = []
  const t0 = performance.now()
  for (let s = 0; s < 1000 && (s < 5 || performance.now() - t0 < BUDGET_MS); s++) {
    const a = performance.now()
    for (let i = 0; i < batch; i++) use(await fn(i))
    rates.push((batch * ops) / ((performance.now() - a) / 1000))
  }
  return record(name, rates)
}

export function done () {
  process.stdout.write(JSON.stringify(results) + '\n')
  if (sink === 0.5) console.error(sink)
}

export function skip (why) {
  process.stdout.write(JSON.stringify({ skipped: why }) + '\n')
}
