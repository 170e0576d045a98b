/**
 * The node registry behind `Query.cluster`: every node writes its id, role and a heartbeat
 * into one hash; entries older than their expiry are left out (and removed) when read.
 *
 * @module
 */
import type { ClusterRole } from "./config.ts";
import { type RedisClient, runScript } from "./redis.ts";

/** A node as the registry knows it. */
export interface NodeRecord {
  id: string;
  role: ClusterRole;
  /** Epoch milliseconds of its last heartbeat (Redis clock). */
  lastSeenAt: number;
}

const BEAT = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('HSET', KEYS[1], ARGV[1], cjson.encode({role = ARGV[2], at = now, until_ = now + tonumber(ARGV[3])}))
return now
`;

const LIST = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local all = redis.call('HGETALL', KEYS[1])
local live = {}
for i = 1, #all, 2 do
  local ok, v = pcall(cjson.decode, all[i + 1])
  if not ok or v.until_ < now then
    redis.call('HDEL', KEYS[1], all[i])
  else
    table.insert(live, all[i])
    table.insert(live, all[i + 1])
  end
end
return live
`;

/** The cluster's node registry. */
export class NodeRegistry {
  readonly #redis: RedisClient;
  readonly #key: string;

  constructor(redis: RedisClient, key: string) {
    this.#redis = redis;
    this.#key = key;
  }

  /** Records a heartbeat of `id`, valid for `ttlMs`. */
  async beat(id: string, role: ClusterRole, ttlMs: number): Promise<void> {
    await runScript(this.#redis, BEAT, [this.#key], [id, role, String(ttlMs)]);
  }

  /** Removes `id` (clean shutdown). */
  async remove(id: string): Promise<void> {
    await this.#redis.hDel(this.#key, id);
  }

  /** Live nodes, ordered by id. */
  async list(): Promise<NodeRecord[]> {
    const flat = await runScript(this.#redis, LIST, [this.#key], []) as string[];
    const out: NodeRecord[] = [];
    for (let i = 0; i + 1 < flat.length; i += 2) {
      const v = JSON.parse(flat[i + 1]!) as { role: ClusterRole; at: number };
      out.push({ id: flat[i]!, role: v.role, lastSeenAt: v.at });
    }
    return out.sort((a, b) => (a.id < b.id ? -1 : 1));
  }
}
