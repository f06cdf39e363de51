/**
 * Bus selection: `SSE_NATS_*` / `SSE_JETSTREAM_*` environment variables → NATS options, and the factory
 * that picks the bus (a caller's instance wins, then NATS options, then the embedded memory bus).
 */
import { accessSync, constants } from 'node:fs'
import { GatewayError } from '../errors.js'
import { checkSubject } from '../subject.js'
import type { HistoryLimits } from './history.js'
import { JetStreamBus, type JetStreamOptions } from './jetstream.js'
import { MemoryBus } from './memory.js'
import type { BusLogger, NatsConnectOptions } from './nats-common.js'
import { NatsCoreBus } from './nats.js'
import type { Bus } from './types.js'

type Env = Record<string, string | undefined>

/** NATS connection plus, for JetStream mode, the stream. Absent → the embedded memory bus. */
export interface NatsConfig extends Omit<NatsConnectOptions, 'logger'> {
  jetstream?: JetStreamOptions
}

function bad (name: string, why: string): GatewayError {
  return new GatewayError('SSE_ERR_CONFIG', [`${name}: ${why}`])
}

function str (env: Env, name: string): string | undefined {
  const v = env[name]
  return v === undefined || v.trim() === '' ? undefined : v.trim()
}

function int (env: Env, name: string, min: number, max: number): number | undefined {
  const raw = str(env, name)
  if (raw === undefined) return undefined
  if (!/^\d+$/.test(raw)) throw bad(name, `must be a whole number, got ${JSON.stringify(raw)}`)
  const n = Number(raw)
  if (!Number.isSafeInteger(n) || n < min || n > max) throw bad(name, `must be between ${min} and ${max}, got ${raw}`)
  return n
}

function bool (env: Env, name: string): boolean | undefined {
  const raw = str(env, name)
  if (raw === undefined) return undefined
  if (/^(1|true|yes|on)$/i.test(raw)) return true
  if (/^(0|false|no|off)$/i.test(raw)) return false
  throw bad(name, `must be true or false, got ${JSON.stringify(raw)}`)
}

const SERVER_URL = /^(?:(?:nats|tls|ws|wss):\/\/)?(?:[^\s/@]+@)?(?:\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]+)(?::\d{1,5})?\/?$/

/**
 * Reads the NATS settings; returns undefined when `SSE_NATS_URL` is not set (embedded bus).
 * Throws SSE_ERR_CONFIG naming the variable on any bad value. Secrets are never echoed in messages.
 */
export function busConfigFromEnv (env: Env = process.env): NatsConfig | undefined {
  const url = str(env, 'SSE_NATS_URL')
  const natsOnly = ['SSE_NATS_CREDS', 'SSE_NATS_USER', 'SSE_NATS_PASSWORD', 'SSE_NATS_TOKEN', 'SSE_JETSTREAM_STREAM']
  if (url === undefined) {
    const stray = natsOnly.find(n => str(env, n) !== undefined)
    if (stray !== undefined) throw bad(stray, 'is set but SSE_NATS_URL is not (the embedded bus would silently be used)')
    return undefined
  }
  const servers = url.split(',').map(s => s.trim()).filter(s => s !== '')
  if (servers.length === 0) throw bad('SSE_NATS_URL', 'no server given')
  for (const s of servers) {
    if (!SERVER_URL.test(s)) throw bad('SSE_NATS_URL', `not a NATS server URL: ${JSON.stringify(s.replace(/\/\/[^@/]*@/, '//***@'))}`)
  }
  const cfg: NatsConfig = { servers }

  const creds = str(env, 'SSE_NATS_CREDS')
  const user = str(env, 'SSE_NATS_USER')
  const pass = env.SSE_NATS_PASSWORD !== undefined && env.SSE_NATS_PASSWORD !== '' ? env.SSE_NATS_PASSWORD : undefined
  const token = env.SSE_NATS_TOKEN !== undefined && env.SSE_NATS_TOKEN !== '' ? env.SSE_NATS_TOKEN : undefined
  if (creds !== undefined) {
    try { accessSync(creds, constants.R_OK) } catch { throw bad('SSE_NATS_CREDS', `cannot read ${creds}`) }
    cfg.creds = creds
  }
  if ((user === undefined) !== (pass === undefined)) throw bad(user === undefined ? 'SSE_NATS_USER' : 'SSE_NATS_PASSWORD', 'SSE_NATS_USER and SSE_NATS_PASSWORD go together')
  if (token !== undefined && user !== undefined) throw bad('SSE_NATS_TOKEN', 'use either a token or SSE_NATS_USER/SSE_NATS_PASSWORD, not both')
  if (user !== undefined) { cfg.user = user; cfg.pass = pass }
  if (token !== undefined) cfg.token = token

  const name = str(env, 'SSE_NATS_NAME')
  if (name !== undefined) cfg.name = name
  const set = <K extends keyof NatsConfig>(k: K, v: NatsConfig[K] | undefined): void => { if (v !== undefined) cfg[k] = v }
  set('reconnectTimeWaitMs', int(env, 'SSE_NATS_RECONNECT_WAIT_MS', 10, 600_000))
  set('reconnectJitterMs', int(env, 'SSE_NATS_RECONNECT_JITTER_MS', 0, 600_000))
  set('pingIntervalMs', int(env, 'SSE_NATS_PING_INTERVAL_MS', 100, 3_600_000))
  set('maxPingOut', int(env, 'SSE_NATS_MAX_PINGS_OUT', 1, 100))
  set('startWaitMs', int(env, 'SSE_NATS_START_WAIT_MS', 0, 3_600_000))

  const stream = str(env, 'SSE_JETSTREAM_STREAM')
  const jsOnly = ['SSE_JETSTREAM_SUBJECTS', 'SSE_JETSTREAM_CREATE', 'SSE_JETSTREAM_REPLICAS']
  if (stream === undefined) {
    const stray = jsOnly.find(n => str(env, n) !== undefined)
    if (stray !== undefined) throw bad(stray, 'is set but SSE_JETSTREAM_STREAM is not')
    return cfg
  }
  // JetStream stream names: no whitespace, `.`, `*`, `>`, path separators (the name is part of API subjects and file paths).
  if (!/^[A-Za-z0-9_-]{1,64}$/.test(stream)) throw bad('SSE_JETSTREAM_STREAM', `invalid stream name ${JSON.stringify(stream)} (letters, digits, _ and -, at most 64)`)
  const js: JetStreamOptions = { stream }
  const subjects = str(env, 'SSE_JETSTREAM_SUBJECTS')?.split(',').map(s => s.trim()).filter(s => s !== '')
  if (subjects !== undefined) {
    for (const s of subjects) {
      const problem = checkSubject(s, { limits: { maxLength: 256, maxTokens: 32 } })
      if (problem !== undefined) throw bad('SSE_JETSTREAM_SUBJECTS', `${JSON.stringify(s)} is not a valid subject (${problem})`)
    }
    js.subjects = subjects
  }
  js.create = bool(env, 'SSE_JETSTREAM_CREATE') ?? false
  if (js.create && (subjects === undefined || subjects.length === 0)) throw bad('SSE_JETSTREAM_SUBJECTS', 'required when SSE_JETSTREAM_CREATE=true')
  const setJs = <K extends keyof JetStreamOptions>(k: K, v: JetStreamOptions[K] | undefined): void => { if (v !== undefined) js[k] = v }
  setJs('replicas', int(env, 'SSE_JETSTREAM_REPLICAS', 1, 5))
  const maxAgeS = int(env, 'SSE_JETSTREAM_MAX_AGE_S', 0, 10 * 365 * 86400)
  if (maxAgeS !== undefined && maxAgeS > 0) js.maxAgeMs = maxAgeS * 1000
  setJs('maxMsgs', int(env, 'SSE_JETSTREAM_MAX_MSGS', 1, Number.MAX_SAFE_INTEGER))
  setJs('maxBytes', int(env, 'SSE_JETSTREAM_MAX_BYTES', 1, Number.MAX_SAFE_INTEGER))
  const dupS = int(env, 'SSE_JETSTREAM_DUPLICATE_WINDOW_S', 0, 86400)
  if (dupS !== undefined) js.duplicateWindowMs = dupS * 1000
  setJs('heartbeatMs', int(env, 'SSE_JETSTREAM_HEARTBEAT_MS', 100, 60_000))
  setJs('replayMaxScan', int(env, 'SSE_JETSTREAM_REPLAY_MAX_SCAN', 1, 100_000_000))
  setJs('replayTimeoutMs', int(env, 'SSE_JETSTREAM_REPLAY_TIMEOUT_MS', 100, 600_000))
  cfg.jetstream = js
  return cfg
}

export interface CreateBusOptions {
  /** A caller's own bus: used as is. */
  bus?: Bus
  /** NATS (core, or JetStream when `jetstream` is set). */
  nats?: NatsConfig
  /** History bounds of the memory bus and of core NATS mode. */
  history: HistoryLimits
  logger?: BusLogger
}

/** The caller's instance wins, then NATS options, then the embedded memory bus. */
export function createBus (o: CreateBusOptions): Bus {
  if (o.bus !== undefined) return o.bus
  if (o.nats !== undefined) {
    const conn = { ...o.nats, ...(o.logger !== undefined ? { logger: o.logger } : {}) }
    if (o.nats.jetstream !== undefined) return new JetStreamBus({ ...conn, jetstream: o.nats.jetstream })
    return new NatsCoreBus({ ...conn, history: o.history })
  }
  return new MemoryBus({ history: o.history })
}
