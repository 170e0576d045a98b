/**
 * The holder's write path into a source's stream log. Events are appended in order, in
 * batches; while Redis is unreachable they wait in a bounded buffer and are appended in
 * order when it returns. Past the bound newer events are dropped and a gap is recorded
 * once the buffer is written, so a replay across the lost events fails as expired instead
 * of passing a hole off as complete.
 *
 * @module
 */
import { newEpoch } from "../model/cursor.ts";
import type { UpstreamEvent } from "../model/event.ts";
import type { Clock } from "../platform/clock.ts";
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
}

/** Appends one source's events to its stream log, buffering across Redis outages. */
export class Appender {
  readonly #o: AppenderOptions;
  #buffer: AppendEntry[] = [];
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
    return this.#buffer.length;
  }

  /** Events dropped because the buffer was full, since the last recorded gap. */
  get lost(): number {
    return this.#lost;
  }

  /** Queues an event and appends it as soon as Redis takes it. */
  append(event: UpstreamEvent): void {
    if (this.#closed) return;
    if (this.#buffer.length >= Math.max(1, this.#o.bufferEvents)) {
      this.#lost++;
      return;
    }
    // An append whose reply was lost with the connection is retried; if Redis lost the stream
    // meanwhile, no dedupe there can catch it, so tailers drop repeats by this id.
    const data = JSON.stringify({ ...event, [APPEND_ID]: `${this.#idPrefix}.${this.#appended++}` });
    this.#buffer.push({ data, vendorId: vendorEventId(event) });
    this.#flush();
  }

  /** Drops whatever is buffered (the lease is gone: another node appends now). */
  discard(): void {
    this.#buffer = [];
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
        while (!this.#closed && (this.#buffer.length > 0 || this.#lost > 0)) {
          // Not holding: what is buffered waits for the lease to come back (resume).
          const lease = o.lease();
          if (!lease) return;
          const epoch = newEpoch(o.clock.now(), o.random);
          if (this.#buffer.length > 0) {
            const batch = this.#buffer.slice(0, o.batch ?? 256);
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
            this.#buffer.splice(0, batch.length);
          } else {
            // Every buffered event is in; the ones dropped after them are the gap.
            const recorded = await o.log.recordGap(lease, epoch);
            if (recorded === "nolease") {
              o.onNoLease();
              this.#later(100);
              return;
            }
            if (recorded === "fenced") {
              this.discard();
              o.onFenced();
              return;
            }
            this.#lost = 0;
          }
          o.onHealth(undefined);
        }
      } catch (err) {
        o.onHealth(err instanceof Error ? err.message : String(err));
        this.#later(200);
      } finally {
        this.#flushing = false;
      }
    })();
  }

  #later(ms: number): void {
    if (this.#retry !== undefined || this.#closed) return;
    this.#retry = this.#o.clock.setTimeout(() => {
      this.#retry = undefined;
      this.#flush();
    }, ms);
  }
}
