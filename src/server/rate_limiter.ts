/**
 * Token buckets keyed by client: each key gets `burst` tokens, refilled continuously at
 * `perMinute`. Used for new subscriptions (graphql-ws and SSE alike) and for connections.
 *
 * @module
 */
import type { Clock } from "../platform/clock.ts";

/** A bucket's rate and size. */
export interface RateLimit {
  /** Tokens added per minute. */
  perMinute: number;
  /** Bucket size: what a key may spend at once after being idle. */
  burst: number;
}

/**
 * A bucket's tokens after refilling from `since` to `now` at `perMinute`, capped at
 * `capacity`: the one refill rule of every bucket here and in admission.
 */
export function refilled(
  tokens: number,
  since: number,
  now: number,
  perMinute: number,
  capacity: number,
): number {
  return Math.min(capacity, tokens + ((now - since) / 60_000) * perMinute);
}

/** Buckets beyond which full (idle) ones are forgotten. */
const PRUNE_ABOVE = 10_000;

/** A token bucket per key. */
export class RateLimiter {
  readonly #limit: RateLimit;
  readonly #clock: Clock;
  readonly #buckets = new Map<string, { tokens: number; at: number }>();

  constructor(limit: RateLimit, clock: Clock) {
    this.#limit = { perMinute: limit.perMinute, burst: Math.max(1, limit.burst) };
    this.#clock = clock;
  }

  /** The configured rate and burst. */
  get limit(): RateLimit {
    return this.#limit;
  }

  /** Takes one token for `key`; false (and nothing taken) when the bucket is empty. */
  take(key: string): boolean {
    const { perMinute, burst } = this.#limit;
    const now = this.#clock.now();
    const bucket = this.#buckets.get(key) ?? { tokens: burst, at: now };
    bucket.tokens = refilled(bucket.tokens, bucket.at, now, perMinute, burst);
    bucket.at = now;
    this.#buckets.set(key, bucket);
    if (this.#buckets.size > PRUNE_ABOVE) this.#prune(now);
    if (bucket.tokens < 1) return false;
    bucket.tokens -= 1;
    return true;
  }

  #prune(now: number): void {
    // Full buckets carry no state worth keeping.
    const { perMinute, burst } = this.#limit;
    for (const [key, b] of this.#buckets) {
      if (refilled(b.tokens, b.at, now, perMinute, burst) >= burst) this.#buckets.delete(key);
    }
  }
}
