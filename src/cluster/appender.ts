/**
 * The holder's write path into a source's stream log. Events are appended in order, in
 * batches; while Redis is unreachable they wait in a bounded buffer and are appended in
 * order when it returns. Past the bound newer events are dropped and a gap is recorded
 * once the buffer is written, so a replay across the lost events fails as expired instead
 * of passing a hole off as complete.
 *
 * Coverage changes go through the same queue, so each is written after exactly the events
 * published before it: a gap that closed after event `n` was appended records `n`'s offset.
 *
 * @module
 */
import type { CoverageSnapshot } from "../hub/coverage.ts";
import { newEpoch } from "../model/cursor.ts";
import type { UpstreamEvent } from "../model/event.ts";
import type { Clock } from "../platform/clock.ts";
import type { CoverageOp, CoverageStore } from "./coverage_store.ts";
import type { AppendEntry, StreamLog } from "./stream_log.ts";
import { vendorEventId } from "./vendor_ids.ts";

/** Settings of an {@link Appender}. */
/** The stream entry field naming one append: the same id twice is the same event. */
export const APPEND_ID = "_appendId";

/** Options of {@link Appender}. */
export interface AppenderOptions {
  log: StreamLog;
  history: number;
  dedupeWindow: number;
  /** Events held while Redis is away. */
  bufferEvents: number;
  clock: Clock;
  random: () => number;
  /** The lease value to append under, or undefined when this node does not hold the source. */
  lease: () => string | undefined;
  /** The lease was lost (an append was fenced): stop holding the source. */
  onFenced: () => void;
  /** No one holds the lease in Redis (it lost it): renew now, which takes it back. */
  onNoLease: () => void;
  /** Redis reachability changed, with the failure when it is down. */
  onHealth: (error: string | undefined) => void;
  /** Most events per script call. */
  batch?: number;
  /** Where coverage changes go (cluster coverage); absent: {@link Appender.coverage} is a no-op. */
  coverage?: {
    store: CoverageStore;
    /** The holder's coverage now, for a store whose records are stale. */
    snapshot: () => CoverageSnapshot;
  };
}

/**
 * A coverage change as queued. `seq` of a close is the count of events queued when the
 * interest was confirmed: the gap's end is the offset the newest of them got.
 */
export type QueuedCoverage =
  | Exclude<CoverageOp, { t: "close" }>
  | { t: "close"; k?: string; at: number; seq: number };

type Queued =
  | { kind: "event"; entry: AppendEntry; seq: number }
  | { kind: "coverage"; op: QueuedCoverage };

/** Offsets remembered per queued event, to turn a close's `seq` into its offset. */
const SEQ_OFFSETS = 10_000;

/** Appends one source's events to its stream log, buffering across Redis outages. */
export class Appender {
  readonly #o: AppenderOptions;
  #buffer: Queued[] = [];
  #events = 0;
  /** Event seq -> offset of the newest event appended up to it (duplicates add none). */
  readonly #seqOffsets = new Map<number, number>();
  #lastOffset: number | undefined;
  /** The stream epoch the coverage records were last written for. */
  #coverageEpoch: string | undefined;
  #resync = false;
  #idle: PromiseWithResolvers<void> | undefined;
  /** Prefix of this appender's append ids (see {@link APPEND_ID}). */
  readonly #idPrefix = Math.floor(Math.random() * 2 ** 48).toString(36);
  #appended = 0;
  #lost = 0;
  #flushing = false;
  #retry: ReturnType<Clock["setTimeout"]> | undefined;
  #closed = false;
  /** The lease and stream position of the last append, to notice a holder in between. */
  #lastLease: string | undefined;
  #mark: { epoch: string; top: number } | undefined;

  constructor(options: AppenderOptions) {
    this.#o = options;
  }

  /** Events waiting to be appended. */
  get buffered(): number {
    return this.#events;
  }

  /** Events queued so far (the `seq` a coverage close refers to). */
  get sequence(): number {
    return this.#appended;
  }

  /** Events dropped because the buffer was full, since the last recorded gap. */
  get lost(): number {
    return this.#lost;
  }

  /** Queues an event and appends it as soon as Redis takes it. */
  append(event: UpstreamEvent): void {
    if (this.#closed) return;
    if (this.#events >= Math.max(1, this.#o.bufferEvents)) {
      this.#lost++;
      this.#appended++;
      return;
    }
    // An append whose reply was lost with the connection is retried; if Redis lost the stream
    // meanwhile, no dedupe there can catch it, so tailers drop repeats by this id.
    const seq = ++this.#appended;
    const data = JSON.stringify({ ...event, [APPEND_ID]: `${this.#idPrefix}.${seq - 1}` });
    this.#buffer.push({ kind: "event", entry: { data, vendorId: vendorEventId(event) }, seq });
    this.#events++;
    this.#flush();
  }

  /** Queues a coverage change after every event queued so far. */
  coverage(op: QueuedCoverage): void {
    if (this.#closed || !this.#o.coverage) return;
    this.#buffer.push({ kind: "coverage", op });
    this.#flush();
  }

  /** Resolves once nothing is queued, or after `ms`. */
  async settled(ms: number): Promise<void> {
    if (this.#buffer.length === 0 && !this.#flushing) return;
    this.#idle ??= Promise.withResolvers();
    let timer: ReturnType<Clock["setTimeout"]> | undefined;
    await Promise.race([
      this.#idle.promise,
      new Promise<void>((r) => (timer = this.#o.clock.setTimeout(r, ms))),
    ]);
    if (timer !== undefined) this.#o.clock.clearTimeout(timer);
  }

  /** Drops whatever is buffered (the lease is gone: another node appends now). */
  discard(): void {
    this.#buffer = [];
    this.#events = 0;
    this.#lost = 0;
  }

  /** Appends what is buffered now (the lease was taken again). */
  resume(): void {
    this.#flush();
  }

  /** Stops retrying. */
  close(): void {
    this.#closed = true;
    if (this.#retry !== undefined) this.#o.clock.clearTimeout(this.#retry);
  }

  #flush(): void {
    if (this.#flushing || this.#closed) return;
    this.#flushing = true;
    (async () => {
      const o = this.#o;
      try {
        while (
          !this.#closed && (this.#buffer.length > 0 || this.#lost > 0 || this.#resync)
        ) {
          // Not holding: what is buffered waits for the lease to come back (resume).
          const lease = o.lease();
          if (!lease) return;
          const epoch = newEpoch(o.clock.now(), o.random);
          const head = this.#buffer[0];
          if (this.#resync && o.coverage) {
            const written = await o.coverage.store.replace(
              lease,
              epoch,
              o.clock.now(),
              this.#snapshot(o.coverage.snapshot()),
            );
            if (this.#refused(written)) return;
            this.#resync = false;
            this.#coverageEpoch = written.epoch;
          } else if (head?.kind === "coverage" && o.coverage) {
            const ops: QueuedCoverage[] = [];
            for (const q of this.#buffer) {
              if (q.kind !== "coverage" || ops.length >= 64) break;
              ops.push(q.op);
            }
            const written = await o.coverage.store.apply(
              lease,
              epoch,
              ops.map((op) => this.#resolve(op)),
            );
            if (this.#refused(written)) return;
            if (written === "resync") {
              this.#resync = true;
              continue;
            }
            this.#coverageEpoch = written.epoch;
            this.#buffer.splice(0, ops.length);
          } else if (head?.kind === "coverage") {
            this.#buffer.shift();
          } else if (head) {
            const queued: Extract<Queued, { kind: "event" }>[] = [];
            for (const q of this.#buffer) {
              if (q.kind !== "event" || queued.length >= (o.batch ?? 256)) break;
              queued.push(q);
            }
            const batch = queued.map((q) => q.entry);
            // Under a new grant, buffered events go in only if no other holder appended since.
            const expect = lease !== this.#lastLease ? this.#mark : undefined;
            const result = await o.log.append(
              lease,
              epoch,
              o.history,
              o.dedupeWindow,
              batch,
              expect,
            );
            if (!result.ok && result.reason === "nolease") {
              o.onNoLease();
              this.#later(100);
              return;
            }
            if (!result.ok) {
              this.discard();
              if (result.reason === "fenced") o.onFenced();
              continue;
            }
            this.#lastLease = lease;
            const last = result.offsets.findLast((x) => x !== null);
            if (last !== undefined && last !== null) {
              this.#mark = { epoch: result.epoch, top: last };
            }
            this.#noteOffsets(result.epoch, queued, result.offsets);
            this.#buffer.splice(0, batch.length);
            this.#events -= batch.length;
          } else {
            // Every buffered event is in; the ones dropped after them are the gap.
            if (this.#refused(await o.log.recordGap(lease, epoch))) return;
            this.#lost = 0;
          }
          o.onHealth(undefined);
        }
      } catch (err) {
        o.onHealth(err instanceof Error ? err.message : String(err));
        this.#later(200);
      } finally {
        this.#flushing = false;
        if (this.#buffer.length === 0) {
          this.#idle?.resolve();
          this.#idle = undefined;
        }
      }
    })();
  }

  /**
   * Handles a write Redis refused for want of our lease: renew it (no one holds it) or give
   * up what is buffered (another node does). True when the flush must stop.
   */
  #refused(outcome: string | object): outcome is "nolease" | "fenced" {
    if (outcome === "nolease") {
      this.#o.onNoLease();
      this.#later(100);
      return true;
    }
    if (outcome === "fenced") {
      this.discard();
      this.#o.onFenced();
      return true;
    }
    return false;
  }

  /** Remembers which offset each appended event's seq stands for. */
  #noteOffsets(
    epoch: string,
    queued: readonly { seq: number }[],
    offsets: readonly (number | null)[],
  ): void {
    if (!this.#o.coverage) return;
    if (epoch !== this.#coverageEpoch) {
      // A stream this appender wrote no coverage for (new, or lost): the records go next.
      if (this.#coverageEpoch !== undefined) {
        this.#seqOffsets.clear();
        this.#lastOffset = undefined;
      }
      this.#resync = true;
    }
    queued.forEach((q, i) => {
      this.#lastOffset = offsets[i] ?? this.#lastOffset;
      if (this.#lastOffset !== undefined) this.#seqOffsets.set(q.seq, this.#lastOffset);
    });
    while (this.#seqOffsets.size > SEQ_OFFSETS) {
      this.#seqOffsets.delete(this.#seqOffsets.keys().next().value!);
    }
  }

  /** A queued change as the store takes it: a close's seq becomes an offset (-1: the top). */
  #resolve(op: QueuedCoverage): CoverageOp {
    if (op.t !== "close") return op;
    const { seq, ...rest } = op;
    return { ...rest, off: this.#seqOffsets.get(seq) ?? -1 };
  }

  /** The holder's state, with every key a queued change is for still open (not yet written). */
  #snapshot(now: CoverageSnapshot): CoverageSnapshot {
    const at = this.#o.clock.now();
    const pending = new Set<string | undefined>();
    for (const q of this.#buffer) {
      if (q.kind === "coverage" && q.op.t !== "takeover") pending.add(q.op.k);
    }
    return {
      source: now.source ??
        (pending.has(undefined) ? { reason: "UPSTREAM_DISCONNECTED", at } : undefined),
      keys: now.keys.map((k) =>
        k.open || !pending.has(k.key)
          ? k
          : { ...k, open: { reason: "NOT_REGISTERED", at, listed: false } }
      ),
    };
  }

  #later(ms: number): void {
    if (this.#retry !== undefined || this.#closed) return;
    this.#retry = this.#o.clock.setTimeout(() => {
      this.#retry = undefined;
      this.#flush();
    }, ms);
  }
}
