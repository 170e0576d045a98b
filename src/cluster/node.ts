/**
 * A relay node in cluster mode: wires the lease keepers, appenders, tailer, interest and
 * node registries of every source on one Redis, and answers what `Source` and
 * `Query.cluster` show. The hub and the supervisors stay as they are: the hub's interest
 * goes to the registry (not to the supervisors), the supervisors run only while this node
 * holds the source's lease and publish into the appender, and the tailer feeds the hub.
 *
 * @module
 */
import { Coverage, type CoverageChange, type CoverageView, type Mark } from "../hub/coverage.ts";
import type { InterestItem, InterestSink } from "../hub/interest.ts";
import type { UpstreamEvent } from "../model/event.ts";
import type { Clock, TimerId } from "../platform/clock.ts";
import type { Logger } from "../platform/log.ts";
import type { Redactor } from "../platform/redact.ts";
import type { Supervisor, SupervisorStatus } from "../upstreams/supervisor.ts";
import { Appender } from "./appender.ts";
import { CoverageMirror } from "./coverage_mirror.ts";
import { RedisCoverageStore } from "./coverage_store.ts";
import type { ClusterConfig, ClusterRole } from "./config.ts";
import { InterestRegistry } from "./interest_registry.ts";
import { ClusterKeys, type SourceKeys } from "./keys.ts";
import { holderOf, Lease } from "./lease.ts";
import { LeaseKeeper } from "./lease_keeper.ts";
import { type NodeRecord, NodeRegistry } from "./node_registry.ts";
import { closeRedis, connectInBackground, createRedis, type RedisClient } from "./redis.ts";
import { StreamLog } from "./stream_log.ts";
import { type LogFeed, Tailer } from "./tailer.ts";

/** A source as the cluster node runs it. */
export interface ClusterSource {
  name: string;
  history: number;
  supervisors: readonly Supervisor[];
  /** Whether interest `wide` receives everything `narrow` does (the vendor's rule). */
  interestCovers?: (wide: string, narrow: string) => boolean;
}

/** Dependencies of a {@link ClusterNode}. */
export interface ClusterNodeDeps {
  config: ClusterConfig;
  /** This node's id (config `nodeId`, else random per process). */
  nodeId: string;
  sources: readonly ClusterSource[];
  feed: LogFeed;
  clock: Clock;
  random: () => number;
  log: Logger;
  redact: Redactor;
}

/** A node of `Query.cluster`. */
export interface ClusterNodeInfo extends NodeRecord {
  /** Sources whose upstream lease this node holds. */
  holds: string[];
}

/** What `Query.cluster` shows. */
export interface ClusterInfo {
  nodeId: string;
  role: ClusterRole;
  nodes: ClusterNodeInfo[];
}

interface SourceRuntime {
  source: ClusterSource;
  keys: SourceKeys;
  interest: InterestRegistry;
  local: InterestItem[];
  keeper: LeaseKeeper | undefined;
  appender: Appender | undefined;
  /** Running supervisors while this node holds the lease. */
  abort: AbortController | undefined;
  runs: Promise<void>[];
  /** The holder's status as it last published it (for non-holders). */
  remote: RemoteStatus | undefined;
  holder: string | undefined;
  /** The union last given to the supervisors. */
  applied: Map<string, InterestItem>;
  /** The cluster's coverage records of the source, as this node reads them. */
  mirror: CoverageMirror;
  /** While holding: this node's coverage, recorded through the appender. */
  recorder: Coverage | undefined;
  /** Version of each union handed to the supervisors, so their reports can name theirs. */
  versions: WeakMap<ReadonlyMap<string, InterestItem>, number>;
  version: number;
  /** Keys of the union last given to the recorder. */
  recorded: Set<string>;
  /** Since when the heartbeat has found no holder (no lease), if it has not found one. */
  holderlessSince: number | undefined;
}

/** The holder's published view of its upstream socket. */
interface RemoteStatus {
  state: SupervisorStatus["connection"]["state"];
  since: number;
  connectedSince: number | null;
  lastError: string | null;
  lastErrorAt: number | null;
  reconnects: number;
  framesDropped: number;
  interest: string[];
}

/** One relay node of a cluster. */
export class ClusterNode {
  readonly nodeId: string;
  readonly role: ClusterRole;
  readonly #d: ClusterNodeDeps;
  readonly #cmd: RedisClient;
  readonly #blocking: RedisClient;
  readonly #sub: RedisClient;
  readonly #runtimes = new Map<string, SourceRuntime>();
  readonly #nodes: NodeRegistry;
  readonly #tailer: Tailer;
  readonly #keys: ClusterKeys;
  #timer: TimerId | undefined;
  #closed = false;
  #started = false;
  /** Why Redis is unreachable, per component; empty while it works. */
  readonly #down = new Map<string, string>();
  #downSince = 0;
  /** When Redis last became reachable again (or the node started). */
  #upSince = 0;
  #members: NodeRecord[] = [];

  constructor(deps: ClusterNodeDeps) {
    this.#d = deps;
    this.nodeId = deps.nodeId;
    this.role = deps.config.role;
    const { config, log, redact } = deps;
    const make = (name: string) => createRedis({ url: config.redis, log, redact, name });
    this.#cmd = make("commands");
    this.#blocking = make("tail");
    this.#sub = make("pubsub");
    this.#keys = new ClusterKeys(config.keyPrefix);
    this.#nodes = new NodeRegistry(this.#cmd, this.#keys.nodes);
    const ingest = config.role !== "edge";
    for (const source of deps.sources) {
      const keys = this.#keys.source(source.name);
      const store = new RedisCoverageStore(this.#cmd, keys);
      const rt: SourceRuntime = {
        source,
        keys,
        interest: new InterestRegistry(this.#cmd, keys),
        local: [],
        keeper: undefined,
        appender: undefined,
        abort: undefined,
        runs: [],
        remote: undefined,
        holder: undefined,
        applied: new Map(),
        mirror: new CoverageMirror({
          store,
          ...(source.interestCovers ? { covers: source.interestCovers } : {}),
          streamEpoch: () => this.#tailer.epochOf(source.name),
          holderlessSince: () => this.#holderless(rt),
          now: () => deps.clock.now(),
        }),
        recorder: undefined,
        versions: new WeakMap(),
        version: 0,
        recorded: new Set(),
        holderlessSince: undefined,
      };
      if (ingest) {
        const slog = log.child({ source: source.name });
        rt.keeper = new LeaseKeeper({
          lease: new Lease(this.#cmd, keys, deps.nodeId, config.leaseMs),
          leaseMs: config.leaseMs,
          clock: deps.clock,
          log: slog,
          onAcquire: () => this.#hold(rt),
          onLose: (reason) => this.#unhold(rt, reason),
        });
        rt.appender = new Appender({
          log: new StreamLog(this.#cmd, keys),
          history: source.history,
          dedupeWindow: config.dedupeWindow,
          bufferEvents: config.outageBufferEvents,
          clock: deps.clock,
          random: deps.random,
          lease: () => rt.keeper?.value(),
          onFenced: () => rt.keeper?.lost("an append was fenced: another node holds the lease"),
          onNoLease: () => rt.keeper?.poke(),
          onHealth: (error) => this.#health(`append:${source.name}`, error),
          coverage: {
            store,
            snapshot: () =>
              rt.recorder?.snapshot() ??
                { source: { reason: "NO_HOLDER", at: deps.clock.now() }, keys: [] },
          },
        });
      }
      this.#runtimes.set(source.name, rt);
    }
    this.#tailer = new Tailer({
      blocking: this.#blocking,
      sources: deps.sources.map((s) => ({
        name: s.name,
        history: s.history,
        log: new StreamLog(this.#cmd, this.#keys.source(s.name)),
        coverage: this.#rt(s.name).mirror,
      })),
      feed: deps.feed,
      clock: deps.clock,
      random: deps.random,
      log: log.child({ component: "tail" }),
      onHealth: (error) => this.#health("tail", error),
    });
  }

  /** The hub's interest sink of `source`: this node's share of the cluster-wide interest. */
  interestSink(source: string): InterestSink {
    const rt = this.#rt(source);
    return {
      setInterest: (items) => {
        rt.local = [...items.values()];
        this.#putInterest(rt).catch(() => {});
      },
    };
  }

  /** Where the supervisors of `source` publish: the stream log (through the appender). */
  publisher(source: string): (event: UpstreamEvent) => void {
    const rt = this.#rt(source);
    return (event) => rt.appender?.append(event);
  }

  /**
   * A supervisor of `source` reports what it receives (see {@link Supervisor}); while this
   * node holds the source, that is the cluster's coverage and goes to Redis.
   */
  receiving(
    source: string,
    socket: number,
    items: ReadonlyMap<string, InterestItem> | undefined,
    eventsAfter: number,
  ): void {
    const rt = this.#rt(source);
    if (!rt.recorder || !rt.appender) return;
    const version = items === undefined ? undefined : rt.versions.get(items);
    // A set this node never handed out says nothing reliable about what is registered.
    if (items !== undefined && version === undefined) return;
    const seq = Math.max(0, rt.appender.sequence - Math.max(0, Math.floor(eventsAfter)));
    rt.recorder.socketReceiving(socket, version, { at: this.#d.clock.now(), offset: seq });
  }

  /** The cluster's coverage of `source` as this node knows it: what replays consult. */
  coverage(source: string): CoverageView {
    return this.#rt(source).mirror;
  }

  /**
   * Brings the coverage records of `sources` up to date (before a replay is judged), so a
   * gap recorded before the subscription arrived is known; keeps what is held when Redis is
   * unreachable (the history here is then no newer either).
   */
  async coverageFresh(sources: readonly string[]): Promise<void> {
    await Promise.all(sources.map((s) => this.#rt(s).mirror.refresh().catch(() => {})));
  }

  /** Called on every supervisor state change of `source` (the holder publishes its view). */
  statusChanged(source: string): void {
    const rt = this.#runtimes.get(source);
    if (rt?.keeper?.holding) this.#publishStatus(rt).catch(() => {});
  }

  /** Resolves once every source's history has been loaded from Redis. */
  whenLoaded(): Promise<void> {
    return this.#tailer.ready;
  }

  /** True once loaded. */
  get loaded(): boolean {
    return this.#tailer.isReady;
  }

  /** Why Redis is unreachable, or undefined while it works. */
  get redisError(): string | undefined {
    return this.#down.values().next().value;
  }

  /** The node id holding `source`'s upstream socket, as last seen; undefined if none. */
  holder(source: string): string | undefined {
    const rt = this.#rt(source);
    return rt.keeper?.holding ? this.nodeId : rt.holder;
  }

  /** `Source` status of `source` on this node, from `local` (this node's supervisors). */
  status(source: string, local: SupervisorStatus): SupervisorStatus {
    const rt = this.#rt(source);
    const now = this.#d.clock.now();
    const error = this.redisError;
    if (error !== undefined) {
      const buffered = rt.appender?.buffered ?? 0;
      return {
        ...local,
        connection: { state: "BACKOFF", since: this.#downSince, until: now },
        connectedSince: undefined,
        lastError: `cluster Redis unreachable (${error})` +
          (rt.keeper?.holding ? `; ${buffered} events buffered` : ""),
        lastErrorAt: this.#downSince,
      };
    }
    if (rt.keeper?.holding) return local;
    const r = rt.remote;
    if (!r || !rt.holder) {
      return {
        ...local,
        connection: { state: "CONNECTING", since: now },
        connectedSince: undefined,
        lastError: local.lastError ??
          (this.role === "edge" ? "no ingest node holds this source" : undefined),
        interest: [],
      };
    }
    const connection = r.state === "BACKOFF"
      ? { state: r.state, since: r.since, until: r.since }
      : { state: r.state, since: r.since };
    return {
      ...local,
      connection,
      connectedSince: r.connectedSince ?? undefined,
      lastError: r.lastError ?? undefined,
      lastErrorAt: r.lastErrorAt ?? undefined,
      reconnects: r.reconnects,
      framesDropped: r.framesDropped,
      interest: r.interest,
    } as SupervisorStatus;
  }

  /** True when Redis works, history is loaded and every source's holder is READY. */
  ready(localReady: (source: string) => boolean): boolean {
    if (this.redisError !== undefined || !this.loaded) return false;
    for (const rt of this.#runtimes.values()) {
      if (rt.keeper?.holding) {
        if (!localReady(rt.source.name)) return false;
      } else if (rt.remote?.state !== "READY" || !rt.holder) return false;
    }
    return true;
  }

  /** What `Query.cluster` shows (from the last heartbeat). */
  info(): ClusterInfo {
    const holds = new Map<string, string[]>();
    for (const rt of this.#runtimes.values()) {
      const h = this.holder(rt.source.name);
      if (h) holds.set(h, [...holds.get(h) ?? [], rt.source.name]);
    }
    const members = this.#members.some((m) => m.id === this.nodeId)
      ? this.#members
      : [...this.#members, { id: this.nodeId, role: this.role, lastSeenAt: this.#d.clock.now() }];
    return {
      nodeId: this.nodeId,
      role: this.role,
      nodes: members.map((m) => ({ ...m, holds: holds.get(m.id) ?? [] }))
        .sort((a, b) => (a.id < b.id ? -1 : 1)),
    };
  }

  /** Test hook: freezes this node's lease renewals, as if the process were paused. */
  freezeLeases(): void {
    for (const rt of this.#runtimes.values()) rt.keeper?.freeze();
  }

  /** Connects to Redis and starts tailing, heartbeats and (on ingest nodes) leases. */
  async start(): Promise<void> {
    if (this.#started) return;
    this.#started = true;
    this.#upSince = this.#d.clock.now();
    await Promise.all([
      connectInBackground(this.#cmd),
      connectInBackground(this.#blocking),
      connectInBackground(this.#sub),
    ]);
    this.#subscribe().catch(() => {});
    this.#sub.on("ready", () => this.#subscribe().catch(() => {}));
    this.#tailer.start();
    for (const rt of this.#runtimes.values()) rt.keeper?.start();
    this.#tick();
  }

  /** Releases leases, removes this node's interest and registration, closes connections. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    if (this.#timer !== undefined) this.#d.clock.clearTimeout(this.#timer);
    const released: string[] = [];
    await Promise.all([...this.#runtimes.values()].map(async (rt) => {
      const held = rt.keeper?.holding ?? false;
      if (held && rt.appender) {
        // Nobody receives from here until the next holder has registered: a gap from now.
        rt.recorder = undefined;
        const at = this.#d.clock.now();
        rt.appender.coverage({ t: "open", r: "NO_HOLDER", at, q: 1, w: 1 });
        await rt.appender.settled(this.#d.config.leaseMs / 3);
      }
      await rt.keeper?.close();
      rt.appender?.close();
      await Promise.all(rt.runs);
      if (held) released.push(rt.source.name);
    }));
    if (this.#cmd.isReady) {
      await Promise.allSettled([
        ...[...this.#runtimes.values()].map((rt) => rt.interest.remove(this.nodeId)),
        ...released.map((s) => this.#cmd.publish(this.#rt(s).keys.nudge, "released")),
        this.#nodes.remove(this.nodeId),
      ]);
    }
    await closeRedis(this.#blocking);
    await this.#tailer.close();
    await closeRedis(this.#sub);
    await closeRedis(this.#cmd);
  }

  /**
   * Test hook standing in for SIGKILL: drops every connection and upstream socket without
   * releasing anything, so leases and interest lapse on their own.
   */
  async crash(): Promise<void> {
    this.#closed = true;
    if (this.#timer !== undefined) this.#d.clock.clearTimeout(this.#timer);
    for (const rt of this.#runtimes.values()) {
      rt.keeper?.freeze();
      rt.appender?.close();
      rt.abort?.abort();
    }
    for (const c of [this.#blocking, this.#sub, this.#cmd]) {
      try {
        c.destroy();
      } catch {
        // already closed
      }
    }
    await this.#tailer.close();
    await Promise.all([...this.#runtimes.values()].flatMap((rt) => rt.runs));
  }

  #rt(source: string): SourceRuntime {
    const rt = this.#runtimes.get(source);
    if (!rt) throw new Error(`No source named "${source}"`);
    return rt;
  }

  async #subscribe(): Promise<void> {
    if (this.#closed || !this.#sub.isReady) return;
    const channels = [...this.#runtimes.values()].map((rt) => rt.keys.nudge);
    await this.#sub.subscribe(channels, (message: string, channel: string) => {
      const rt = [...this.#runtimes.values()].find((r) => r.keys.nudge === channel);
      if (!rt) return;
      if (message === "released") rt.keeper?.poke();
      else if (message === "coverage") rt.mirror.load().catch(() => {});
      else if (rt.keeper?.holding) this.#refreshUnion(rt).catch(() => {});
    });
  }

  #hold(rt: SourceRuntime): void {
    if (this.#closed) return;
    rt.holder = this.nodeId;
    rt.holderlessSince = undefined;
    this.#record(rt);
    rt.appender?.resume();
    const abort = new AbortController();
    rt.abort = abort;
    // The whole cluster-wide interest first, so the first sync after connecting has it all.
    this.#refreshUnion(rt).catch(() => {}).finally(() => {
      if (abort.signal.aborted) return;
      rt.runs = rt.source.supervisors.map((s) => s.run(abort.signal));
    });
  }

  #unhold(rt: SourceRuntime, reason: string): void {
    this.#d.log.warn("giving up the source's upstream", { source: rt.source.name, reason });
    rt.abort?.abort();
    rt.abort = undefined;
    rt.holder = undefined;
    rt.recorder = undefined;
  }

  /**
   * Starts recording coverage as the new holder: from the takeover, every key is uncovered
   * until this node's sockets have registered it, and the source since the old holder could
   * have stopped (a graceful one recorded that itself) until they are READY.
   */
  #record(rt: SourceRuntime): void {
    const appender = rt.appender;
    if (!appender) return;
    const now = this.#d.clock.now();
    // The old holder renewed its lease at most a lease before it lapsed, and this node tries to
    // take a free lease every third of one: it was alive no later than 4/3 of a lease ago.
    const from = now - Math.ceil(this.#d.config.leaseMs * 4 / 3);
    appender.coverage({ t: "takeover", at: now, from });
    rt.versions = new WeakMap();
    rt.version = 0;
    rt.recorded = new Set();
    rt.recorder = new Coverage({
      start: { at: now, offset: appender.sequence },
      sockets: rt.source.supervisors.length,
      startReason: "NO_HOLDER",
      ...(rt.source.interestCovers ? { covers: rt.source.interestCovers } : {}),
      onChange: (change: CoverageChange) => {
        const k = change.key === undefined ? {} : { k: change.key };
        appender.coverage(
          change.kind === "open"
            ? {
              t: "open",
              ...k,
              r: change.reason,
              at: change.at.at,
              q: change.listed ? 1 : 0,
              w: change.wanted ? 1 : 0,
            }
            : { t: "close", ...k, at: change.at.at, seq: change.at.offset },
        );
      },
    });
  }

  /** A NO_HOLDER mark while this node's heartbeat finds no lease (and it holds none). */
  #holderless(rt: SourceRuntime): Mark | undefined {
    if (rt.keeper?.holding || rt.holderlessSince === undefined) return undefined;
    return { at: rt.holderlessSince, offset: 0 };
  }

  async #refreshUnion(rt: SourceRuntime): Promise<void> {
    const { union } = await rt.interest.union();
    if (!rt.keeper?.holding) return;
    // Right after Redis comes back (possibly empty), nodes have not all re-put their interest
    // yet: removals wait one heartbeat so nothing is deregistered and registered again.
    if (this.#d.clock.now() - this.#upSince < this.#d.config.leaseMs / 3 + 250) {
      for (const [k, item] of rt.applied) if (!union.has(k)) union.set(k, item);
    }
    rt.applied = union;
    const recorder = rt.recorder;
    if (recorder && rt.appender) {
      const added = [...union.keys()].filter((k) => !rt.recorded.has(k));
      const removed = [...rt.recorded].filter((k) => !union.has(k));
      const version = ++rt.version;
      rt.versions.set(union, version);
      const mark = { at: this.#d.clock.now(), offset: rt.appender.sequence };
      recorder.interestChanged(version, added, removed, mark);
      rt.recorded = new Set(union.keys());
    }
    for (const s of rt.source.supervisors) s.setInterest(union);
  }

  async #putInterest(rt: SourceRuntime): Promise<void> {
    try {
      await rt.interest.put(this.nodeId, rt.local, this.#d.config.leaseMs);
      this.#health("interest", undefined);
    } catch (err) {
      this.#health("interest", err instanceof Error ? err.message : String(err));
    }
  }

  async #publishStatus(rt: SourceRuntime): Promise<void> {
    const s = rt.source.supervisors.map((sup) => sup.status());
    const worst = s.find((x) => x.connection.state !== "READY") ?? s[0];
    if (!worst) return;
    const status: RemoteStatus = {
      state: worst.connection.state,
      since: worst.connection.since,
      connectedSince: worst.connectedSince ?? null,
      lastError: worst.lastError ?? null,
      lastErrorAt: worst.lastErrorAt ?? null,
      reconnects: s.reduce((n, x) => n + x.reconnects, 0),
      framesDropped: s.reduce((n, x) => n + x.framesDropped, 0),
      interest: [...new Set(s.flatMap((x) => x.interest))],
    };
    await this.#cmd.set(rt.keys.status, JSON.stringify(status), { PX: this.#d.config.leaseMs });
  }

  /** Heartbeat: node registration, interest, holder status, and what other nodes hold. */
  async #tick(): Promise<void> {
    if (this.#closed) return;
    const { config } = this.#d;
    try {
      await this.#nodes.beat(this.nodeId, this.role, config.leaseMs);
      for (const rt of this.#runtimes.values()) {
        await this.#putInterest(rt);
        if (rt.keeper?.holding) {
          await this.#publishStatus(rt);
          await this.#refreshUnion(rt);
        } else {
          const [lease, status] = await Promise.all([
            this.#cmd.get(rt.keys.lease),
            this.#cmd.get(rt.keys.status),
          ]);
          rt.holder = holderOf(lease);
          rt.holderlessSince = rt.holder ? undefined : rt.holderlessSince ?? this.#d.clock.now();
          rt.remote = status ? JSON.parse(status) as RemoteStatus : undefined;
        }
      }
      this.#members = await this.#nodes.list();
      this.#health("heartbeat", undefined);
    } catch (err) {
      this.#health("heartbeat", err instanceof Error ? err.message : String(err));
    } finally {
      if (!this.#closed) {
        this.#timer = this.#d.clock.setTimeout(() => this.#tick(), config.leaseMs / 3);
      }
    }
  }

  #health(component: string, error: string | undefined): void {
    if (error === undefined) {
      if (this.#down.delete(component) && this.#down.size === 0) {
        this.#upSince = this.#d.clock.now();
      }
      return;
    }
    if (this.#down.size === 0) this.#downSince = this.#d.clock.now();
    this.#down.set(component, this.#d.redact(error));
  }
}
