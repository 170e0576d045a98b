/**
 * Coverage: when a source was receiving each upstream interest, so a replay never passes a
 * hole off as complete. A source is not receiving interest `k` while `k` is not registered
 * upstream (nobody wanted it, or its registration is not confirmed yet) or while any of the
 * source's sockets is not READY with its interest synced.
 *
 * Points in time are {@link Mark}s: the wall time and the offset of the newest event the
 * source held then. Offsets make the rule exact where milliseconds are not: an event with
 * offset `o` was received before a gap ended exactly when `o <= gap.to.offset`, so a replay
 * after `o` is complete only if every gap touching its keys ended at an offset below `o`.
 * Only the latest gap per key matters for that, which keeps the state one record per key
 * (plus a bounded list of recent gaps for operators). A shared store (Redis) can mirror it
 * as: the source's open/last gap, one open/last gap per key, and a capped list.
 *
 * @module
 */

/** Why a source was not receiving. */
export const GAP_REASONS = ["NOT_REGISTERED", "UPSTREAM_DISCONNECTED"] as const;
/** One of {@link GAP_REASONS}. */
export type GapReason = typeof GAP_REASONS[number];

/** A point in a source's stream: wall time (ms) and the newest offset held then. */
export interface Mark {
  readonly at: number;
  readonly offset: number;
}

/** A period in which a source was not receiving one interest key, or anything. */
export interface Gap {
  readonly reason: GapReason;
  /** The interest key; undefined when the whole source was affected. */
  readonly key: string | undefined;
  readonly from: Mark;
  /** Undefined while the gap is still open. */
  readonly to: Mark | undefined;
}

/** The read side: what replays and `Source.gaps` ask. */
export interface CoverageView {
  /**
   * The latest break in coverage of `keys` (and of the source) that an event with offset
   * `offset` does not postdate, or undefined when everything after that event was received.
   * Open gaps are returned with `to` undefined.
   */
  breakAfter(keys: readonly string[], offset: number): Gap | undefined;
  /** Recent gaps, newest first, at most the configured number. */
  gaps(): Gap[];
}

/** Settings of a {@link Coverage}. */
export interface CoverageOptions {
  /** When the source started: keys never registered are uncovered since then. */
  start: Mark;
  /** Upstream sockets of the source; all must be receiving for it to be covered. */
  sockets?: number;
  /** Gaps kept for {@link Coverage.gaps}. */
  maxListed?: number;
  /** Records kept for keys nobody wants any more (older ones fall back to `start`). */
  maxIdleKeys?: number;
  /**
   * True when everything interest `narrow` receives also arrives through `wide` (a DRP
   * `*.*.*` standing pattern covers `machines.*.*`), so a wide key's unbroken coverage
   * vouches for a narrower one. Must never say true wrongly; false is always safe.
   */
  covers?: (wide: string, narrow: string) => boolean;
}

interface OpenGap {
  reason: GapReason;
  key: string | undefined;
  from: Mark;
  to: Mark | undefined;
}

interface KeyState {
  /** Interest version in which the key was last added; undefined while not wanted. */
  addedIn: number | undefined;
  open: OpenGap | undefined;
  last: OpenGap | undefined;
}

/**
 * One source's coverage, fed by the interest table (what is wanted, by version) and the
 * supervisors (which version each socket has registered, or that it is not receiving).
 */
export class Coverage implements CoverageView {
  readonly #start: Mark;
  readonly #maxListed: number;
  readonly #maxIdleKeys: number;
  readonly #covers: (wide: string, narrow: string) => boolean;
  readonly #sockets: { receiving: boolean; synced: number }[];
  readonly #keys = new Map<string, KeyState>();
  /** Wanted keys whose gap is still open. */
  readonly #pending = new Set<string>();
  /** Keys nobody wants, oldest first (for the bound). */
  readonly #idle = new Set<string>();
  readonly #listed: OpenGap[] = [];
  #sourceOpen: OpenGap | undefined;
  #sourceLast: OpenGap | undefined;

  constructor(options: CoverageOptions) {
    this.#start = options.start;
    this.#maxListed = options.maxListed ?? 100;
    this.#maxIdleKeys = options.maxIdleKeys ?? 10_000;
    this.#covers = options.covers ?? (() => false);
    this.#sockets = Array.from(
      { length: Math.max(1, options.sockets ?? 1) },
      () => ({ receiving: false, synced: -1 }),
    );
    // Before the first connection nothing was received, but nothing was missed either.
    this.#sourceOpen = this.#gap("UPSTREAM_DISCONNECTED", undefined, options.start, false);
  }

  /** The wanted interest changed to `version`: `added` keys start, `removed` ones stop. */
  interestChanged(
    version: number,
    added: readonly string[],
    removed: readonly string[],
    at: Mark,
  ): void {
    for (const key of added) {
      let state = this.#keys.get(key);
      if (!state) {
        state = {
          addedIn: undefined,
          open: this.#gap("NOT_REGISTERED", key, this.#start, false),
          last: undefined,
        };
        this.#keys.set(key, state);
      }
      state.addedIn = version;
      this.#idle.delete(key);
      state.open ??= this.#gap("NOT_REGISTERED", key, at, true);
      this.#pending.add(key);
    }
    for (const key of removed) {
      const state = this.#keys.get(key);
      if (!state) continue;
      state.addedIn = undefined;
      this.#pending.delete(key);
      state.open ??= this.#gap("NOT_REGISTERED", key, at, true);
      this.#idle.add(key);
    }
    while (this.#idle.size > this.#maxIdleKeys) {
      const oldest = this.#idle.values().next().value!;
      this.#idle.delete(oldest);
      this.#keys.delete(oldest);
    }
  }

  /**
   * Socket `socket` has registered interest `version` and is receiving; `undefined` means it
   * is not receiving (not READY, or its interest not synced since it connected).
   */
  socketReceiving(socket: number, version: number | undefined, at: Mark): void {
    const s = this.#sockets[socket];
    if (!s) return;
    if (version === undefined) {
      if (!s.receiving) return;
      s.receiving = false;
      s.synced = -1;
      this.#sourceOpen ??= this.#gap("UPSTREAM_DISCONNECTED", undefined, at, true);
      return;
    }
    s.receiving = true;
    s.synced = Math.max(s.synced, version);
    if (!this.#sockets.every((x) => x.receiving)) return;
    if (this.#sourceOpen) {
      this.#sourceOpen.to = at;
      this.#sourceLast = this.#sourceOpen;
      this.#sourceOpen = undefined;
    }
    const synced = Math.min(...this.#sockets.map((x) => x.synced));
    for (const key of this.#pending) {
      const state = this.#keys.get(key)!;
      if (state.addedIn === undefined || state.addedIn > synced || !state.open) continue;
      state.open.to = at;
      state.last = state.open;
      state.open = undefined;
      this.#pending.delete(key);
    }
  }

  breakAfter(keys: readonly string[], offset: number): Gap | undefined {
    if (this.#sourceOpen) return { ...this.#sourceOpen };
    const found: OpenGap[] = [];
    if (this.#sourceLast && this.#sourceLast.to!.offset >= offset) found.push(this.#sourceLast);
    for (const key of keys) {
      const own = this.#keyBreak(key, offset);
      if (!own || this.#coveredByWider(key, offset)) continue;
      if (!own.to) return { ...own };
      found.push(own);
    }
    if (found.length === 0) return undefined;
    return { ...found.reduce((a, b) => (b.to!.offset > a.to!.offset ? b : a)) };
  }

  #keyBreak(key: string, offset: number): OpenGap | undefined {
    const state = this.#keys.get(key);
    if (!state) return { reason: "NOT_REGISTERED", key, from: this.#start, to: undefined };
    if (state.open) return state.open;
    return state.last && state.last.to!.offset >= offset ? state.last : undefined;
  }

  #coveredByWider(key: string, offset: number): boolean {
    for (const [wide, state] of this.#keys) {
      if (wide === key || state.addedIn === undefined) continue;
      if (!this.#keyBreak(wide, offset) && this.#covers(wide, key)) return true;
    }
    return false;
  }

  gaps(): Gap[] {
    return this.#listed.map((g) => ({ ...g })).reverse();
  }

  #gap(reason: GapReason, key: string | undefined, from: Mark, list: boolean): OpenGap {
    const gap: OpenGap = { reason, key, from, to: undefined };
    if (list) {
      this.#listed.push(gap);
      if (this.#listed.length > this.#maxListed) this.#listed.shift();
    }
    return gap;
  }
}

/** A one-line account of a gap for error messages, e.g. in CURSOR_EXPIRED. */
export function describeGap(gap: Gap, source: string, now: number): string {
  const from = new Date(gap.from.at).toISOString();
  const to = gap.to ? new Date(gap.to.at).toISOString() : `now (${new Date(now).toISOString()})`;
  return gap.reason === "NOT_REGISTERED"
    ? `interest ${JSON.stringify(gap.key)} was not registered upstream between ${from} and ${to}`
    : `upstream "${source}" was disconnected between ${from} and ${to}`;
}
