/**
 * The one registry of error codes. Codes are stable: clients and tests switch on `code`, never on text.
 * README.md's errors table is kept in sync with this list by test/errors.test.ts.
 */

export interface ErrorDef {
  /** HTTP status when the error ends a request; 200 for retry-later conditions sent as an SSE event. */
  status: number
  /** SSE event name used when the condition is reported on an open (or just opened) stream. */
  event?: string
  message: string
}

export const ERRORS = {
  SSE_ERR_TOPIC_MISSING: { status: 400, message: 'at least one topic is required (?topic=<subject>)' },
  SSE_ERR_TOPIC_INVALID: { status: 400, message: 'topic %s is not a valid subject: %s' },
  SSE_ERR_TOPIC_TOO_MANY: { status: 400, message: 'too many topics: %s given, at most %s allowed' },
  SSE_ERR_TOPIC_FORBIDDEN: { status: 403, message: 'topic %s is not allowed for this session' },
  SSE_ERR_ORIGIN_FORBIDDEN: { status: 403, message: 'origin %s is not allowed' },
  SSE_ERR_AUTH_REQUIRED: { status: 401, message: 'no valid session' },
  SSE_ERR_AUTH_UNAVAILABLE: { status: 200, event: 'unavailable', message: 'the session could not be verified right now; retry later' },
  SSE_ERR_AUTH_EXPIRED: { status: 200, event: 'unauthorized', message: 'the session has ended' },
  SSE_ERR_POLL_TIMEOUT_INVALID: { status: 400, message: 'timeout must be a number of seconds, got %s' },
  SSE_ERR_PUBLISH_DISABLED: { status: 404, message: 'publishing over HTTP is disabled (no publish token configured)' },
  SSE_ERR_PUBLISH_UNAUTHORIZED: { status: 401, message: 'missing or wrong publish token' },
  SSE_ERR_PUBLISH_INVALID: { status: 400, message: 'invalid publish body: %s' },
  SSE_ERR_PUBLISH_SUBJECT: { status: 400, message: 'subject %s cannot be published to: %s' },
  SSE_ERR_PUBLISH_TOO_LARGE: { status: 413, message: 'publish body is larger than %s bytes' },
  SSE_ERR_PUBLISH_BUSY: { status: 503, message: 'too many publishes in flight (%s); retry later' },
  SSE_ERR_PUBLISH_FAILED: { status: 503, message: 'the bus did not accept the event: %s' },
  SSE_ERR_BUSY_INSTANCE: { status: 200, event: 'busy', message: 'this instance is at its connection limit; retry later' },
  SSE_ERR_BUSY_USER: { status: 200, event: 'busy', message: 'too many open streams for this user; retry later' },
  SSE_ERR_BUS_UNAVAILABLE: { status: 200, event: 'unavailable', message: 'the event bus is not connected; retry later' },
  SSE_ERR_DRAINING: { status: 200, event: 'unavailable', message: 'this instance is shutting down; reconnect' },
  SSE_ERR_CONFIG: { status: 500, message: 'invalid configuration: %s' },
  SSE_ERR_INTERNAL: { status: 500, message: 'internal error' },
} as const satisfies Record<string, ErrorDef>

export type ErrorCode = keyof typeof ERRORS

/** Reasons a stream is told to `reset` (its cursor cannot be honoured exactly). */
export const RESET_REASONS = ['malformed', 'unknown', 'epoch', 'truncated', 'ahead', 'too_many', 'gap'] as const
export type ResetReason = typeof RESET_REASONS[number]

export class GatewayError extends Error {
  readonly code: ErrorCode
  readonly statusCode: number
  constructor (code: ErrorCode, args: Array<string | number> = [], options?: ErrorOptions) {
    let i = 0
    super(ERRORS[code].message.replace(/%s/g, () => String(args[i++] ?? '')), options)
    this.name = 'GatewayError'
    this.code = code
    this.statusCode = ERRORS[code].status
  }

  toJSON (): { error: { code: ErrorCode, message: string } } {
    return { error: { code: this.code, message: this.message } }
  }
}

export function isGatewayError (err: unknown): err is GatewayError {
  return err instanceof GatewayError
}
