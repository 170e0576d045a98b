/**
 * Every node's read path: one dedicated blocking connection tails the streams of all its
 * sources and feeds their entries, in order, to the local hub. At start (and whenever a
 * stream turns out to be lost, i.e. its epoch changed) a source's history is loaded from
 * its stream first, so `after:` cursors from any node, and from before any restart, replay
 * from the local mirror exactly as the stream holds them.
 *
 * @module
 */
import { formatCursor, newEpoch } from "../model/cursor.ts";
import { type Event, upstreamEventSchema } from "../model/event.ts";
import type { Clock } from "../platform/clock.ts";
import { sleep } from "../platform/clock.ts";
import type { Logger } from "../platform/log.ts";
import { APPEND_ID } from "./appender.ts";
import type { RedisClient } from "./redis.ts";
import { type LogEntry, type StreamLog, waitForEntries } from "./stream_log.ts";

/** One stored event, as the hub takes it. */
export interface StoredEvent {
  offset: number;
  event: Event;
}

/** Where tailed events go: the hub's cluster entry points. */
export interface LogFeed {
  /**
   * Replaces a source's history with `events` (oldest first) under `epoch`; `lastOffset` is the
   * stream's newest offset, `gap` the newest offset before lost events (0: none). With `live`,
   * the events are also delivered to current subscribers (the stream was lost and started
   * again: they have seen none of them).
   */
  reset(
    source: string,
    epoch: string,
    lastOffset: number,
    gap: number,
    events: readonly StoredEvent[],
    live: boolean,
  ): void;
  /** The next event of a source, in order. */
  ingest(source: string, stored: StoredEvent): void;
  /** Events at or before `gap` on `source` can no longer be replayed across. */
  setGap(source: string, gap: number): void;
}

/** A source's coverage records as this node holds them (see coverage_mirror.ts). */
export interface TailedCoverage {
  /** Version of the records held. */
  readonly version: number;
  /** Loads the records. */
  load(): Promise<void>;
  /** Loads them when the stored version differs. */
  refresh(): Promise<void>;
}

/** A tailed source. */
export interface TailedSource {
  name: string;
  log: StreamLog;
  history: number;
  /**
   * Loaded before the hub gets any entry appended after a coverage change, so a replay
   * never runs over events whose gap this node does not know yet.
   */
  coverage?: TailedCoverage;
}

/** Settings of a {@link Tailer}. */
export interface TailerOptions {
  /** A dedicated connection: a blocking read holds it. */
  blocking: RedisClient;
  sources: readonly TailedSource[];
  feed: LogFeed;
  clock: Clock;
  random: () => number;
  log: Logger;
  /** Redis reachability for reads changed (error text when down). */
  onHealth: (error: string | undefined) => void;
  blockMs?: number;
  /** How often the epoch and gap of each stream are checked while tailing. */
  checkMs?: number;
}

interface State {
  source: TailedSource;
  /** Epoch of the stream as last seen; undefined when the stream has none (yet). */
  epoch: string | undefined;
  last: number;
  gap: number;
  warm: boolean;
  loadedOnce: boolean;
}

/** Append ids remembered per source to drop repeats across a lost stream. */
const RECENT_APPEND_IDS = 4096;

/** Tails every source's stream into the hub. */
export class Tailer {
  readonly #o: TailerOptions;
  /** Per source, the newest append ids seen, across stream resets. */
  readonly #appendIds = new Map<string, Set<string>>();
  readonly #states: State[];
  readonly #abort = new AbortController();
  readonly #ready = Promise.withResolvers<void>();
  #run: Promise<void> | undefined;
  #lastCheck = 0;

  constructor(options: TailerOptions) {
    this.#o = options;
    this.#states = options.sources.map((source) => ({
      source,
      epoch: undefined,
      last: 0,
      gap: 0,
      warm: false,
      loadedOnce: false,
    }));
  }

  /** Resolves once every source's history has been loaded from Redis the first time. */
  get ready(): Promise<void> {
    return this.#ready.promise;
  }

  /** True once every source's history has been loaded. */
  get isReady(): boolean {
    return this.#states.every((s) => s.loadedOnce);
  }

  /** The epoch of `source`'s stream as loaded into the hub (undefined: none yet). */
  epochOf(source: string): string | undefined {
    return this.#states.find((s) => s.source.name === source)?.epoch;
  }

  /** Starts tailing. */
  start(): void {
    this.#run ??= this.#loop();
  }

  /** Stops tailing; the blocking connection is the caller's to close. */
  async close(): Promise<void> {
    this.#abort.abort();
    await this.#run;
  }

  async #loop(): Promise<void> {
    const { clock } = this.#o;
    const signal = this.#abort.signal;
    let failures = 0;
    while (!signal.aborted) {
      try {
        for (const s of this.#states) if (!s.warm) await this.#warm(s);
        if (this.#states.every((s) => s.loadedOnce)) this.#ready.resolve();
        const wanted = this.#states.filter((s) => s.warm);
        const batches = await waitForEntries(
          this.#o.blocking,
          wanted.map((s) => ({ key: s.source.log.key, after: s.last })),
          this.#o.blockMs ?? 1000,
        );
        if (signal.aborted) break;
        for (const [i, s] of wanted.entries()) {
          const batch = batches[i]!;
          const coverage = s.source.coverage;
          if (coverage && batch.some((e) => e.coverage > coverage.version)) await coverage.load();
          this.#apply(s, batch);
        }
        if (failures > 0 || clock.now() - this.#lastCheck >= (this.#o.checkMs ?? 1000)) {
          await this.#check();
        }
        if (failures > 0) this.#o.onHealth(undefined);
        failures = 0;
      } catch (err) {
        if (signal.aborted) break;
        failures++;
        this.#o.onHealth(err instanceof Error ? err.message : String(err));
        try {
          await sleep(clock, Math.min(1000, 100 * failures), signal);
        } catch {
          break;
        }
      }
    }
  }

  /** Loads a source's history from its stream into the hub. */
  async #warm(s: State): Promise<void> {
    const meta = await s.source.log.meta();
    const entries = meta.epoch === undefined ? [] : await s.source.log.newest(s.source.history);
    // After the entries: records newer than the history are right, older ones could miss a gap.
    await s.source.coverage?.load();
    const live = s.loadedOnce;
    if (meta.epoch === undefined) {
      // No stream (never written, or lost): a fresh local epoch, so no old cursor matches.
      const local = newEpoch(this.#o.clock.now(), this.#o.random);
      this.#o.feed.reset(s.source.name, local, 0, 0, [], false);
      s.epoch = undefined;
      s.last = 0;
      s.gap = 0;
    } else {
      const same = entries.filter((e) => e.epoch === meta.epoch);
      const last = Math.max(meta.top, same.at(-1)?.offset ?? 0);
      // A stream started afresh may hold an append this node already saw in the old one.
      const events = this.#decode(s.source.name, meta.epoch, same, meta.epoch !== s.epoch);
      this.#o.feed.reset(s.source.name, meta.epoch, last, meta.gap, events, live);
      s.epoch = meta.epoch;
      s.last = last;
      s.gap = meta.gap;
      if (live) {
        this.#o.log.warn("stream started afresh; old cursors expire", {
          source: s.source.name,
          epoch: meta.epoch,
        });
      }
    }
    s.warm = true;
    s.loadedOnce = true;
  }

  #apply(s: State, entries: readonly LogEntry[]): void {
    for (const entry of entries) {
      if (entry.epoch !== s.epoch) {
        // Entries of another epoch: the stream was lost and started again.
        s.warm = false;
        return;
      }
      const [stored] = this.#decode(s.source.name, entry.epoch, [entry]);
      s.last = entry.offset;
      if (stored) this.#o.feed.ingest(s.source.name, stored);
    }
  }

  async #check(): Promise<void> {
    this.#lastCheck = this.#o.clock.now();
    for (const s of this.#states) {
      if (!s.warm) continue;
      await s.source.coverage?.refresh();
      const meta = await s.source.log.meta();
      if (meta.epoch !== s.epoch) s.warm = false;
      else if (meta.gap !== s.gap) {
        s.gap = meta.gap;
        this.#o.feed.setGap(s.source.name, meta.gap);
      }
    }
  }

  /** Whether `id` was appended before (an append retried across a lost stream). */
  #repeat(source: string, id: unknown): boolean {
    if (typeof id !== "string") return false;
    let seen = this.#appendIds.get(source);
    if (!seen) this.#appendIds.set(source, seen = new Set());
    if (seen.has(id)) return true;
    seen.add(id);
    if (seen.size > RECENT_APPEND_IDS) seen.delete(seen.values().next().value!);
    return false;
  }

  /**
   * Reads stream entries; with `dropRepeats`, entries whose append id was seen before are
   * left out (a reload of the same stream keeps them all).
   */
  #decode(
    source: string,
    epoch: string,
    entries: readonly LogEntry[],
    dropRepeats = true,
  ): StoredEvent[] {
    const out: StoredEvent[] = [];
    for (const entry of entries) {
      let parsed;
      let raw: unknown;
      try {
        raw = JSON.parse(entry.data);
        parsed = upstreamEventSchema.safeParse(raw);
      } catch {
        parsed = undefined;
      }
      const repeat = this.#repeat(source, (raw as Record<string, unknown> | null)?.[APPEND_ID]);
      if (repeat && dropRepeats) continue;
      if (!parsed?.success || parsed.data.source !== source) {
        this.#o.log.warn("dropped an unreadable stream entry", { source, offset: entry.offset });
        continue;
      }
      out.push({
        offset: entry.offset,
        event: { ...parsed.data, id: formatCursor({ source, epoch, offset: entry.offset }) },
      });
    }
    return out;
  }
}
