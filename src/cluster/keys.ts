/**
 * Every Redis key and channel the cluster uses, in one place. Per-source keys share a hash
 * tag (`{source}`) so a Redis Cluster keeps them on one shard, as the Lua scripts need.
 *
 * | key | type | holds |
 * | --- | --- | --- |
 * | `<p>:src:{S}:log` | stream | the source's events; entry id `<offset>-0`, field `d` = event JSON, `c` = coverage version when appended |
 * | `<p>:src:{S}:meta` | hash | `epoch`, `top` (newest offset), `gap` (newest offset before lost events) |
 * | `<p>:src:{S}:seen` | sorted set | vendor event ids scored by offset (dedupe window) |
 * | `<p>:src:{S}:lease` | string | `<nodeId>/<fencing token>` of the holder, with a TTL of `leaseMs` |
 * | `<p>:src:{S}:fence` | counter | the last fencing token issued |
 * | `<p>:src:{S}:interest` | hash | node id -> that node's interest items and expiry |
 * | `<p>:src:{S}:status` | string | the holder's view of the upstream socket (state, error), with a TTL |
 * | `<p>:src:{S}:nudge` | channel | "interest changed" for the holder, "released" for ingest nodes, "coverage" for mirrors |
 * | `<p>:src:{S}:cov` | hash | coverage records: `epoch`, `v` (version), `start`, `src`, `k:<key>` (open and last gap) |
 * | `<p>:src:{S}:gaps` | list | recent closed gaps for `Source.gaps`, newest first (capped) |
 * | `<p>:src:{S}:idle` | sorted set | keys nobody wants, by when (their records are bounded) |
 * | `<p>:nodes` | hash | node id -> role, last heartbeat, expiry |
 *
 * @module
 */

/** Key names of one source. */
export interface SourceKeys {
  log: string;
  meta: string;
  seen: string;
  lease: string;
  fence: string;
  interest: string;
  status: string;
  nudge: string;
  coverage: string;
  gaps: string;
  idle: string;
}

/** Key names under one prefix. */
export class ClusterKeys {
  readonly prefix: string;

  constructor(prefix: string) {
    this.prefix = prefix;
  }

  /** The keys of `source`. */
  source(source: string): SourceKeys {
    const base = `${this.prefix}:src:{${source}}`;
    return {
      log: `${base}:log`,
      meta: `${base}:meta`,
      seen: `${base}:seen`,
      lease: `${base}:lease`,
      fence: `${base}:fence`,
      interest: `${base}:interest`,
      status: `${base}:status`,
      nudge: `${base}:nudge`,
      coverage: `${base}:cov`,
      gaps: `${base}:gaps`,
      idle: `${base}:idle`,
    };
  }

  /** The node registry hash. */
  get nodes(): string {
    return `${this.prefix}:nodes`;
  }
}
