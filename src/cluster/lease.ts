/**
 * One source's upstream lease: at most one node holds it at a time (`SET NX PX`), each grant
 * carries a fencing token (a counter that only grows), and the stream log's append script
 * checks the exact lease value, so a node whose lease lapsed (paused, partitioned) can never
 * append even if it still believes it holds the source.
 *
 * @module
 */
import type { SourceKeys } from "./keys.ts";
import { type RedisClient, runScript } from "./redis.ts";

/** A granted lease: the value stored in Redis and its fencing token. */
export interface LeaseGrant {
  /** `<nodeId>/<token>`: what the append script compares. */
  value: string;
  token: number;
}

const ACQUIRE = `
if redis.call('EXISTS', KEYS[1]) == 1 then return false end
local token = redis.call('INCR', KEYS[2])
redis.call('SET', KEYS[1], ARGV[1] .. '/' .. token, 'PX', ARGV[2])
return token
`;

// A lease that vanished (Redis restarted empty, or was flushed) while its holder was still
// inside its validity is taken back with the same value, so the socket can stay open; the
// counter is raised past the token so later grants never reuse it.
const RENEW = `
local current = redis.call('GET', KEYS[1])
if current == ARGV[1] then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  return 1
end
if not current then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
  if tonumber(redis.call('GET', KEYS[2]) or '0') < tonumber(ARGV[3]) then
    redis.call('SET', KEYS[2], ARGV[3])
  end
  return 2
end
return 0
`;

const RELEASE = `
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('DEL', KEYS[1])
  return 1
end
return 0
`;

/** Lease operations on one source's keys. */
export class Lease {
  readonly #redis: RedisClient;
  readonly #keys: SourceKeys;
  readonly #nodeId: string;
  readonly #leaseMs: number;

  constructor(redis: RedisClient, keys: SourceKeys, nodeId: string, leaseMs: number) {
    this.#redis = redis;
    this.#keys = keys;
    this.#nodeId = nodeId;
    this.#leaseMs = leaseMs;
  }

  /** Takes the lease if no one holds it; undefined when someone does. */
  async acquire(): Promise<LeaseGrant | undefined> {
    const token = await runScript(this.#redis, ACQUIRE, [this.#keys.lease, this.#keys.fence], [
      this.#nodeId,
      String(this.#leaseMs),
    ]);
    if (typeof token !== "number") return undefined;
    return { value: `${this.#nodeId}/${token}`, token };
  }

  /**
   * Extends a grant by `leaseMs`; false when another node holds the lease. Only call it while
   * the grant is still valid by the local clock.
   */
  async renew(grant: LeaseGrant): Promise<boolean> {
    const ok = await runScript(this.#redis, RENEW, [this.#keys.lease, this.#keys.fence], [
      grant.value,
      String(this.#leaseMs),
      String(grant.token),
    ]);
    return ok === 1 || ok === 2;
  }

  /** Gives a grant back (only if still ours), so another node can take over at once. */
  async release(grant: LeaseGrant): Promise<boolean> {
    return (await runScript(this.#redis, RELEASE, [this.#keys.lease], [grant.value])) === 1;
  }

  /** The node id holding the lease now, or undefined. */
  async holder(): Promise<string | undefined> {
    return holderOf(await this.#redis.get(this.#keys.lease));
  }
}

/** The node id inside a lease value. */
export function holderOf(value: string | null | undefined): string | undefined {
  if (!value) return undefined;
  const slash = value.lastIndexOf("/");
  return slash > 0 ? value.slice(0, slash) : undefined;
}
