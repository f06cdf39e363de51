import type { BusLogger } from '../../src/bus/nats-common.js'

/** Polls `cond` until true (bounded); for conditions that have no event to await. */
export async function waitUntil (cond: () => boolean | Promise<boolean>, timeoutMs = 10_000, what = 'condition'): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!(await cond())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`)
    await new Promise(resolve => setTimeout(resolve, 20))
  }
}

/** Collects log lines instead of printing them (set SSE_TEST_LOG=1 to print). */
export function quietLogger (): BusLogger & { lines: Array<{ level: string, msg?: string, obj: object }> } {
  const lines: Array<{ level: string, msg?: string, obj: object }> = []
  const at = (level: string) => (obj: object, msg?: string): void => {
    lines.push({ level, msg, obj })
    if (process.env.SSE_TEST_LOG === '1') console.log(new Date().toISOString().slice(17, 23), level, msg, JSON.stringify(obj).slice(0, 300))
  }
  return { lines, info: at('info'), warn: at('warn'), error: at('error') }
}
