/**
 * Identical subscriptions (same document, variables and access scope) share one stream:
 * the operation runs once per group and each result fans out to every member, so an event
 * is matched and executed once, not once per socket. Members that take serialised payloads
 * (`deliver`) also share the serialisation: each result is stringified once per group and
 * each socket only splices its operation id into the frame.
 *
 * The pump hands the event loop a turn after every `sliceSize` frames. Without that, a
 * backlog (a burst that arrived while the group was busy) is fanned out entirely from
 * promise callbacks: Deno queues every `send` but writes none of them until the whole
 * backlog is done, so at thousands of members clients saw seconds without a byte (the
 * post-burst stall of issue 11).
 *
 * @module
 */
import type { ExecutionResult } from "graphql";
import { SubscriberQueue } from "../hub/subscriber_queue.ts";
import { RelayError } from "../model/errors.ts";
import { nextTurn } from "../platform/next_turn.ts";

type Result = ExecutionResult;
type Started = AsyncIterable<Result> | Result;

/**
 * Writes one result, already serialised as JSON text, to a member's socket; the result
 * itself comes along for members that need more than its text (SSE reads its cursor).
 */
export type Deliver = (payloadText: string, result: Result) => void;

/** A member takes results from its queue, or as text through `deliver` (then it only ends). */
type Member =
  | { queue: SubscriberQueue<Result>; deliver: undefined }
  | { queue: EndSignal; deliver: Deliver };

/** Called once per result fanned out, with how many members it went to (metrics). */
export type OnBatch = (members: number) => void;

interface Group {
  source: AsyncIterator<Result>;
  members: Set<Member>;
  /** `members` as an array, rebuilt after a join or leave (not once per result). */
  snapshot: Member[] | undefined;
  onBatch: OnBatch | undefined;
}

/** Options for {@link SharedStreams}. */
export interface SharedStreamsOptions {
  /** Results queued per member before that member is dropped as too slow. */
  maxQueued?: number;
  /** Frames written (across members and results) before the pump yields a turn. */
  sliceSize?: number;
  /** How the pump yields (tests inject a counter); default {@link nextTurn}. */
  yieldTurn?: () => Promise<void>;
}

/** A registry of shared subscription streams. */
export class SharedStreams {
  readonly #groups = new Map<string, Group>();
  readonly #starting = new Map<
    string,
    { started: Promise<Started>; onBatch: OnBatch | undefined }
  >();
  readonly #maxQueued: number;
  readonly #sliceSize: number;
  readonly #yieldTurn: () => Promise<void>;

  constructor(options: SharedStreamsOptions = {}) {
    this.#maxQueued = options.maxQueued ?? 1000;
    this.#sliceSize = options.sliceSize ?? 512;
    this.#yieldTurn = options.yieldTurn ?? nextTurn;
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
   *
   * With `deliver`, results go to it as JSON text and the returned iterator yields nothing:
   * it only ends when the group does (done, or an error), or is returned to leave.
   * `onBatch` of the member that starts the group is the group's.
   */
  async join(
    key: string,
    start: () => Promise<Started> | Started,
    deliver?: Deliver,
    onBatch?: OnBatch,
  ): Promise<Started> {
    const existing = this.#groups.get(key);
    if (existing) return this.#member(key, existing, deliver);
    let starting = this.#starting.get(key);
    if (!starting) {
      // The starter's onBatch goes with its start: its context is the one execution uses.
      starting = { started: Promise.resolve(start()), onBatch };
      this.#starting.set(key, starting);
      starting.started.finally(() => this.#starting.delete(key)).catch(() => {});
    }
    const started = await starting.started;
    if (!isAsyncIterable(started)) return started;
    let group = this.#groups.get(key);
    if (!group) {
      group = {
        source: started[Symbol.asyncIterator](),
        members: new Set(),
        snapshot: undefined,
        onBatch: starting.onBatch,
      };
      this.#groups.set(key, group);
      this.#pump(key, group);
    }
    return this.#member(key, group, deliver);
  }

  #member(key: string, group: Group, deliver: Deliver | undefined): AsyncIterableIterator<Result> {
    const leave = () => {
      group.members.delete(member);
      group.snapshot = undefined;
      if (group.members.size === 0 && this.#groups.get(key) === group) {
        this.#groups.delete(key);
        // Ends the underlying subscription, which releases its upstream interest now.
        group.source.return?.();
      }
    };
    const member: Member = deliver ? { queue: new EndSignal(leave), deliver } : {
      queue: new SubscriberQueue<Result>({
        maxItems: this.#maxQueued,
        overflowError: () =>
          new RelayError("SLOW_CONSUMER", "Subscriber fell too far behind and was dropped"),
        onClose: leave,
      }),
      deliver: undefined,
    };
    group.members.add(member);
    group.snapshot = undefined;
    return member.queue;
  }

  async #pump(key: string, group: Group): Promise<void> {
    let budget = this.#sliceSize;
    try {
      while (true) {
        const next = await group.source.next();
        if (next.done) break;
        // Serialised once for every member that takes text (GraphQLError has toJSON).
        let text: string | undefined;
        const members = group.snapshot ??= [...group.members];
        for (const member of members) {
          if (!member.deliver) {
            member.queue.push(next.value);
            continue;
          }
          // A member that left during a yield is skipped; one that joined gets later results.
          if (member.queue.closed) continue;
          text ??= JSON.stringify(next.value);
          try {
            member.deliver(text, next.value);
          } catch {
            // That socket is closing; its close handler removes the member.
          }
          if (--budget <= 0) {
            budget = this.#sliceSize;
            await this.#yieldTurn();
          }
        }
        group.onBatch?.(members.length);
        if (group.members.size === 0) return;
      }
      for (const member of [...group.members]) member.queue.return();
    } catch (err) {
      const error = err instanceof Error ? err : new Error(String(err));
      for (const member of [...group.members]) member.queue.fail(error);
    } finally {
      if (this.#groups.get(key) === group) this.#groups.delete(key);
    }
  }
}

/**
 * What a `deliver` member's subscriber iterates: it yields nothing (its results went to the
 * socket) and only ends, when the group does or the member leaves. One small object per
 * subscription, where a queue would carry options, closures and a buffer it never uses.
 */
class EndSignal implements AsyncIterableIterator<Result> {
  #leave: (() => void) | undefined;
  #waiting: PromiseWithResolvers<IteratorResult<Result>> | undefined;
  #ended = false;
  #error: Error | undefined;

  constructor(leave: () => void) {
    this.#leave = leave;
  }

  [Symbol.asyncIterator](): this {
    return this;
  }

  /** True once it has ended (the pump skips it). */
  get closed(): boolean {
    return this.#ended;
  }

  next(): Promise<IteratorResult<Result>> {
    if (this.#error) return Promise.reject(this.#error);
    if (this.#ended) return Promise.resolve({ value: undefined, done: true });
    this.#waiting ??= Promise.withResolvers();
    return this.#waiting.promise;
  }

  /** Ends it (the group completed, or the subscriber left) and leaves the group. */
  return(): Promise<IteratorResult<Result>> {
    this.#end(undefined);
    return Promise.resolve({ value: undefined, done: true });
  }

  throw(error?: unknown): Promise<IteratorResult<Result>> {
    this.return();
    return Promise.reject(error);
  }

  /** Ends it with `error` (the group's source failed). */
  fail(error: Error): void {
    this.#end(error);
  }

  #end(error: Error | undefined): void {
    if (this.#ended) return;
    this.#ended = true;
    this.#error = error;
    const leave = this.#leave;
    this.#leave = undefined;
    leave?.();
    const waiting = this.#waiting;
    this.#waiting = undefined;
    if (!waiting) return;
    if (error) waiting.reject(error);
    else waiting.resolve({ value: undefined, done: true });
  }
}

function isAsyncIterable(value: unknown): value is AsyncIterable<Result> {
  return typeof value === "object" && value !== null && Symbol.asyncIterator in value;
}
