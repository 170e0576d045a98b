/**
 * Identical subscriptions (same document, variables and access scope) share one stream:
 * the operation runs once per group and each result fans out to every member, so an event
 * is matched and executed once, not once per socket.
 *
 * @module
 */
import type { ExecutionResult } from "graphql";
import { SubscriberQueue } from "../hub/subscriber_queue.ts";
import { RelayError } from "../model/errors.ts";

type Result = ExecutionResult;
type Started = AsyncIterable<Result> | Result;

interface Group {
  source: AsyncIterator<Result>;
  members: Set<SubscriberQueue<Result>>;
}

/** Options for {@link SharedStreams}. */
export interface SharedStreamsOptions {
  /** Results queued per member before that member is dropped as too slow. */
  maxQueued?: number;
}

/** A registry of shared subscription streams. */
export class SharedStreams {
  readonly #groups = new Map<string, Group>();
  readonly #starting = new Map<string, Promise<Started>>();
  readonly #maxQueued: number;

  constructor(options: SharedStreamsOptions = {}) {
    this.#maxQueued = options.maxQueued ?? 1000;
  }

  /** Open groups (for tests and metrics). */
  get groupCount(): number {
    return this.#groups.size;
  }

  /** Members across all groups: client subscriptions currently served by shared streams. */
  get memberCount(): number {
    let n = 0;
    for (const g of this.#groups.values()) n += g.members.size;
    return n;
  }

  /** Members of the group with `key`. */
  members(key: string): number {
    return this.#groups.get(key)?.members.size ?? 0;
  }

  /**
   * Joins the group for `key`, starting it with `start` when there is none. A start that
   * yields a single result (an error) is returned as is and not shared.
   */
  async join(key: string, start: () => Promise<Started> | Started): Promise<Started> {
    const existing = this.#groups.get(key);
    if (existing) return this.#member(key, existing);
    let starting = this.#starting.get(key);
    if (!starting) {
      starting = Promise.resolve(start());
      this.#starting.set(key, starting);
      starting.finally(() => this.#starting.delete(key)).catch(() => {});
    }
    const started = await starting;
    if (!isAsyncIterable(started)) return started;
    let group = this.#groups.get(key);
    if (!group) {
      group = { source: started[Symbol.asyncIterator](), members: new Set() };
      this.#groups.set(key, group);
      this.#pump(key, group);
    }
    return this.#member(key, group);
  }

  #member(key: string, group: Group): AsyncIterableIterator<Result> {
    const queue: SubscriberQueue<Result> = new SubscriberQueue<Result>({
      maxItems: this.#maxQueued,
      overflowError: () =>
        new RelayError("SLOW_CONSUMER", "Subscriber fell too far behind and was dropped"),
      onClose: () => {
        group.members.delete(queue);
        if (group.members.size === 0 && this.#groups.get(key) === group) {
          this.#groups.delete(key);
          // Ends the underlying subscription, which releases its upstream interest now.
          group.source.return?.();
        }
      },
    });
    group.members.add(queue);
    return queue;
  }

  async #pump(key: string, group: Group): Promise<void> {
    try {
      while (true) {
        const next = await group.source.next();
        if (next.done) break;
        for (const member of [...group.members]) member.push(next.value);
        if (group.members.size === 0) return;
      }
      for (const member of [...group.members]) member.return();
    } catch (err) {
      const error = err instanceof Error ? err : new Error(String(err));
      for (const member of [...group.members]) member.fail(error);
    } finally {
      if (this.#groups.get(key) === group) this.#groups.delete(key);
    }
  }
}

function isAsyncIterable(value: unknown): value is AsyncIterable<Result> {
  return typeof value === "object" && value !== null && Symbol.asyncIterator in value;
}
