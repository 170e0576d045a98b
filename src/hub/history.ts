/**
 * A per-source ring of the most recent events, addressed by offset, for `after:` replay
 * and `recentEvents`.
 *
 * @module
 */

/** The outcome of asking for the events after an offset. */
export type ReplayResult<T> =
  | { ok: true; items: T[] }
  | { ok: false; reason: "expired" | "future" };

/** A fixed-capacity ring buffer of items with consecutive offsets starting at 1. */
export class History<T> {
  readonly #items: (T | undefined)[];
  readonly #capacity: number;
  /** Offset of the newest item; 0 when empty. */
  #last = 0;

  constructor(capacity: number) {
    this.#capacity = Math.max(0, Math.floor(capacity));
    this.#items = new Array(this.#capacity);
  }

  /** Offset of the newest item (0 when nothing was ever pushed). */
  get lastOffset(): number {
    return this.#last;
  }

  /** Offset of the oldest item still held; `lastOffset + 1` when empty. */
  get firstOffset(): number {
    return Math.max(1, this.#last - this.#capacity + 1);
  }

  /** How many items are held. */
  get size(): number {
    return Math.min(this.#last, this.#capacity);
  }

  /**
   * Empties the ring and continues numbering after `lastOffset` (cluster mode: the ring
   * mirrors a stream whose offsets it does not allocate).
   */
  restart(lastOffset: number): void {
    this.#items.fill(undefined);
    this.#last = Math.max(0, Math.floor(lastOffset));
  }

  /** Appends an item built from its offset (so ids can embed the offset); returns it. */
  push(make: (offset: number) => T): T {
    const offset = ++this.#last;
    const item = make(offset);
    if (this.#capacity > 0) this.#items[(offset - 1) % this.#capacity] = item;
    return item;
  }

  /** The item at `offset`, if still held. */
  at(offset: number): T | undefined {
    if (offset < this.firstOffset || offset > this.#last || this.#capacity === 0) return undefined;
    return this.#items[(offset - 1) % this.#capacity];
  }

  /**
   * Every item newer than `offset`, all or nothing: if any of them has been evicted the
   * result is `expired`, never a list with a gap.
   */
  after(offset: number): ReplayResult<T> {
    if (offset > this.#last) return { ok: false, reason: "future" };
    if (offset === this.#last) return { ok: true, items: [] };
    if (offset + 1 < this.firstOffset || this.#capacity === 0) {
      return { ok: false, reason: "expired" };
    }
    const items: T[] = [];
    for (let o = offset + 1; o <= this.#last; o++) {
      const item = this.at(o);
      if (item !== undefined) items.push(item);
    }
    return { ok: true, items };
  }

  /** Held items, newest first. */
  *newestFirst(): Generator<T> {
    for (let o = this.#last; o >= this.firstOffset && o > 0; o--) {
      const item = this.at(o);
      if (item !== undefined) yield item;
    }
  }
}
