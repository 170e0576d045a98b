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
 * (plus a bounded list of recent gaps for operators). In cluster mode the holder's
 * Coverage reports each change ({@link CoverageChange}) to the cluster's store, and every
 * node reads the same records back ({@link latestBreak}): the source's open/last gap, one
 * open/last gap per key, and a capped list.
 *
 * @module
 */

/** Why a source was not receiving. */
export const GAP_REASONS = ["NOT_REGISTERED", "UPSTREAM_DISCONNECTED", "NO_HOLDER"] as const;
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
  /** Why nothing is received before the first socket does (default UPSTREAM_DISCONNECTED). */
  startReason?: GapReason;
  /** Told every gap opened and closed, in order (the cluster holder records them). */
  onChange?: (change: CoverageChange) => void;
}

/**
 * One change of coverage. Opening an already open gap changes nothing, so a store applying
 * these may receive an open twice. `wanted` says whether a key's interest is still wanted
 * (a key nobody wants is uncovered until someone does).
 */
export type CoverageChange =
  | {
    readonly kind: "open";
    readonly key: string | undefined;
    readonly reason: GapReason;
    readonly at: Mark;
    /** Listed in {@link CoverageView.gaps} (the initial gaps before anything ran are not). */
    readonly listed: boolean;
    readonly wanted: boolean;
  }
  | { readonly kind: "close"; readonly key: string | undefined; readonly at: Mark };

/** The open and the latest closed gap of one key, or of the whole source. */
export interface GapRecord {
  readonly open: Gap | undefined;
  readonly last: Gap | undefined;
}

/**
 * The replay rule over gap records: the latest break in coverage of `keys` (or of the
 * source) that an event at `offset` does not postdate. `record(key)` is undefined for a key
 * with no record (uncovered since `start`); `wide` lists the records of every wanted key, for
 * `covers` to vouch for narrower ones.
 */
export function latestBreak(
  source: GapRecord,
  record: (key: string) => GapRecord | undefined,
  wide: () => Iterable<[string, GapRecord]>,
  covers: (wide: string, narrow: string) => boolean,
  start: Mark,
  keys: readonly string[],
  offset: number,
): Gap | undefined {
  if (source.open) return { ...source.open };
  const keyBreak = (r: GapRecord | undefined, key: string): Gap | undefined => {
    if (!r) return { reason: "NOT_REGISTERED", key, from: start, to: undefined };
    if (r.open) return r.open;
    return r.last && r.last.to!.offset >= offset ? r.last : undefined;
  };
  const coveredByWider = (key: string): boolean => {
    for (const [w, r] of wide()) {
      if (w !== key && !keyBreak(r, w) && covers(w, key)) return true;
    }
    return false;
  };
  const found: Gap[] = [];
  if (source.last && source.last.to!.offset >= offset) found.push(source.last);
  for (const key of keys) {
    const own = keyBreak(record(key), key);
    if (!own || coveredByWider(key)) continue;
    if (!own.to) return { ...own };
    found.push(own);
  }
  if (found.length === 0) return undefined;
  return { ...found.reduce((a, b) => (b.to!.offset > a.to!.offset ? b : a)) };
}

/** What a {@link Coverage} holds now, for a store that lost its records (see cluster). */
export interface CoverageSnapshot {
  /** The source's open gap, if any. */
  readonly source: { reason: GapReason; at: number } | undefined;
  readonly keys: readonly {
    key: string;
    wanted: boolean;
    open: { reason: GapReason; at: number; listed: boolean } | undefined;
  }[];
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
  readonly #onChange: ((change: CoverageChange) => void) | undefined;
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
    this.#onChange = options.onChange;
    // Before the first connection nothing was received, but nothing was missed either.
    this.#sourceOpen = this.#gap(
      options.startReason ?? "UPSTREAM_DISCONNECTED",
      undefined,
      options.start,
      false,
    );
  }

  /** The open gaps now, and which keys are wanted. */
  snapshot(): CoverageSnapshot {
    const open = (g: OpenGap | undefined) => g && { reason: g.reason, at: g.from.at };
    return {
      source: open(this.#sourceOpen),
      keys: [...this.#keys].map(([key, st]) => ({
        key,
        wanted: st.addedIn !== undefined,
        open: st.open &&
          { reason: st.open.reason, at: st.open.from.at, listed: this.#listed.includes(st.open) },
      })),
    };
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
          open: this.#gap("NOT_REGISTERED", key, this.#start, false, true),
          last: undefined,
        };
        this.#keys.set(key, state);
      }
      state.addedIn = version;
      this.#idle.delete(key);
      state.open ??= this.#gap("NOT_REGISTERED", key, at, true, true);
      this.#pending.add(key);
    }
    for (const key of removed) {
      const state = this.#keys.get(key);
      if (!state) continue;
      state.addedIn = undefined;
      this.#pending.delete(key);
      if (state.open) {
        // Still unconfirmed: the same gap goes on, now for a key nobody wants.
        this.#onChange?.({ ...this.#change(state.open), wanted: false });
      } else state.open = this.#gap("NOT_REGISTERED", key, at, true, false);
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
      this.#onChange?.({ kind: "close", key: undefined, at });
    }
    const synced = Math.min(...this.#sockets.map((x) => x.synced));
    for (const key of this.#pending) {
      const state = this.#keys.get(key)!;
      if (state.addedIn === undefined || state.addedIn > synced || !state.open) continue;
      state.open.to = at;
      state.last = state.open;
      state.open = undefined;
      this.#pending.delete(key);
      this.#onChange?.({ kind: "close", key, at });
    }
  }

  breakAfter(keys: readonly string[], offset: number): Gap | undefined {
    return latestBreak(
      { open: this.#sourceOpen, last: this.#sourceLast },
      (key) => this.#keys.get(key),
      () => [...this.#keys].filter(([, st]) => st.addedIn !== undefined),
      this.#covers,
      this.#start,
      keys,
      offset,
    );
  }

  gaps(): Gap[] {
    return this.#listed.map((g) => ({ ...g })).reverse();
  }

  #gap(
    reason: GapReason,
    key: string | undefined,
    from: Mark,
    list: boolean,
    wanted = true,
  ): OpenGap {
    const gap: OpenGap = { reason, key, from, to: undefined };
    if (list) {
      this.#listed.push(gap);
      if (this.#listed.length > this.#maxListed) this.#listed.shift();
    }
    this.#onChange?.({ ...this.#change(gap, list), wanted });
    return gap;
  }

  #change(gap: OpenGap, listed = this.#listed.includes(gap)) {
    return { kind: "open" as const, key: gap.key, reason: gap.reason, at: gap.from, listed };
  }
}

/** A one-line account of a gap for error messages, e.g. in CURSOR_EXPIRED. */
export function describeGap(gap: Gap, source: string, now: number): string {
  const from = new Date(gap.from.at).toISOString();
  const to = gap.to ? new Date(gap.to.at).toISOString() : `now (${new Date(now).toISOString()})`;
  switch (gap.reason) {
    case "NOT_REGISTERED":
      return `interest ${
        JSON.stringify(gap.key)
      } was not registered upstream between ${from} and ${to}`;
    case "UPSTREAM_DISCONNECTED":
      return `upstream "${source}" was disconnected between ${from} and ${to}`;
    case "NO_HOLDER":
      return `no cluster node held upstream "${source}" between ${from} and ${to}`;
  }
}
