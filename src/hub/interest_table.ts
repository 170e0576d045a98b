/**
 * The lifetime of one source's upstream interest: items refcounted by key, standing items
 * that never go, and a resume window during which an item nobody holds stays registered
 * ("lingering"), so a subscriber that drops and comes back within it misses nothing and
 * the upstream sees no deregister/register pair.
 *
 * @module
 */
import type { Clock, TimerId } from "../platform/clock.ts";
import type { InterestItem } from "./interest.ts";

/** One wanted key as {@link InterestTable.entries} shows it. */
export interface InterestEntry {
  readonly key: string;
  /** Live subscription parts holding it. */
  readonly holders: number;
  /** Kept at all times by config (`standing`). */
  readonly standing: boolean;
  /** Set while nobody holds it: it is deregistered at this time unless someone returns. */
  readonly lingeringUntil: number | undefined;
}

/** A change of the wanted set, with what was added and removed. */
export interface InterestChange {
  readonly wanted: ReadonlyMap<string, InterestItem>;
  readonly added: readonly string[];
  readonly removed: readonly string[];
}

/** Dependencies of an {@link InterestTable}. */
export interface InterestTableOptions {
  clock: Clock;
  /** How long an item nobody holds stays wanted; 0 drops it at once. */
  resumeWindowMs: number;
  /** Called after every change of the set of wanted keys (per batch with `batch`). */
  onChange(change: InterestChange): void;
  /**
   * Batches changes: called with a flush once changes are pending, it runs the flush later
   * (the app: after an event-loop turn), and all changes made until then reach `onChange`
   * as one. Each change hands the sink a copy of the whole set, so a storm of distinct
   * subscriptions is quadratic without it. Absent: every change is reported at once.
   */
  batch?: (flush: () => void) => void;
}

interface Held {
  item: InterestItem;
  holders: number;
  standing: number;
  lingeringUntil: number | undefined;
  timer: TimerId | undefined;
}

/** Refcounted interest with a resume window. */
export class InterestTable {
  readonly #o: InterestTableOptions;
  readonly #held = new Map<string, Held>();
  /** The items of `#held`, kept beside it: each change hands out a copy of this map. */
  readonly #items = new Map<string, InterestItem>();
  /** Keys added and removed since the last reported change (with `batch`). */
  readonly #added = new Set<string>();
  readonly #removed = new Set<string>();
  #flushPending = false;
  #closed = false;

  constructor(options: InterestTableOptions) {
    this.#o = options;
  }

  /** The wanted items (held, standing or lingering), in first-wanted order. */
  wanted(): Map<string, InterestItem> {
    // A native copy: 10,000 distinct subscriptions cost 15 s of CPU when each change
    // rebuilt the map from entry pairs.
    return new Map(this.#items);
  }

  /** Wanted keys, in first-wanted order. */
  keys(): string[] {
    return [...this.#held.keys()];
  }

  /** True when `key` is wanted (held, standing or lingering). */
  has(key: string): boolean {
    return this.#held.has(key);
  }

  /** Every wanted key with who holds it. */
  entries(): InterestEntry[] {
    return [...this.#held].map(([key, h]) => ({
      key,
      holders: h.holders,
      standing: h.standing > 0,
      lingeringUntil: h.lingeringUntil,
    }));
  }

  /** Takes one hold on each item; `standing` holds are never released. */
  acquire(items: readonly InterestItem[], standing = false): void {
    const added: string[] = [];
    for (const item of items) {
      let held = this.#held.get(item.key);
      if (!held) {
        held = { item, holders: 0, standing: 0, lingeringUntil: undefined, timer: undefined };
        this.#held.set(item.key, held);
        this.#items.set(item.key, item);
        added.push(item.key);
      }
      if (standing) held.standing++;
      else held.holders++;
      this.#stopLingering(held);
    }
    if (added.length > 0) this.#emit(added, []);
  }

  /** Drops one hold on each item; an item nobody holds lingers for the resume window. */
  release(items: readonly InterestItem[]): void {
    const removed: string[] = [];
    for (const item of items) {
      const held = this.#held.get(item.key);
      if (!held || held.holders === 0) continue;
      if (--held.holders > 0 || held.standing > 0) continue;
      if (this.#o.resumeWindowMs > 0 && !this.#closed) this.#linger(item.key, held);
      else {
        this.#held.delete(item.key);
        this.#items.delete(item.key);
        removed.push(item.key);
      }
    }
    if (removed.length > 0) this.#emit([], removed);
  }

  /** Cancels every window timer (the app is stopping); lingering items stay until then. */
  close(): void {
    this.#closed = true;
    for (const held of this.#held.values()) this.#stopLingering(held);
  }

  #linger(key: string, held: Held): void {
    const { clock, resumeWindowMs } = this.#o;
    held.lingeringUntil = clock.now() + resumeWindowMs;
    held.timer = clock.setTimeout(() => {
      held.timer = undefined;
      if (this.#held.get(key) !== held || held.holders > 0 || held.standing > 0) return;
      this.#held.delete(key);
      this.#items.delete(key);
      this.#emit([], [key]);
    }, resumeWindowMs);
  }

  #stopLingering(held: Held): void {
    if (held.timer !== undefined) this.#o.clock.clearTimeout(held.timer);
    held.timer = undefined;
    held.lingeringUntil = undefined;
  }

  #emit(added: string[], removed: string[]): void {
    const { batch } = this.#o;
    if (!batch) {
      this.#o.onChange({ wanted: this.wanted(), added, removed });
      return;
    }
    // A key added and removed within one batch was never reported: it cancels out.
    for (const key of added) if (!this.#removed.delete(key)) this.#added.add(key);
    for (const key of removed) if (!this.#added.delete(key)) this.#removed.add(key);
    if (this.#flushPending) return;
    this.#flushPending = true;
    batch(() => this.#flush());
  }

  #flush(): void {
    this.#flushPending = false;
    if (this.#added.size === 0 && this.#removed.size === 0) return;
    const added = [...this.#added];
    const removed = [...this.#removed];
    this.#added.clear();
    this.#removed.clear();
    this.#o.onChange({ wanted: this.wanted(), added, removed });
  }
}
