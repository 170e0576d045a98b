/**
 * Cluster-wide interest: each node keeps its local interest per source in a Redis hash
 * (node id -> items plus an expiry on Redis's own clock, renewed by heartbeat), and nudges
 * the holder over pub/sub when it changes. The holder registers the union upstream, so the
 * first subscriber anywhere registers and the last one anywhere deregisters; a node that dies
 * without cleanup stops counting once its entry expires.
 *
 * @module
 */
import type { InterestItem } from "../hub/interest.ts";
import type { SourceKeys } from "./keys.ts";
import { type RedisClient, runScript } from "./redis.ts";

// Expiry uses Redis TIME so nodes with skewed clocks agree on it.
const PUT = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local previous = redis.call('HGET', KEYS[1], ARGV[1])
local items = ARGV[2]
if items == '[]' then
  redis.call('HDEL', KEYS[1], ARGV[1])
else
  redis.call('HSET', KEYS[1], ARGV[1], (now + tonumber(ARGV[3])) .. ' ' .. items)
end
local before = previous and string.sub(previous, string.find(previous, ' ') + 1) or '[]'
if before ~= items then redis.call('PUBLISH', KEYS[2], ARGV[1]) end
return 1
`;

const UNION = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local all = redis.call('HGETALL', KEYS[1])
local live = {}
for i = 1, #all, 2 do
  local v = all[i + 1]
  local space = string.find(v, ' ')
  if tonumber(string.sub(v, 1, space - 1)) < now then
    redis.call('HDEL', KEYS[1], all[i])
  else
    table.insert(live, all[i])
    table.insert(live, string.sub(v, space + 1))
  end
end
return live
`;

/** One source's interest registry. */
export class InterestRegistry {
  readonly #redis: RedisClient;
  readonly #keys: SourceKeys;

  constructor(redis: RedisClient, keys: SourceKeys) {
    this.#redis = redis;
    this.#keys = keys;
  }

  /** Pub/sub channel the holder listens on for changes. */
  get channel(): string {
    return this.#keys.nudge;
  }

  /**
   * Stores `nodeId`'s whole interest, valid for `ttlMs` unless put again; nudges the holder
   * when it differs from what was stored.
   */
  async put(nodeId: string, items: readonly InterestItem[], ttlMs: number): Promise<void> {
    const sorted = [...items].sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
    await runScript(this.#redis, PUT, [this.#keys.interest, this.#keys.nudge], [
      nodeId,
      JSON.stringify(sorted),
      String(ttlMs),
    ]);
  }

  /** Removes `nodeId`'s interest (clean shutdown). */
  async remove(nodeId: string): Promise<void> {
    await this.put(nodeId, [], 0);
  }

  /** Every live node's interest, and the union keyed by item key (first node's item wins). */
  async union(): Promise<
    { byNode: Map<string, InterestItem[]>; union: Map<string, InterestItem> }
  > {
    const flat = await runScript(this.#redis, UNION, [this.#keys.interest], []) as string[];
    const byNode = new Map<string, InterestItem[]>();
    const union = new Map<string, InterestItem>();
    for (let i = 0; i + 1 < flat.length; i += 2) {
      let items: InterestItem[] = [];
      try {
        const parsed = JSON.parse(flat[i + 1]!);
        if (Array.isArray(parsed)) {
          items = parsed.filter((x): x is InterestItem =>
            typeof x === "object" && x !== null && typeof (x as InterestItem).key === "string"
          );
        }
      } catch {
        // A malformed entry counts as no interest; its node rewrites it on the next heartbeat.
      }
      byNode.set(flat[i]!, items);
      for (const item of items) if (!union.has(item.key)) union.set(item.key, item);
    }
    return { byNode, union };
  }
}
