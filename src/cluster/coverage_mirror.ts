/**
 * Every node's read side of the cluster's coverage: the records the holder wrote
 * ({@link CoverageStore}), loaded before this node's history holds any event appended after
 * them, so a replay here is judged exactly as the holder recorded it.
 *
 * @module
 */
import {
  type CoverageView,
  type Gap,
  type GapRecord,
  latestBreak,
  type Mark,
} from "../hub/coverage.ts";
import type { CoverageStore, StoredCoverage } from "./coverage_store.ts";

/** Settings of a {@link CoverageMirror}. */
export interface CoverageMirrorOptions {
  store: CoverageStore;
  /** Whether interest `wide` receives everything `narrow` does (the vendor's rule). */
  covers?: (wide: string, narrow: string) => boolean;
  /** The epoch of the stream as this node's history holds it. */
  streamEpoch: () => string | undefined;
  /**
   * Since when this node has seen no holder of the source (its heartbeat found no lease),
   * or undefined: no one is receiving then, whatever the records say.
   */
  holderlessSince: () => Mark | undefined;
  now: () => number;
}

/** One source's coverage as stored, for replays and `Source.gaps`. */
export class CoverageMirror implements CoverageView {
  readonly #o: CoverageMirrorOptions;
  #stored: StoredCoverage | undefined;
  #loading: Promise<void> | undefined;
  #again = false;

  constructor(options: CoverageMirrorOptions) {
    this.#o = options;
  }

  /** Version of the records held (-1 before the first load). */
  get version(): number {
    return this.#stored?.version ?? -1;
  }

  /** Loads the records (one load at a time; a request during a load loads once more). */
  load(): Promise<void> {
    if (this.#loading) {
      this.#again = true;
      return this.#loading;
    }
    this.#loading = (async () => {
      try {
        do {
          this.#again = false;
          this.#stored = await this.#o.store.load();
        } while (this.#again);
      } finally {
        this.#loading = undefined;
      }
    })();
    return this.#loading;
  }

  /** Loads the records when the store has a newer version than held. */
  async refresh(): Promise<void> {
    if ((await this.#o.store.version()) !== this.version) await this.load();
  }

  breakAfter(keys: readonly string[], offset: number): Gap | undefined {
    const stored = this.#stored;
    const none = this.#o.holderlessSince();
    if (none) return { reason: "NO_HOLDER", key: undefined, from: none, to: undefined };
    if (!stored || stored.epoch === undefined || stored.epoch !== this.#o.streamEpoch()) {
      // No records for this stream (yet): nothing says the holder was receiving.
      const from = stored?.start ?? { at: this.#o.now(), offset: 0 };
      return { reason: "NO_HOLDER", key: undefined, from, to: undefined };
    }
    const wide = (): Iterable<[string, GapRecord]> => stored.keys;
    return latestBreak(
      stored.source,
      (key) => stored.keys.get(key),
      wide,
      this.#o.covers ?? (() => false),
      stored.start,
      keys,
      offset,
    );
  }

  gaps(): Gap[] {
    const stored = this.#stored;
    if (!stored) return [];
    // Open gaps first (newest first), then the closed ones.
    const open = [...stored.listedOpen].sort((a, b) => b.from.at - a.from.at);
    return [...open, ...stored.listed].slice(0, 100).map((g) => ({ ...g }));
  }
}
