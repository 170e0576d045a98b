/**
 * The connection lifecycle every connector shares: connect, authenticate, replay the whole
 * interest, relay frames, detect silence, and reconnect with exponential backoff and full
 * jitter, forever, until stopped.
 *
 * States: CONNECTING → AUTHENTICATING → READY → (failure) BACKOFF → CONNECTING …;
 * STOPPED once `run` ends.
 *
 * @module
 */
import type { InterestItem, InterestSink } from "../hub/interest.ts";
import type { Clock, TimerId } from "../platform/clock.ts";
import { sleep } from "../platform/clock.ts";
import type { Logger } from "../platform/log.ts";
import type { Redactor } from "../platform/redact.ts";
import type { WebSocketFactory } from "../platform/websocket.ts";
import type { UpstreamEvent, Vendor } from "../model/event.ts";
import { backoffDelay, type BackoffPolicy } from "./backoff.ts";
import type { Connector } from "./connector.ts";
import { Session, UpstreamError } from "./session.ts";
import { DropLog } from "./drop_log.ts";
import { traced } from "../platform/tracing.ts";

/** Connection states, as in the GraphQL `SourceState` enum. */
export const SOURCE_STATES = [
  "CONNECTING",
  "AUTHENTICATING",
  "READY",
  "BACKOFF",
  "STOPPED",
] as const;
/** One of {@link SOURCE_STATES}. */
export type SourceState = typeof SOURCE_STATES[number];

/** The state with its state-specific fields. */
export type ConnectionState =
  | { state: "CONNECTING"; since: number }
  | { state: "AUTHENTICATING"; since: number }
  | { state: "READY"; since: number }
  | { state: "BACKOFF"; since: number; until: number }
  | { state: "STOPPED"; since: number };

/** A source's health, as `Source` shows it. */
export interface SupervisorStatus {
  name: string;
  vendor: Vendor;
  connection: ConnectionState;
  /** Start of the current READY period. */
  connectedSince: number | undefined;
  /** Most recent failure (kept after recovery), free of secrets. */
  lastError: string | undefined;
  lastErrorAt: number | undefined;
  /** Completed reconnect attempts after the first connection attempt. */
  reconnects: number;
  /** Malformed or unroutable frames dropped. */
  framesDropped: number;
  /** The same, per drop reason. */
  dropsByReason: ReadonlyMap<string, number>;
  interest: string[];
}

/** Timing knobs (milliseconds). */
export interface SupervisorTiming {
  backoff: BackoffPolicy;
  /** READY this long resets the backoff attempt counter. */
  stableMs: number;
  connectTimeoutMs: number;
  authTimeoutMs: number;
  /** No frame for this long: the socket is considered dead. 0 disables. */
  silenceMs: number;
}

/** Dependencies of a {@link Supervisor}. */
export interface SupervisorDeps {
  name: string;
  connector: Connector;
  timing: SupervisorTiming;
  clock: Clock;
  random: () => number;
  socketFactory: WebSocketFactory;
  publish: (event: UpstreamEvent) => void;
  log: Logger;
  redact: Redactor;
  /** Called on every state change (metrics, readiness). */
  onChange?: (status: SupervisorStatus) => void;
  /**
   * What this socket receives, for coverage: after each completed interest sync while READY,
   * the exact set (as given to {@link Supervisor.setInterest}) now registered upstream;
   * `undefined` when the session ends. Nothing between READY and the first completed sync.
   * `eventsAfter` counts the events this socket published after the point the set was
   * confirmed (its last reply frame, or the start of the sync when later): the report runs
   * a few promise turns after that reply, and events read meanwhile were already covered.
   */
  onReceiving?: (
    items: ReadonlyMap<string, InterestItem> | undefined,
    eventsAfter: number,
  ) => void;
}

/** Runs one connector forever and holds its status; also the hub's interest sink. */
export class Supervisor implements InterestSink {
  readonly #d: SupervisorDeps;
  #connection: ConnectionState;
  #connectedSince: number | undefined;
  #lastError: string | undefined;
  #lastErrorAt: number | undefined;
  #reconnects = 0;
  #framesDropped = 0;
  readonly #drops = new DropLog();
  #wanted: ReadonlyMap<string, InterestItem> = new Map();
  #session: Session | undefined;
  #syncing: Promise<void> | undefined;
  #syncAgain = false;
  #lastFailure: UpstreamError | undefined;
  /** Events published so far, and that count when the last control (reply) frame arrived. */
  #published = 0;
  #lastReplyAt = 0;

  constructor(deps: SupervisorDeps) {
    this.#d = deps;
    this.#connection = { state: "CONNECTING", since: deps.clock.now() };
  }

  /** The current status snapshot. */
  status(): SupervisorStatus {
    return {
      name: this.#d.name,
      vendor: this.#d.connector.vendor,
      connection: this.#connection,
      connectedSince: this.#connectedSince,
      lastError: this.#lastError,
      lastErrorAt: this.#lastErrorAt,
      reconnects: this.#reconnects,
      framesDropped: this.#framesDropped,
      dropsByReason: this.#drops.counts(),
      interest: this.#d.connector.describeInterest(),
    };
  }

  /**
   * Sends a text frame on the current session (two-way protocols such as Webinate's).
   * Returns false when the source is not READY, so callers can report the failure.
   */
  send(text: string): boolean {
    const session = this.#session;
    if (!session || this.#connection.state !== "READY") return false;
    try {
      session.send(text);
      return true;
    } catch {
      return false;
    }
  }

  /** InterestSink: remembers the wanted set and syncs it when connected. */
  setInterest(items: ReadonlyMap<string, InterestItem>): void {
    this.#wanted = items;
    if (this.#session && this.#connection.state === "READY") this.#sync(this.#session);
  }

  /** Runs until `signal` aborts; never throws. */
  async run(signal: AbortSignal): Promise<void> {
    const { clock, timing, log } = this.#d;
    let attempt = 0;
    while (!signal.aborted) {
      let readyAt: number | undefined;
      try {
        readyAt = await this.#connectOnce(signal, (t) => (readyAt = t));
      } catch (err) {
        if (!signal.aborted) this.#fail(err);
      }
      if (signal.aborted) break;
      if (readyAt !== undefined && clock.now() - readyAt >= timing.stableMs) attempt = 0;
      attempt++;
      const delay = backoffDelay(attempt, this.#d.random(), timing.backoff);
      this.#set({ state: "BACKOFF", since: clock.now(), until: clock.now() + delay });
      log.info("upstream backoff", { attempt, delayMs: delay, lastError: this.#lastError });
      try {
        await sleep(clock, delay, signal);
      } catch {
        break;
      }
      this.#reconnects++;
    }
    this.#set({ state: "STOPPED", since: clock.now() });
  }

  /** One connection from dial to close; returns when it ends, with when it became READY. */
  async #connectOnce(
    signal: AbortSignal,
    markReady: (t: number) => void,
  ): Promise<number | undefined> {
    const { clock, timing, connector, log } = this.#d;
    this.#set({ state: "CONNECTING", since: clock.now() });
    const attributes = { "relay.source": this.#d.name, "relay.vendor": connector.vendor };
    const describe = (err: unknown) => this.#safe(err);
    const target = await traced(
      "upstream.dial",
      attributes,
      () => connector.dial(this.#lastFailure),
      describe,
    );
    if (signal.aborted) return undefined;
    const session = new Session(this.#d.socketFactory(target.url, target.options), clock, {
      closeGraceMs: Math.min(2000, timing.connectTimeoutMs),
    });
    const onAbort = () => session.close(1000, "relay shutting down");
    signal.addEventListener("abort", onAbort, { once: true });
    let silenceTimer: TimerId | undefined;
    // Why the relay itself closed the socket, so the close does not overwrite the reason.
    let silent: UpstreamError | undefined;
    try {
      await traced(
        "upstream.connect",
        attributes,
        () => session.opened(timing.connectTimeoutMs),
        describe,
      );
      this.#set({ state: "AUTHENTICATING", since: clock.now() });
      await traced(
        "upstream.authenticate",
        attributes,
        () =>
          withTimeout(
            connector.authenticate(session),
            timing.authTimeoutMs,
            clock,
            "Authentication",
          ),
        describe,
      );
      const readyAt = clock.now();
      markReady(readyAt);
      this.#session = session;
      this.#connectedSince = readyAt;
      this.#set({ state: "READY", since: readyAt });
      log.info("upstream ready");
      session.listen((frame) => this.#onFrame(session, frame));
      this.#sync(session);
      if (timing.silenceMs > 0) {
        const check = () => {
          const idle = clock.now() - session.lastFrameAt;
          if (idle >= timing.silenceMs) {
            silent = new UpstreamError(`No frame from upstream for ${idle} ms; reconnecting`);
            session.close(4000, "silent upstream");
            return;
          }
          if (idle >= timing.silenceMs / 2) connector.probe?.(session);
          silenceTimer = clock.setTimeout(check, Math.max(50, timing.silenceMs / 4));
        };
        silenceTimer = clock.setTimeout(check, Math.max(50, timing.silenceMs / 4));
      }
      const closed = await session.closed;
      if (!signal.aborted) this.#fail(silent ?? closed);
      return readyAt;
    } finally {
      if (silenceTimer !== undefined) clock.clearTimeout(silenceTimer);
      signal.removeEventListener("abort", onAbort);
      session.close(1000, "done");
      await session.closed;
      if (this.#session === session) this.#session = undefined;
      this.#connectedSince = undefined;
      this.#d.onReceiving?.(undefined, 0);
    }
  }

  #onFrame(session: Session, frame: string): void {
    let outcome;
    try {
      // A frame nested past what any vendor sends would parse, then overflow the stack when
      // a client's payload is serialised, ending that client's subscription: drop it here.
      outcome = nestedDeeperThan(frame, MAX_FRAME_NESTING)
        ? { kind: "dropped" as const, reason: `nested deeper than ${MAX_FRAME_NESTING} levels` }
        : this.#d.connector.onFrame(session, frame);
    } catch (err) {
      this.#d.log.debug("connector failed on a frame", { error: String(err) });
      outcome = {
        kind: "dropped" as const,
        reason: `connector error (${err instanceof Error ? err.name : typeof err})`,
      };
    }
    if (outcome.kind === "events") {
      for (const event of outcome.events) {
        this.#d.publish(event);
        this.#published++;
      }
    } else if (outcome.kind === "control") {
      this.#lastReplyAt = this.#published;
    } else if (outcome.kind === "dropped") {
      this.#framesDropped++;
      // Once per reason per minute, not once per frame: a server that changed shape would
      // otherwise flood the log with one line per event.
      const suppressed = this.#drops.count(outcome.reason, this.#d.clock.now());
      if (suppressed !== undefined) {
        this.#d.log.warn("dropped upstream frame", {
          reason: outcome.reason,
          sample: frame.slice(0, 200),
          dropped: this.#framesDropped,
          suppressedSinceLastLog: suppressed,
        });
      }
      this.#changed();
    }
  }

  /** Serialises interest syncs; a change during a sync triggers one more pass. */
  #sync(session: Session): void {
    if (this.#syncing) {
      this.#syncAgain = true;
      return;
    }
    this.#syncing = (async () => {
      do {
        this.#syncAgain = false;
        const items = this.#wanted;
        const startedAt = this.#published;
        try {
          await this.#d.connector.syncInterest(session, items);
          if (!session.signal.aborted && this.#session === session) {
            // Confirmed no earlier than the sync's start, nor than the last reply it read.
            const confirmedAt = Math.max(startedAt, this.#lastReplyAt);
            this.#d.onReceiving?.(items, this.#published - confirmedAt);
          }
        } catch (err) {
          if (session.signal.aborted) return;
          this.#d.log.warn("interest sync failed", { error: this.#safe(err) });
        }
        this.#changed();
      } while (this.#syncAgain && !session.signal.aborted);
    })().finally(() => {
      this.#syncing = undefined;
    });
  }

  #fail(err: unknown): void {
    this.#lastFailure = err instanceof UpstreamError ? err : new UpstreamError(this.#safe(err));
    this.#lastError = this.#safe(err);
    this.#lastErrorAt = this.#d.clock.now();
    this.#d.log.warn("upstream failure", { error: this.#lastError });
  }

  #safe(err: unknown): string {
    const text = err instanceof Error ? err.message : String(err);
    return this.#d.redact(text);
  }

  #set(connection: ConnectionState): void {
    this.#connection = connection;
    this.#changed();
  }

  #changed(): void {
    this.#d.onChange?.(this.status());
  }
}

async function withTimeout<T>(
  promise: Promise<T>,
  ms: number,
  clock: Clock,
  what: string,
): Promise<T> {
  let timer: TimerId | undefined;
  try {
    return await Promise.race([
      promise,
      new Promise<never>((_, reject) => {
        timer = clock.setTimeout(
          () => reject(new UpstreamError(`${what} did not finish within ${ms} ms`)),
          ms,
        );
      }),
    ]);
  } finally {
    if (timer !== undefined) clock.clearTimeout(timer);
  }
}

/** Deepest JSON nesting accepted in an upstream frame; real vendor frames stay far below. */
export const MAX_FRAME_NESTING = 128;

/** True when `text` opens more than `max` JSON arrays/objects at once (strings skipped). */
export function nestedDeeperThan(text: string, max: number): boolean {
  // A frame with at most `max` opening brackets cannot nest deeper: counting them with
  // indexOf is native, where the exact scan below costs about 8 µs for a typical frame.
  let opens = 0;
  for (const open of ["{", "["]) {
    for (let i = text.indexOf(open); i !== -1; i = text.indexOf(open, i + 1)) {
      if (++opens > max) break;
    }
  }
  if (opens <= max) return false;
  let depth = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 0x5c) i++; // backslash: skip the escaped character
      else if (c === 0x22) inString = false;
    } else if (c === 0x22) inString = true;
    else if (c === 0x5b || c === 0x7b) {
      if (++depth > max) return true;
    } else if (c === 0x5d || c === 0x7d) depth--;
  }
  return false;
}
