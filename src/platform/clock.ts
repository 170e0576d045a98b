/**
 * Time as a dependency: everything that waits or timestamps takes a {@link Clock},
 * so tests can drive time instead of sleeping.
 *
 * @module
 */

/** An opaque timer handle returned by {@link Clock.setTimeout}. */
export type TimerId = ReturnType<typeof setTimeout>;

/** Wall-clock time and timers. */
export interface Clock {
  /** Milliseconds since the Unix epoch. */
  now(): number;
  /** Runs `fn` once after `ms` milliseconds. */
  setTimeout(fn: () => void, ms: number): TimerId;
  /** Cancels a timer; unknown ids are ignored. */
  clearTimeout(id: TimerId): void;
}

/** The real clock. */
export const systemClock: Clock = {
  now: () => Date.now(),
  setTimeout: (fn, ms) => setTimeout(fn, ms),
  clearTimeout: (id) => clearTimeout(id),
};

/**
 * Resolves after `ms` on `clock`, or rejects with the signal's reason when aborted first.
 */
export function sleep(clock: Clock, ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const onAbort = () => {
      clock.clearTimeout(id);
      reject(signal?.reason);
    };
    const id = clock.setTimeout(() => {
      signal?.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}
