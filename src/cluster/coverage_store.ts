/**
 * Cluster coverage records: when the source's holder was (not) receiving each interest key,
 * kept beside the source's stream so every node judges an `after:` replay by the same truth,
 * across failovers and restarts. Only the holder writes, through its appender (so each change
 * lands between exactly the events it came between) and fenced by its lease token; every
 * node reads the records back into a {@link CoverageMirror}.
 *
 * Marks are offsets of the stream: a gap closed at offset `o` means events up to `o` were
 * appended before the interest was received again. The records belong to one stream epoch:
 * a store whose records are of another epoch (Redis lost them, or never had them) answers
 * `resync`, and the holder writes its whole state again ({@link CoverageStore.replace}).
 *
 * @module
 */
import type { CoverageSnapshot, Gap, GapReason, GapRecord, Mark } from "../hub/coverage.ts";
import type { SourceKeys } from "./keys.ts";
import { type RedisClient, runScript } from "./redis.ts";

/** One change as the store applies it; `off` -1 stands for the stream's top. */
export type CoverageOp =
  | { t: "open"; k?: string; r: GapReason; at: number; q: 0 | 1; w: 0 | 1 }
  | { t: "close"; k?: string; at: number; off: number }
  /**
   * A new holder took the lease: every key is uncovered from `at` until this holder
   * registers it, and the source until its sockets are, from the later of `from` (before
   * which the old holder's lease must have been renewed) and the old holder's last write.
   */
  | { t: "takeover"; at: number; from: number };

/** The outcome of a write: the stream epoch the records are for, or why nothing was written. */
export type CoverageWrite = { ok: true; epoch: string } | "fenced" | "nolease" | "resync";

/** Everything a mirror needs, as stored. */
export interface StoredCoverage {
  /** The stream epoch the records belong to; undefined when there are none. */
  epoch: string | undefined;
  /** Bumped by every write. */
  version: number;
  /** Keys without a record are uncovered since then. */
  start: Mark;
  source: GapRecord;
  keys: Map<string, GapRecord>;
  /** Closed gaps for operators, newest first. */
  listed: Gap[];
  /** Open gaps for operators (not the initial ones, nor a takeover's per key). */
  listedOpen: Gap[];
}

/** Where a source's coverage records live. */
export interface CoverageStore {
  /** Applies `ops` in order under lease `lease`; `resync` when the records are stale. */
  apply(lease: string, newEpoch: string, ops: readonly CoverageOp[]): Promise<CoverageWrite>;
  /** Replaces every record with `snapshot` (taken at `at`) for the stream's epoch. */
  replace(
    lease: string,
    newEpoch: string,
    at: number,
    snapshot: CoverageSnapshot,
  ): Promise<Exclude<CoverageWrite, "resync">>;
  /** The records. */
  load(): Promise<StoredCoverage>;
  /** The records' version (cheap: to know whether a mirror is current). */
  version(): Promise<number>;
}

/** Gaps kept for operators. */
export const MAX_LISTED = 100;
/** Records kept for keys nobody wants (older ones read as uncovered since the start). */
export const MAX_IDLE_KEYS = 10_000;

// Records are JSON: {o = open gap, l = last closed gap}, a gap {r = reason, f = {at, offset},
// t = {at, offset}, q = 1 when listed}. Field `src` is the source's, `k:<key>` a key's.
const PRELUDE = `
local lease = redis.call('GET', KEYS[1])
if not lease then return 'nolease' end
if lease ~= ARGV[1] then return 'fenced' end
local epoch = redis.call('HGET', KEYS[2], 'epoch')
if not epoch then
  epoch = ARGV[2]
  redis.call('HSET', KEYS[2], 'epoch', epoch)
end
local top = tonumber(redis.call('HGET', KEYS[2], 'top') or '0')
`;

const APPLY = PRELUDE + `
if redis.call('HGET', KEYS[3], 'epoch') ~= epoch then return 'resync' end
local function get(field)
  local raw = redis.call('HGET', KEYS[3], field)
  if raw then return cjson.decode(raw) end
  return {}
end
local function put(field, rec) redis.call('HSET', KEYS[3], field, cjson.encode(rec)) end
local ops = cjson.decode(ARGV[3])
for _, op in ipairs(ops) do
  local key = op.k
  local field = key and ('k:' .. key) or 'src'
  if op.t == 'open' then
    local rec = get(field)
    if not rec.o then rec.o = {r = op.r, f = {op.at, top}, q = op.q} end
    put(field, rec)
    if key then
      if op.w == 1 then redis.call('ZREM', KEYS[5], key)
      else redis.call('ZADD', KEYS[5], op.at, key) end
    end
  elseif op.t == 'close' then
    local rec = get(field)
    if rec.o then
      local off = op.off
      if off < 0 or off > top then off = top end
      rec.o.t = {op.at, off}
      rec.l = rec.o
      rec.o = nil
      put(field, rec)
      if rec.l.q == 1 then
        redis.call('LPUSH', KEYS[4], cjson.encode({r = rec.l.r, k = key, f = rec.l.f, t = rec.l.t}))
        redis.call('LTRIM', KEYS[4], 0, tonumber(ARGV[4]) - 1)
      end
    end
    if key then redis.call('ZREM', KEYS[5], key) end
  elseif op.t == 'takeover' then
    local all = redis.call('HGETALL', KEYS[3])
    for i = 1, #all, 2 do
      if string.sub(all[i], 1, 2) == 'k:' then
        local rec = cjson.decode(all[i + 1])
        if not rec.o then
          rec.o = {r = 'NOT_REGISTERED', f = {op.at, top}, q = 0}
          put(all[i], rec)
        end
      end
    end
    -- The old holder was alive when it last wrote: the hole starts no earlier.
    local wrote = tonumber(redis.call('HGET', KEYS[2], 'wrote') or '0')
    local rec = get('src')
    if not rec.o then rec.o = {r = 'NO_HOLDER', f = {math.max(op.from, wrote), top}, q = 1} end
    put('src', rec)
  end
end
while redis.call('ZCARD', KEYS[5]) > tonumber(ARGV[5]) do
  local oldest = redis.call('ZPOPMIN', KEYS[5])
  redis.call('HDEL', KEYS[3], 'k:' .. oldest[1])
end
redis.call('HINCRBY', KEYS[3], 'v', 1)
local t = redis.call('TIME')
redis.call('HSET', KEYS[2], 'wrote', tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000))
redis.call('PUBLISH', KEYS[6], 'coverage')
return 'ok:' .. epoch
`;

const REPLACE = PRELUDE + `
local v = tonumber(redis.call('HGET', KEYS[3], 'v') or '0')
redis.call('DEL', KEYS[3], KEYS[5])
local at = tonumber(ARGV[3])
redis.call('HSET', KEYS[3], 'epoch', epoch, 'v', v + 1, 'start', cjson.encode({at, 0}))
local snap = cjson.decode(ARGV[4])
local src = {}
if snap.s then src.o = {r = snap.s.r, f = {snap.s.at, 0}, q = 1} end
redis.call('HSET', KEYS[3], 'src', cjson.encode(src))
for _, k in ipairs(snap.k) do
  local rec = {}
  if k.o then rec.o = {r = k.o.r, f = {k.o.at, 0}, q = k.o.q} end
  redis.call('HSET', KEYS[3], 'k:' .. k.key, cjson.encode(rec))
  if k.w == 0 then redis.call('ZADD', KEYS[5], k.o and k.o.at or at, k.key) end
end
redis.call('PUBLISH', KEYS[6], 'coverage')
return 'ok:' .. epoch
`;

type Pair = [number, number];
interface StoredGap {
  r: GapReason;
  f: Pair;
  t?: Pair;
  q?: number;
  k?: string;
}

/** Coverage records in Redis, beside the source's stream (same hash tag). */
export class RedisCoverageStore implements CoverageStore {
  readonly #redis: RedisClient;
  readonly #keys: SourceKeys;

  constructor(redis: RedisClient, keys: SourceKeys) {
    this.#redis = redis;
    this.#keys = keys;
  }

  #scriptKeys(): string[] {
    const k = this.#keys;
    return [k.lease, k.meta, k.coverage, k.gaps, k.idle, k.nudge];
  }

  async apply(lease: string, newEpoch: string, ops: readonly CoverageOp[]): Promise<CoverageWrite> {
    return toWrite(
      await runScript(this.#redis, APPLY, this.#scriptKeys(), [
        lease,
        newEpoch,
        JSON.stringify(ops),
        String(MAX_LISTED),
        String(MAX_IDLE_KEYS),
      ]),
    );
  }

  async replace(
    lease: string,
    newEpoch: string,
    at: number,
    snapshot: CoverageSnapshot,
  ): Promise<Exclude<CoverageWrite, "resync">> {
    const snap = {
      s: snapshot.source && { r: snapshot.source.reason, at: snapshot.source.at },
      k: snapshot.keys.map((k) => ({
        key: k.key,
        w: k.wanted ? 1 : 0,
        o: k.open && { r: k.open.reason, at: k.open.at, q: k.open.listed ? 1 : 0 },
      })),
    };
    // cjson reads an empty array as an object; ipairs over either is the same.
    const written = toWrite(
      await runScript(this.#redis, REPLACE, this.#scriptKeys(), [
        lease,
        newEpoch,
        String(at),
        JSON.stringify(snap),
      ]),
    );
    return written === "resync" ? "fenced" : written;
  }

  async load(): Promise<StoredCoverage> {
    const [hash, list] = await Promise.all([
      this.#redis.hGetAll(this.#keys.coverage),
      this.#redis.lRange(this.#keys.gaps, 0, MAX_LISTED - 1),
    ]);
    const keys = new Map<string, GapRecord>();
    let source: GapRecord = { open: undefined, last: undefined };
    const listedOpen: Gap[] = [];
    for (const [field, raw] of Object.entries(hash)) {
      const key = field === "src" ? undefined : field.startsWith("k:") ? field.slice(2) : null;
      if (key === null) continue;
      const rec = toRecord(raw, key);
      if (key === undefined) source = rec;
      else keys.set(key, rec);
      if (rec.open && parseJson<{ o?: StoredGap }>(raw)?.o?.q === 1) listedOpen.push(rec.open);
    }
    const start = parseJson<Pair>(hash.start);
    return {
      epoch: hash.epoch || undefined,
      version: Number(hash.v ?? 0),
      start: { at: start?.[0] ?? 0, offset: start?.[1] ?? 0 },
      source,
      keys,
      listedOpen,
      listed: list.flatMap((raw) => {
        const g = parseJson<StoredGap>(raw);
        return g ? [toGap(g, g.k)] : [];
      }),
    };
  }

  async version(): Promise<number> {
    return Number(await this.#redis.hGet(this.#keys.coverage, "v") ?? 0);
  }
}

function toWrite(reply: unknown): CoverageWrite {
  const text = String(reply);
  if (text.startsWith("ok:")) return { ok: true, epoch: text.slice(3) };
  return text === "nolease" || text === "resync" ? text : "fenced";
}

function parseJson<T>(raw: string | undefined): T | undefined {
  if (raw === undefined) return undefined;
  try {
    return JSON.parse(raw) as T;
  } catch {
    return undefined;
  }
}

function toGap(g: StoredGap, key: string | undefined): Gap {
  return {
    reason: g.r,
    key,
    from: { at: g.f[0], offset: g.f[1] },
    to: g.t ? { at: g.t[0], offset: g.t[1] } : undefined,
  };
}

function toRecord(raw: string, key: string | undefined): GapRecord {
  // An unreadable record reads as open: refusing a replay is the safe mistake.
  const rec = parseJson<{ o?: StoredGap; l?: StoredGap }>(raw) ??
    { o: { r: "NOT_REGISTERED", f: [0, 0] } };
  return {
    open: rec.o ? toGap({ r: rec.o.r, f: rec.o.f }, key) : undefined,
    last: rec.l?.t ? toGap(rec.l, key) : undefined,
  };
}

/** What a {@link MemoryCoverageStore} reads of its stream: the lease and the stream's head. */
export interface MemoryStreamView {
  lease(): string | undefined;
  /** The stream's epoch and top; `newEpoch` is adopted when it has none (as Redis does). */
  head(newEpoch: string): { epoch: string; top: number };
  /** When the holder last wrote (the Redis implementation keeps it in the stream's meta). */
  wrote?(): number;
}

interface MemoryRecord {
  o?: StoredGap | undefined;
  l?: StoredGap | undefined;
}

/**
 * The same records in process memory, with the same rules as the Lua scripts (the contract
 * test runs both through one sequence): for single-process use and unit tests.
 */
export class MemoryCoverageStore implements CoverageStore {
  readonly #stream: MemoryStreamView;
  #epoch: string | undefined;
  #version = 0;
  #start: Pair = [0, 0];
  #records = new Map<string, MemoryRecord>();
  #idle = new Map<string, number>();
  #listed: StoredGap[] = [];

  constructor(stream: MemoryStreamView) {
    this.#stream = stream;
  }

  #fence(lease: string): "nolease" | "fenced" | undefined {
    const held = this.#stream.lease();
    return held === undefined ? "nolease" : held !== lease ? "fenced" : undefined;
  }

  apply(lease: string, newEpoch: string, ops: readonly CoverageOp[]): Promise<CoverageWrite> {
    const refused = this.#fence(lease);
    if (refused) return Promise.resolve(refused);
    const { epoch, top } = this.#stream.head(newEpoch);
    if (this.#epoch !== epoch) return Promise.resolve("resync");
    for (const op of ops) {
      const field = op.t !== "takeover" && op.k !== undefined ? `k:${op.k}` : "src";
      const rec = this.#records.get(field) ?? {};
      if (op.t === "open") {
        rec.o ??= { r: op.r, f: [op.at, top], q: op.q };
        if (op.k !== undefined) {
          if (op.w === 1) this.#idle.delete(op.k);
          else this.#idle.set(op.k, op.at);
        }
      } else if (op.t === "close") {
        if (rec.o) {
          const off = op.off < 0 || op.off > top ? top : op.off;
          rec.l = { ...rec.o, t: [op.at, off] };
          rec.o = undefined;
          if (rec.l.q === 1) {
            this.#listed.unshift({ ...rec.l, ...(op.k !== undefined ? { k: op.k } : {}) });
            this.#listed.length = Math.min(this.#listed.length, MAX_LISTED);
          }
        }
        if (op.k !== undefined) this.#idle.delete(op.k);
      } else {
        for (const [f, r] of this.#records) {
          if (f.startsWith("k:") && !r.o) r.o = { r: "NOT_REGISTERED", f: [op.at, top], q: 0 };
        }
        rec.o ??= {
          r: "NO_HOLDER",
          f: [Math.max(op.from, this.#stream.wrote?.() ?? 0), top],
          q: 1,
        };
      }
      this.#records.set(field, rec);
    }
    while (this.#idle.size > MAX_IDLE_KEYS) {
      const [oldest] = [...this.#idle].reduce((a, b) => (b[1] < a[1] ? b : a));
      this.#idle.delete(oldest);
      this.#records.delete(`k:${oldest}`);
    }
    this.#version++;
    return Promise.resolve({ ok: true, epoch });
  }

  replace(
    lease: string,
    newEpoch: string,
    at: number,
    snapshot: CoverageSnapshot,
  ): Promise<Exclude<CoverageWrite, "resync">> {
    const refused = this.#fence(lease);
    if (refused) return Promise.resolve(refused);
    const { epoch } = this.#stream.head(newEpoch);
    this.#epoch = epoch;
    this.#version++;
    this.#start = [at, 0];
    this.#records = new Map();
    this.#idle = new Map();
    const src = snapshot.source;
    this.#records.set("src", src ? { o: { r: src.reason, f: [src.at, 0], q: 1 } } : {});
    for (const k of snapshot.keys) {
      const o = k.open && { r: k.open.reason, f: [k.open.at, 0] as Pair, q: k.open.listed ? 1 : 0 };
      this.#records.set(`k:${k.key}`, o ? { o } : {});
      if (!k.wanted) this.#idle.set(k.key, k.open?.at ?? at);
    }
    return Promise.resolve({ ok: true, epoch });
  }

  load(): Promise<StoredCoverage> {
    const keys = new Map<string, GapRecord>();
    let source: GapRecord = { open: undefined, last: undefined };
    const listedOpen: Gap[] = [];
    for (const [field, rec] of this.#records) {
      const key = field === "src" ? undefined : field.slice(2);
      const record = {
        open: rec.o && toGap({ r: rec.o.r, f: rec.o.f }, key),
        last: rec.l?.t ? toGap(rec.l, key) : undefined,
      };
      if (key === undefined) source = record;
      else keys.set(key, record);
      if (record.open && rec.o?.q === 1) listedOpen.push(record.open);
    }
    return Promise.resolve({
      epoch: this.#epoch,
      version: this.#version,
      start: { at: this.#start[0], offset: this.#start[1] },
      source,
      keys,
      listed: this.#listed.map((g) => toGap(g, g.k)),
      listedOpen,
    });
  }

  version(): Promise<number> {
    return Promise.resolve(this.#version);
  }
}
