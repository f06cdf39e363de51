/**
 * Counters that parts outside the gateway core feed (authentication), read by plugins/metrics.ts at scrape time.
 * Framework- and prom-client-free: an auth strategy takes an `AuthMetrics` and calls it; nothing here allocates per call.
 */

export type DashboardOutcome = 'ok' | 'denied' | 'unavailable'

/** What an authentication strategy reports. Every method is cheap and never throws. */
export interface AuthMetrics {
  /** A session answer came from the cache (positive or negative). */
  cacheHit (): void
  /** A session answer needed a verification (a dashboard call, a signature check). */
  cacheMiss (): void
  /** One call to the dashboard finished after `ms` milliseconds with `outcome`. */
  dashboardCall (ms: number, outcome: DashboardOutcome): void
}

/** Upper bounds (seconds) of the dashboard latency histogram: the auth timeout is ~1 s. */
export const DASHBOARD_LATENCY_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5] as const

/**
 * The default `AuthMetrics`: plain counters and a fixed-bucket histogram (cumulative counts are computed when
 * scraped). One instance per gateway: `fastify.sseGateway.authMetrics`.
 */
export class AuthTelemetry implements AuthMetrics {
  cacheHits = 0
  cacheMisses = 0
  readonly calls: Record<DashboardOutcome, number> = { ok: 0, denied: 0, unavailable: 0 }
  /** Per-bucket (not cumulative) counts; the last slot is +Inf. */
  readonly latencyBuckets: number[] = new Array(DASHBOARD_LATENCY_BUCKETS.length + 1).fill(0)
  latencySumSeconds = 0
  latencyCount = 0

  readonly cacheHit = (): void => { this.cacheHits++ }
  readonly cacheMiss = (): void => { this.cacheMisses++ }
  readonly dashboardCall = (ms: number, outcome: DashboardOutcome): void => {
    if (!Number.isFinite(ms) || ms < 0) return
    const s = ms / 1000
    let i = 0
    while (i < DASHBOARD_LATENCY_BUCKETS.length && s > DASHBOARD_LATENCY_BUCKETS[i]) i++
    this.latencyBuckets[i]++
    this.latencySumSeconds += s
    this.latencyCount++
    if (outcome in this.calls) this.calls[outcome]++
  }
}
