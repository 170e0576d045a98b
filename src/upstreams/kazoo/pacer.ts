/**
 * Client-side pacing under blackhole's per-socket rate limit (PROTOCOLS.md §4.5: a token
 * bucket of 100 refilled 10 per second, applied to every action including `ping`). The
 * server refills in whole-second steps, so the relay keeps a smaller bucket with a slower,
 * continuous refill: `burst + perSecond` per first second stays below the server's 100.
 *
 * @module
 */
import type { Clock, TimerId } from "../../platform/clock.ts";

/** Bucket size and refill rate. */
export interface PacingPolicy {
  burst: number;
  perSecond: number;
}

/** A FIFO token bucket; one per upstream socket (the server's bucket is per socket too). */
export class Pacer {
  readonly #policy: PacingPolicy;
  readonly #clock: Clock;
  #tokens: number;
  #last: number;
  readonly #waiting: { resolve: () => void; reject: (err: unknown) => void }[] = [];
  #timer: TimerId | undefined;
  #closed: unknown;

  constructor(policy: PacingPolicy, clock: Clock) {
    this.#policy = policy;
    this.#clock = clock;
    this.#tokens = policy.burst;
    this.#last = clock.now();
  }

  /** Requests waiting for a slot. */
  get waiting(): number {
    return this.#waiting.length;
  }

  /** Resolves when one request may be sent (in call order); rejects once closed. */
  take(): Promise<void> {
    if (this.#closed !== undefined) return Promise.reject(this.#closed);
    this.#refill();
    if (this.#waiting.length === 0 && this.#tokens >= 1) {
      this.#tokens--;
      return Promise.resolve();
    }
    return new Promise((resolve, reject) => {
      this.#waiting.push({ resolve, reject });
      this.#schedule();
    });
  }

  /** Fails every waiting request with `reason` and every later one too. */
  close(reason: unknown): void {
    this.#closed = reason;
    if (this.#timer !== undefined) this.#clock.clearTimeout(this.#timer);
    this.#timer = undefined;
    for (const w of this.#waiting.splice(0)) w.reject(reason);
  }

  #refill(): void {
    const now = this.#clock.now();
    const { burst, perSecond } = this.#policy;
    this.#tokens = Math.min(burst, this.#tokens + ((now - this.#last) * perSecond) / 1000);
    this.#last = now;
  }

  #schedule(): void {
    if (this.#timer !== undefined) return;
    const wait = Math.max(1, Math.ceil(((1 - this.#tokens) * 1000) / this.#policy.perSecond));
    this.#timer = this.#clock.setTimeout(() => {
      this.#timer = undefined;
      this.#refill();
      while (this.#waiting.length > 0 && this.#tokens >= 1) {
        this.#tokens--;
        this.#waiting.shift()?.resolve();
      }
      if (this.#waiting.length > 0) this.#schedule();
    }, wait);
  }
}
