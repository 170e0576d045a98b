/**
 * One durable log per source on a Redis Stream. The holder appends through one Lua script
 * that checks its fencing token, allocates consecutive offsets, drops vendor events already
 * appended (dedupe window), `XADD`s with the offset as the entry id, trims to the source's
 * history and keeps the epoch beside the stream. Each entry carries the version of the
 * source's coverage records at its append, so a reader loads those before the entry.
 * Readers read ranges and tail.
 *
 * The epoch is created with the stream's metadata, so it changes exactly when the stream is
 * lost (Redis flushed, or a new Redis): cursors of the old epoch then expire.
 *
 * @module
 */
import type { SourceKeys } from "./keys.ts";
import { type RedisClient, runScript } from "./redis.ts";

/** One event to append: its JSON and, where the vendor gives one, its own event id. */
export interface AppendEntry {
  data: string;
  vendorId?: string | undefined;
}

/** The outcome of an append. */
export type AppendResult =
  | { ok: false; reason: "fenced" }
  /**
   * No one holds the lease (it lapsed, or Redis lost it): nothing was appended; the holder
   * may renew (or take back) its lease and try again.
   */
  | { ok: false; reason: "nolease" }
  /** The stream moved on since `expect` (another holder appended): nothing was appended. */
  | { ok: false; reason: "moved" }
  /** `offsets[i]` is entry i's offset, or null when it was a duplicate. */
  | { ok: true; epoch: string; offsets: (number | null)[] };

/** A stored entry. */
export interface LogEntry {
  offset: number;
  /** The epoch it was appended in: a tail that sees another one knows the stream was lost. */
  epoch: string;
  /** The version of the source's coverage records when it was appended. */
  coverage: number;
  data: string;
}

/** The stream's metadata. */
export interface LogMeta {
  /** Undefined until the first append (or after the stream was lost). */
  epoch: string | undefined;
  /** Newest offset (0 when nothing was appended). */
  top: number;
  /** Newest offset before events that never reached the stream (0: none). */
  gap: number;
}

const APPEND = `
local lease = redis.call('GET', KEYS[1])
if not lease then return {'nolease'} end
if lease ~= ARGV[1] then return {'fenced'} end
local epoch = redis.call('HGET', KEYS[2], 'epoch')
if not epoch then
  epoch = ARGV[2]
  redis.call('HSET', KEYS[2], 'epoch', epoch)
end
local history = ARGV[3]
local window = tonumber(ARGV[4])
local top = tonumber(redis.call('HGET', KEYS[2], 'top') or '0')
if ARGV[5] ~= '' and epoch ~= ARGV[2] and (epoch ~= ARGV[6] or top ~= tonumber(ARGV[5])) then
  return {'moved'}
end
local result = {epoch}
local cv = redis.call('HGET', KEYS[5], 'v') or '0'
for i = 7, #ARGV, 2 do
  local vid = ARGV[i]
  if vid ~= '' and redis.call('ZSCORE', KEYS[4], vid) then
    table.insert(result, -1)
  else
    top = top + 1
    redis.call('XADD', KEYS[3], 'MAXLEN', history, top .. '-0', 'e', epoch, 'c', cv, 'd', ARGV[i + 1])
    if vid ~= '' and window > 0 then redis.call('ZADD', KEYS[4], top, vid) end
    table.insert(result, top)
  end
end
local t = redis.call('TIME')
redis.call('HSET', KEYS[2], 'top', top, 'wrote', tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000))
if window > 0 then redis.call('ZREMRANGEBYSCORE', KEYS[4], '-inf', top - window) end
return result
`;

const RECORD_GAP = `
local lease = redis.call('GET', KEYS[1])
if not lease then return -1 end
if lease ~= ARGV[1] then return 0 end
local epoch = redis.call('HGET', KEYS[2], 'epoch')
if not epoch then redis.call('HSET', KEYS[2], 'epoch', ARGV[2]) end
local top = redis.call('HGET', KEYS[2], 'top') or '0'
redis.call('HSET', KEYS[2], 'gap', top)
return 1
`;

/** A source's stream log. */
export class StreamLog {
  readonly #redis: RedisClient;
  readonly #keys: SourceKeys;

  constructor(redis: RedisClient, keys: SourceKeys) {
    this.#redis = redis;
    this.#keys = keys;
  }

  /**
   * Appends entries in order under lease `leaseValue`. `newEpoch` is used only when the
   * stream has no epoch yet. Nothing is appended when the lease is not `leaseValue`, nor,
   * with `expect`, when the stream is no longer at that epoch and top (a stream that was
   * lost and starts afresh passes).
   */
  async append(
    leaseValue: string,
    newEpoch: string,
    history: number,
    dedupeWindow: number,
    entries: readonly AppendEntry[],
    expect?: { epoch: string; top: number },
  ): Promise<AppendResult> {
    const args = [
      leaseValue,
      newEpoch,
      String(history),
      String(dedupeWindow),
      expect ? String(expect.top) : "",
      expect?.epoch ?? "",
    ];
    for (const e of entries) args.push(e.vendorId ?? "", e.data);
    const k = this.#keys;
    const reply = await runScript(
      this.#redis,
      APPEND,
      [k.lease, k.meta, k.log, k.seen, k.coverage],
      args,
    );
    const [head, ...rest] = reply as [string, ...number[]];
    if (head === "fenced" || head === "moved" || head === "nolease") {
      return { ok: false, reason: head };
    }
    return { ok: true, epoch: head, offsets: rest.map((o) => (o < 0 ? null : o)) };
  }

  /**
   * Marks that events after the current top were lost (the holder's outage buffer overflowed).
   * "fenced" when another node holds the lease, "nolease" when no one does.
   */
  async recordGap(leaseValue: string, newEpoch: string): Promise<"ok" | "fenced" | "nolease"> {
    const k = this.#keys;
    const r = await runScript(this.#redis, RECORD_GAP, [k.lease, k.meta], [leaseValue, newEpoch]);
    return r === 1 ? "ok" : r === 0 ? "fenced" : "nolease";
  }

  /** The stream's metadata. */
  async meta(): Promise<LogMeta> {
    const h = await this.#redis.hGetAll(this.#keys.meta);
    return {
      epoch: h.epoch || undefined,
      top: Number(h.top ?? 0),
      gap: Number(h.gap ?? 0),
    };
  }

  /** Up to `count` entries with offsets above `after`, oldest first. */
  async readAfter(after: number, count: number, client = this.#redis): Promise<LogEntry[]> {
    const rows = await client.xRange(this.#keys.log, `(${after}-0`, "+", { COUNT: count });
    return (rows ?? []).map(toEntry);
  }

  /** The newest `count` entries, oldest first. */
  async newest(count: number): Promise<LogEntry[]> {
    if (count <= 0) return [];
    const rows = await this.#redis.xRevRange(this.#keys.log, "+", "-", { COUNT: count });
    return (rows ?? []).map(toEntry).reverse();
  }

  /**
   * Waits up to `blockMs` for entries above `after` on `client`, a dedicated connection
   * (a blocking read holds its connection).
   */
  async waitAfter(
    client: RedisClient,
    after: number,
    blockMs: number,
    count = 1000,
  ): Promise<LogEntry[]> {
    return (await waitForEntries(client, [{ key: this.#keys.log, after }], blockMs, count))[0]!;
  }

  /** The stream's key (for multi-stream tails). */
  get key(): string {
    return this.#keys.log;
  }
}

/**
 * One blocking read over several streams on `client` (a dedicated connection): entries above
 * each stream's `after`, per stream in the order given; empty lists when `blockMs` passes.
 */
export async function waitForEntries(
  client: RedisClient,
  streams: readonly { key: string; after: number }[],
  blockMs: number,
  count = 1000,
): Promise<LogEntry[][]> {
  const reply = await client.xRead(streams.map((s) => ({ key: s.key, id: `${s.after}-0` })), {
    BLOCK: blockMs,
    COUNT: count,
  });
  const out = streams.map(() => [] as LogEntry[]);
  if (!reply) return out;
  type Row = { id: string; message: Record<string, string | undefined> };
  for (const stream of reply as unknown as { name: string; messages: Row[] }[]) {
    const i = streams.findIndex((s) => s.key === stream.name);
    if (i >= 0) out[i] = stream.messages.map(toEntry);
  }
  return out;
}

function toEntry(row: { id: string; message: Record<string, string | undefined> }): LogEntry {
  return {
    offset: Number(row.id.slice(0, row.id.indexOf("-"))),
    epoch: row.message.e ?? "",
    coverage: Number(row.message.c ?? 0),
    data: row.message.d ?? "null",
  };
}
