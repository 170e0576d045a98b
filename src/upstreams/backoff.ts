/**
 * Reconnect delays: exponential backoff with full jitter, a pure function of the attempt
 * number and a random draw so tests can pin it.
 *
 * @module
 */

/** Backoff bounds in milliseconds. */
export interface BackoffPolicy {
  /** Delay cap for the first retry. */
  baseMs: number;
  /** Upper bound of any delay. */
  maxMs: number;
}

/**
 * Full jitter ("Exponential Backoff And Jitter", AWS architecture blog): a uniform draw
 * in [0, min(max, base * 2^(attempt-1))], so reconnecting clients spread out instead of
 * arriving in waves.
 *
 * @param attempt 1 for the first retry after a failure.
 * @param random a draw in [0, 1).
 */
export function backoffDelay(attempt: number, random: number, policy: BackoffPolicy): number {
  const exp = Math.min(30, Math.max(0, attempt - 1));
  const cap = Math.min(policy.maxMs, policy.baseMs * 2 ** exp);
  return Math.floor(random * cap);
}
