/**
 * The subscription hub: per-source history, interest refcounting, indexed matching and
 * fan-out to bounded per-subscriber queues.
 *
 * Delivery runs in bounded slices that yield to the event loop between them, so a burst
 * with thousands of subscribers never starves socket pongs. Every subscriber remembers the
 * newest offset it got per source, which makes replay-then-live gap-free and duplicate-free
 * even while a delivery is still in flight.
 *
 * @module
 */
import type { Clock } from "../platform/clock.ts";
import { systemClock } from "../platform/clock.ts";
import { nextTurn } from "../platform/next_turn.ts";
import { type Cursor, formatCursor, newEpoch, parseCursor } from "../model/cursor.ts";
import { formatComposite } from "../model/composite_cursor.ts";
import { RelayError } from "../model/errors.ts";
import type { Event, UpstreamEvent, Vendor } from "../model/event.ts";
import { Coverage, type CoverageView, describeGap, type Gap, type Mark } from "./coverage.ts";
import { History } from "./history.ts";
import type { InterestItem, InterestSink } from "./interest.ts";
import { type InterestEntry, InterestTable } from "./interest_table.ts";
import { SubscriberQueue } from "./subscriber_queue.ts";

/** One source's share of a subscription. */
export interface SubscriptionPart {
  source: string;
  /** Upstream interest this part needs (refcounted by key). */
  interest: readonly InterestItem[];
  /** Exact local filter: true for events this subscriber wants. */
  match(event: Event): boolean;
  /**
   * Event types this part can match, for the index; `undefined` means any type.
   * Must be a superset of what `match` accepts.
   */
  types?: readonly string[] | undefined;
  /**
   * Event keys (`Event.key`) this part can match, for the index; `undefined` means any key.
   * Must be a superset of what `match` accepts. With one key per subscriber (a DRP machine
   * each), an event reaches its few subscribers without testing all the others.
   */
  keys?: readonly string[] | undefined;
}

/** Options of {@link Hub.subscribe}. */
export interface SubscribeOptions {
  /** Replay events newer than this cursor (an event id), then go live. */
  after?: string | undefined;
  /**
   * A composite resume: every listed source replays from its own cursor (each all or
   * nothing, by the same rules as `after`), the others start live. Overrides `after`.
   */
  resume?: readonly Cursor[] | undefined;
  /**
   * Give every delivered event a `cursor`: the composite cursor of this subscription (the
   * newest offset delivered on each of its sources), for the cross-vendor `events` stream.
   */
  composite?: boolean | undefined;
}

/** Hub-wide settings. */
export interface HubOptions {
  clock?: Clock;
  random?: () => number;
  /** Most events queued per subscriber before it is ended as too slow. */
  maxQueuedPerSubscriber?: number;
  /** Deliveries per slice before yielding to the event loop. */
  sliceSize?: number;
  /**
   * Batches each source's interest changes (see {@link InterestTableOptions.batch}); absent,
   * every change reaches the sink at once.
   */
  batchInterest?: (flush: () => void) => void;
}

/** Per-source settings of {@link Hub.addSource}. */
export interface SourceOptions {
  /**
   * How long interest nobody holds any more stays registered upstream, so a subscriber that
   * returns within it misses nothing; 0 deregisters at once.
   */
  resumeWindowMs?: number;
  /** Upstream sockets feeding the source; coverage needs every one of them receiving. */
  sockets?: number;
  /**
   * Record coverage from {@link Hub.reportReceiving} and refuse replays across its breaks
   * (default, or true). A view instead: replays and {@link Hub.gaps} consult it and nothing is
   * recorded here (cluster mode: the holder records, every node reads the cluster's records).
   * False: no coverage at all.
   */
  coverage?: boolean | CoverageView;
  /** Whether interest `wide` receives everything `narrow` does (see {@link Coverage}). */
  interestCovers?: (wide: string, narrow: string) => boolean;
}

/** Per-source counters. */
export interface SourceStats {
  eventsReceived: number;
  lastEventAt: number | undefined;
}

interface Subscriber {
  readonly queue: SubscriberQueue<Event>;
  readonly parts: readonly SubscriptionPart[];
  /** Newest offset delivered, per source. */
  readonly seen: Map<string, number>;
  /** Composite subscriptions: the sources their cursors cover, in order. */
  readonly composite: readonly string[] | undefined;
}

interface Channel {
  readonly vendor: Vendor;
  /** Changes only in cluster mode, when the source's stream started afresh. */
  epoch: string;
  readonly history: History<Event>;
  /** Cluster mode: newest offset before events that never reached the stream (0: none). */
  gap: number;
  sink: InterestSink | undefined;
  readonly interest: InterestTable;
  /** Undefined when the source's coverage is not recorded here (cluster mode). */
  readonly coverage: Coverage | undefined;
  /** What replays consult: `coverage`, or the cluster's records. */
  view: CoverageView | undefined;
  /** Version of each interest set handed to the sink, so sync reports can name theirs. */
  readonly versions: WeakMap<ReadonlyMap<string, InterestItem>, number>;
  version: number;
  /** Index: (event type or ANY, event key or ANY) -> parts listening for it. */
  readonly index: Map<string, Map<Subscriber, SubscriptionPart>>;
  readonly stats: SourceStats;
}

const ANY = "\u0000any";

/** The index slot of one (type, key) pair; either may be ANY. */
function slot(type: string, key: string): string {
  return `${type}\u0000${key}`;
}

/** Every slot a part listens on. */
function slotsOf(part: SubscriptionPart): string[] {
  const out: string[] = [];
  for (const type of part.types ?? [ANY]) {
    for (const key of part.keys ?? [ANY]) out.push(slot(type, key));
  }
  return out;
}

/** The subscription hub. */
export class Hub {
  readonly #channels = new Map<string, Channel>();
  readonly #clock: Clock;
  readonly #random: () => number;
  readonly #maxQueued: number;
  readonly #sliceSize: number;
  readonly #batchInterest: ((flush: () => void) => void) | undefined;
  /** Pending deliveries, FIFO across events. */
  #pending: { event: Event; offset: number; targets: [Subscriber, SubscriptionPart][] }[] = [];
  #draining = false;
  #drainIdle: PromiseWithResolvers<void> | undefined;

  constructor(options: HubOptions = {}) {
    this.#clock = options.clock ?? systemClock;
    this.#random = options.random ?? Math.random;
    this.#maxQueued = options.maxQueuedPerSubscriber ?? 1000;
    this.#sliceSize = options.sliceSize ?? 256;
    this.#batchInterest = options.batchInterest;
  }

  /** Declares a source; its history starts afresh with a new epoch. */
  addSource(name: string, vendor: Vendor, historySize: number, options: SourceOptions = {}): void {
    if (this.#channels.has(name)) throw new Error(`Source "${name}" is already registered`);
    const history = new History<Event>(historySize);
    const channel: Channel = {
      vendor,
      epoch: newEpoch(this.#clock.now(), this.#random),
      history,
      gap: 0,
      sink: undefined,
      interest: new InterestTable({
        clock: this.#clock,
        resumeWindowMs: options.resumeWindowMs ?? 0,
        ...(this.#batchInterest ? { batch: this.#batchInterest } : {}),
        onChange: (change) => {
          const version = ++channel.version;
          channel.versions.set(change.wanted, version);
          channel.coverage?.interestChanged(
            version,
            change.added,
            change.removed,
            this.#mark(channel),
          );
          channel.sink?.setInterest(change.wanted);
        },
      }),
      coverage: options.coverage === false || typeof options.coverage === "object"
        ? undefined
        : new Coverage({
          start: { at: this.#clock.now(), offset: 0 },
          sockets: options.sockets ?? 1,
          ...(options.interestCovers ? { covers: options.interestCovers } : {}),
        }),
      view: undefined,
      versions: new WeakMap(),
      version: 0,
      index: new Map(),
      stats: { eventsReceived: 0, lastEventAt: undefined },
    };
    channel.view = typeof options.coverage === "object" ? options.coverage : channel.coverage;
    this.#channels.set(name, channel);
  }

  /** Connects a source to the connector that turns interest into upstream frames. */
  attachSink(source: string, sink: InterestSink): void {
    const channel = this.#channel(source);
    channel.sink = sink;
    const wanted = channel.interest.wanted();
    channel.versions.set(wanted, channel.version);
    sink.setInterest(wanted);
  }

  /**
   * A socket of `source` reports what it receives: `items` (an interest set this hub handed
   * its sink) is registered upstream and the socket is READY; `undefined` means it is not
   * receiving. Feeds coverage, which decides whether an `after:` replay is complete.
   * `eventsAfter` of the source's newest events were published by this socket after the set
   * was confirmed; counting only this socket's events keeps the mark at or after the truth.
   */
  reportReceiving(
    source: string,
    socket: number,
    items: ReadonlyMap<string, InterestItem> | undefined,
    eventsAfter = 0,
  ): void {
    const channel = this.#channel(source);
    const version = items === undefined ? undefined : channel.versions.get(items);
    // A set this hub never handed out says nothing reliable about what is registered.
    if (items !== undefined && version === undefined) return;
    const mark = this.#mark(channel);
    const offset = Math.max(0, mark.offset - Math.max(0, Math.floor(eventsAfter)));
    channel.coverage?.socketReceiving(socket, version, { at: mark.at, offset });
  }

  /** Recent periods in which the source was not receiving (some of) its interest. */
  gaps(source: string): Gap[] {
    return this.#channel(source).view?.gaps() ?? [];
  }

  /**
   * The latest break in coverage of `keys` on `source` that the event at `offset` does not
   * postdate, or undefined when every event after it was received (the replay rule; the
   * composite cursor of `events` applies it per source).
   */
  coverageBreak(source: string, keys: readonly string[], offset: number): Gap | undefined {
    return this.#channel(source).view?.breakAfter(keys, offset);
  }

  /** Cancels the resume-window timers of every source (the app is stopping). */
  close(): void {
    for (const channel of this.#channels.values()) channel.interest.close();
  }

  /** Names of the registered sources, in registration order. */
  sources(): string[] {
    return [...this.#channels.keys()];
  }

  /** The vendor of a source, or undefined when unknown. */
  vendorOf(source: string): Vendor | undefined {
    return this.#channels.get(source)?.vendor;
  }

  /** Counters of a source. */
  stats(source: string): SourceStats {
    return { ...this.#channel(source).stats };
  }

  /** Interest keys currently wanted for a source (lingering ones too), in first-wanted order. */
  interestKeys(source: string): string[] {
    return this.#channel(source).interest.keys();
  }

  /** Every wanted interest key of a source with who holds it and whether it is lingering. */
  interestEntries(source: string): InterestEntry[] {
    return this.#channel(source).interest.entries();
  }

  /** How many live subscriptions hold a part on `source`. */
  subscriberCount(source: string): number {
    const seen = new Set<Subscriber>();
    for (const parts of this.#channel(source).index.values()) {
      for (const sub of parts.keys()) seen.add(sub);
    }
    return seen.size;
  }

  /** Held events of a source, newest first. */
  recent(source: string): Iterable<Event> {
    return this.#channel(source).history.newestFirst();
  }

  /** Adds interest that lives as long as the hub (config `standing`). */
  addStandingInterest(source: string, items: readonly InterestItem[]): void {
    this.#channel(source).interest.acquire(items, true);
  }

  /**
   * Publishes an upstream event: assigns its id, stores it, and schedules delivery to
   * every matching subscriber. Returns the stored event.
   */
  publish(upstream: UpstreamEvent): Event {
    const channel = this.#channel(upstream.source);
    let offset = 0;
    const event = channel.history.push((assigned) => {
      offset = assigned;
      return {
        ...upstream,
        id: formatCursor({ source: upstream.source, epoch: channel.epoch, offset: assigned }),
      };
    });
    this.#fanOut(channel, event, offset);
    return event;
  }

  /**
   * Cluster mode: the next event of a source's stream, already stored with its id and offset.
   * A jump in offsets (the tail fell behind the stream's trim) restarts the history there.
   */
  ingest(source: string, stored: { offset: number; event: Event }): void {
    const channel = this.#channel(source);
    if (stored.offset !== channel.history.lastOffset + 1) {
      channel.history.restart(stored.offset - 1);
    }
    channel.history.push(() => stored.event);
    this.#fanOut(channel, stored.event, stored.offset);
  }

  /**
   * Cluster mode: replaces a source's history with `events` (oldest first, consecutive)
   * under `epoch`, as loaded from its stream. With `live` they are also delivered to the
   * current subscribers (the stream started afresh, so they have seen none of them);
   * otherwise the subscribers continue after `lastOffset`.
   */
  resetSource(
    source: string,
    epoch: string,
    lastOffset: number,
    gap: number,
    events: readonly { offset: number; event: Event }[],
    live: boolean,
  ): void {
    const channel = this.#channel(source);
    const first = events[0]?.offset ?? lastOffset + 1;
    channel.epoch = epoch;
    channel.gap = gap;
    channel.history.restart(first - 1);
    for (const e of events) channel.history.push(() => e.event);
    if (channel.history.lastOffset < lastOffset) channel.history.restart(lastOffset);
    const subscribers = new Set<Subscriber>();
    for (const bucket of channel.index.values()) {
      for (const sub of bucket.keys()) subscribers.add(sub);
    }
    for (const sub of subscribers) sub.seen.set(source, live ? first - 1 : lastOffset);
    if (live) { for (const e of events) this.#fanOut(channel, e.event, e.offset); }
  }

  /** Cluster mode: events at or before `gap` can no longer be replayed across. */
  setGap(source: string, gap: number): void {
    this.#channel(source).gap = gap;
  }

  #fanOut(channel: Channel, event: Event, offset: number): void {
    channel.stats.eventsReceived++;
    channel.stats.lastEventAt = this.#clock.now();
    const targets: [Subscriber, SubscriptionPart][] = [];
    const { index } = channel;
    const slots = event.key === null
      ? [slot(event.type, ANY), slot(ANY, ANY)]
      : [slot(event.type, event.key), slot(event.type, ANY), slot(ANY, event.key), slot(ANY, ANY)];
    for (const name of slots) {
      const bucket = index.get(name);
      if (bucket) { for (const entry of bucket) targets.push(entry); }
    }
    if (targets.length > 0) {
      this.#pending.push({ event, offset, targets });
      this.#drain();
    }
  }

  /**
   * Ends, with `BAD_FILTER`, every subscription holding interest `key` on `source`
   * (the upstream refused it). Other subscriptions are untouched.
   */
  rejectInterest(source: string, key: string, message: string): number {
    const channel = this.#channel(source);
    const victims = new Set<Subscriber>();
    for (const bucket of channel.index.values()) {
      for (const [sub, part] of bucket) {
        if (part.interest.some((i) => i.key === key)) victims.add(sub);
      }
    }
    for (const sub of victims) {
      sub.queue.fail(new RelayError("BAD_FILTER", message));
    }
    return victims.size;
  }

  /**
   * Opens a subscription over one or more sources. With `after`, buffered events newer
   * than the cursor (still filtered) come first, then live ones; a cursor the history no
   * longer covers fails with `CURSOR_EXPIRED`. Calling `return()` on the result releases
   * its upstream interest: at once, or after the source's resume window.
   */
  subscribe(
    parts: readonly SubscriptionPart[],
    options: SubscribeOptions = {},
  ): AsyncIterableIterator<Event> {
    for (const part of parts) this.#channel(part.source);
    // Every replay is checked before anything is acquired: one expired source fails it all.
    const replays = (options.resume?.map(formatCursor) ??
      (options.after === undefined ? [] : [options.after])).map((c) => this.#replayFor(parts, c));
    let released = false;
    const sub: Subscriber = {
      parts,
      seen: new Map(),
      composite: options.composite ? [...new Set(parts.map((p) => p.source))] : undefined,
      queue: new SubscriberQueue<Event>({
        maxItems: this.#maxQueued,
        overflowError: () =>
          new RelayError("SLOW_CONSUMER", "Subscriber fell too far behind and was dropped"),
        onClose: () => {
          if (released) return;
          released = true;
          this.#detach(sub);
        },
      }),
    };
    for (const part of parts) {
      const channel = this.#channel(part.source);
      sub.seen.set(part.source, channel.history.lastOffset);
      for (const name of slotsOf(part)) {
        let bucket = channel.index.get(name);
        if (!bucket) channel.index.set(name, bucket = new Map());
        bucket.set(sub, part);
      }
      channel.interest.acquire(part.interest);
    }
    // Every source's position first, so cursors issued during one source's replay still
    // point the others at their own cursor, not at live.
    for (const replay of replays) sub.seen.set(replay.source, replay.fromOffset);
    for (const replay of replays) {
      // History offsets are consecutive, so the replayed items follow the cursor's offset.
      replay.items.forEach((event, i) =>
        this.#deliver(sub, event, replay.fromOffset + i + 1, replay.part)
      );
    }
    return sub.queue;
  }

  /** Resolves when every scheduled delivery has been made (tests, shutdown). */
  drained(): Promise<void> {
    if (!this.#draining && this.#pending.length === 0) return Promise.resolve();
    this.#drainIdle ??= Promise.withResolvers();
    return this.#drainIdle.promise;
  }

  #replayFor(parts: readonly SubscriptionPart[], after: string) {
    const cursor = parseCursor(after);
    if (!cursor) throw new RelayError("CURSOR_EXPIRED", `"${after}" is not a valid event cursor`);
    const part = parts.find((p) => p.source === cursor.source);
    if (!part) {
      throw new RelayError(
        "BAD_FILTER",
        `Cursor belongs to source "${cursor.source}", which this subscription does not cover`,
      );
    }
    const channel = this.#channel(cursor.source);
    const expired = new RelayError(
      "CURSOR_EXPIRED",
      `Cursor "${after}" is older than the events kept for source "${cursor.source}"; ` +
        "resubscribe without after: and refetch state",
    );
    if (cursor.epoch !== channel.epoch) throw expired;
    if (channel.gap > 0 && cursor.offset <= channel.gap) {
      throw new RelayError(
        "CURSOR_EXPIRED",
        `Events of source "${cursor.source}" after cursor "${after}" were lost while the ` +
          "cluster's Redis was unreachable; resubscribe without after: and refetch state",
      );
    }
    const result = channel.history.after(cursor.offset);
    if (!result.ok) throw expired;
    const gap = channel.view?.breakAfter(part.interest.map((i) => i.key), cursor.offset);
    if (gap) {
      throw new RelayError(
        "CURSOR_EXPIRED",
        `Cannot resume after "${after}": ${
          describeGap(gap, cursor.source, this.#clock.now())
        }, so events after the cursor may be missing; refetch current state, then subscribe ` +
          "without after:",
      );
    }
    return { source: cursor.source, part, fromOffset: cursor.offset, items: result.items };
  }

  #deliver(sub: Subscriber, event: Event, offset: number, part: SubscriptionPart): void {
    if (sub.queue.closed) return;
    const seen = sub.seen.get(event.source) ?? 0;
    if (offset <= seen) return;
    sub.seen.set(event.source, offset);
    let wanted = false;
    try {
      wanted = part.match(event);
    } catch {
      wanted = false;
    }
    if (wanted) sub.queue.push(sub.composite ? this.#withCursor(sub, sub.composite, event) : event);
  }

  /** The event with the subscription's composite cursor as of this delivery. */
  #withCursor(sub: Subscriber, sources: readonly string[], event: Event): Event {
    const entries = sources.map((source) => ({
      source,
      epoch: this.#channel(source).epoch,
      offset: sub.seen.get(source) ?? 0,
    }));
    return { ...event, cursor: formatComposite(entries) };
  }

  #drain(): void {
    if (this.#draining) return;
    this.#draining = true;
    const step = () => {
      let budget = this.#sliceSize;
      while (budget > 0 && this.#pending.length > 0) {
        const head = this.#pending[0]!;
        while (budget > 0 && head.targets.length > 0) {
          const [sub, part] = head.targets.pop()!;
          this.#deliver(sub, head.event, head.offset, part);
          budget--;
        }
        if (head.targets.length === 0) this.#pending.shift();
      }
      if (this.#pending.length > 0) {
        // A clamp-free turn: pending socket writes go out between slices.
        void nextTurn().then(step);
      } else {
        this.#draining = false;
        const idle = this.#drainIdle;
        this.#drainIdle = undefined;
        idle?.resolve();
      }
    };
    step();
  }

  #detach(sub: Subscriber): void {
    for (const part of sub.parts) {
      const channel = this.#channels.get(part.source);
      if (!channel) continue;
      for (const name of slotsOf(part)) {
        const bucket = channel.index.get(name);
        bucket?.delete(sub);
        if (bucket?.size === 0) channel.index.delete(name);
      }
      channel.interest.release(part.interest);
    }
  }

  #mark(channel: Channel): Mark {
    return { at: this.#clock.now(), offset: channel.history.lastOffset };
  }

  #channel(source: string): Channel {
    const channel = this.#channels.get(source);
    if (!channel) throw new RelayError("UNKNOWN_SOURCE", `No source named "${source}"`);
    return channel;
  }
}
