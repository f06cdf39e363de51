/**
 * Keyed hashes of session cookies: the only form in which a session ever appears in logs, caches and revocations.
 */
import { createHmac, randomBytes } from 'node:crypto'

/** Length in hex characters of a session hash (128 bits). */
export const SESSION_HASH_LENGTH = 32

export type SessionHasher = (cookieValue: string) => string

/**
 * Returns `hex(HMAC-SHA256(key, cookieValue))[0:32]`.
 * The key must be shared by every gateway instance (and by a dashboard that publishes session revocations);
 * without one, a random per-process key is used, which is enough for caching but not for revocation by session.
 */
export function createSessionHasher (key?: string | Buffer): SessionHasher {
  const k = key === undefined || key.length === 0 ? randomBytes(32) : key
  return (value) => createHmac('sha256', k).update(value).digest('hex').slice(0, SESSION_HASH_LENGTH)
}
