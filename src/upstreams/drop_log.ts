/**
 * Counts dropped upstream frames per reason and rate-limits their log lines: a server that
 * changed shape must cost one warning a minute per reason, not one per frame.
 *
 * @module
 */
/** How often one drop reason is logged at most. */
export const DROP_LOG_INTERVAL_MS = 60_000;

/** Drop counts per reason, and when each reason may be logged again. */
export class DropLog {
  readonly #counts = new Map<string, number>();
  readonly #logged = new Map<string, { at: number; count: number }>();

  /**
   * Counts one drop; returns the number of drops of this reason not logged since its last
   * log line when it is due to be logged now (at most once per interval), else undefined.
   */
  count(reason: string, now: number): number | undefined {
    const n = (this.#counts.get(reason) ?? 0) + 1;
    this.#counts.set(reason, n);
    const last = this.#logged.get(reason);
    if (last !== undefined && now - last.at < DROP_LOG_INTERVAL_MS) return undefined;
    this.#logged.set(reason, { at: now, count: n });
    return last === undefined ? 0 : n - last.count - 1;
  }

  /** A snapshot of the counts. */
  counts(): ReadonlyMap<string, number> {
    return new Map(this.#counts);
  }
}
