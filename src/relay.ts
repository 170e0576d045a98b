/**
 * The relay service: what the GraphQL layer calls. It resolves source names, asks each
 * source's vendor module to turn arguments into interest and a matcher, and opens hub
 * subscriptions; it also reports source status. It holds no transport or GraphQL code.
 *
 * @module
 */
import type { ClusterInfo, ClusterNode } from "./cluster/node.ts";
import type { Hub, SubscriptionPart } from "./hub/hub.ts";
import type { Gap } from "./hub/coverage.ts";
import type { InterestEntry } from "./hub/interest_table.ts";
import { type AccessScope, allowsEvent, allowsSource, OPEN_SCOPE } from "./model/access.ts";
import { RelayError } from "./model/errors.ts";
import { annotate, tracedSync } from "./platform/tracing.ts";
import type { Event, Vendor } from "./model/event.ts";
import type { Supervisor, SupervisorStatus } from "./upstreams/supervisor.ts";
import type { Cursor } from "./model/cursor.ts";
import { isCompositeCursor, parseComposite } from "./model/composite_cursor.ts";
import type { SourceConfigBase, VendorModule } from "./upstreams/vendor_module.ts";

/** A configured source as the relay runs it. */
export interface RunningSource {
  config: SourceConfigBase;
  module: VendorModule<SourceConfigBase>;
  /** One per upstream socket; usually exactly one. */
  supervisors: Supervisor[];
}

/** Everything `Source` shows. */
export interface SourceInfo extends SupervisorStatus {
  eventsReceived: number;
  lastEventAt: number | undefined;
  subscribers: number;
  /** Cluster mode: the node holding the upstream socket (undefined if none or no cluster). */
  holder: string | undefined;
  /** The hub's wanted interest keys, lingering ones marked. */
  interestItems: InterestEntry[];
  /** Recent periods without coverage, newest first. */
  gaps: Gap[];
}

/** Selects sources for the cross-vendor fields. */
export interface SourceSelection {
  sources?: readonly string[] | null | undefined;
  vendors?: readonly Vendor[] | null | undefined;
}

/** How long a subscription waits for a cluster node to load history from Redis. */
const LOAD_WAIT_MS = 5000;

/** Arguments that name a tenant, per vendor: checked against the scope up front. */
const TENANT_ARGS: Partial<Record<Vendor, string>> = { KAZOO: "accountId" };

/**
 * The relay service, as seen by one access scope: every method only reaches the sources
 * (and tenants) the scope allows. {@link Relay.withScope} makes the view for a client.
 */
export class Relay {
  readonly #hub: Hub;
  readonly #sources: Map<string, RunningSource>;
  readonly #scope: AccessScope;

  readonly #cluster: ClusterNode | undefined;

  constructor(
    hub: Hub,
    sources: readonly RunningSource[],
    scope: AccessScope = OPEN_SCOPE,
    cluster?: ClusterNode,
  ) {
    this.#hub = hub;
    this.#sources = new Map(sources.map((s) => [s.config.name, s]));
    this.#scope = scope;
    this.#cluster = cluster;
  }

  /** The same relay as seen by `scope`. */
  withScope(scope: AccessScope): Relay {
    return new Relay(this.#hub, [...this.#sources.values()], scope, this.#cluster);
  }

  /** `Query.cluster`: this node and its peers (holds limited to the scope's sources). */
  cluster(): ClusterInfo | undefined {
    const info = this.#cluster?.info();
    if (!info) return undefined;
    return {
      ...info,
      nodes: info.nodes.map((n) => ({
        ...n,
        holds: n.holds.filter((s) => allowsSource(this.#scope, s)),
      })),
    };
  }

  /** The scope this view serves. */
  get scope(): AccessScope {
    return this.#scope;
  }

  /** Status of every source the scope may see, in config order. */
  sources(): SourceInfo[] {
    return [...this.#sources.keys()]
      .filter((name) => allowsSource(this.#scope, name))
      .map((name) => this.source(name)!);
  }

  /** Status of one source, or undefined; `FORBIDDEN` outside the scope. */
  source(name: string): SourceInfo | undefined {
    const s = this.#sources.get(name);
    if (!s) return undefined;
    this.#allow(name);
    const stats = this.#hub.stats(name);
    const status = this.#status(name, s);
    const visible = this.#tenantVisible(s);
    return {
      ...status,
      interest: status.interest.filter((line) => visible(s.module.describedTenant?.(name, line))),
      holder: this.#cluster?.holder(name),
      eventsReceived: stats.eventsReceived,
      lastEventAt: stats.lastEventAt,
      subscribers: this.#hub.subscriberCount(name),
      interestItems: this.#hub.interestEntries(name)
        .filter((e) => visible(s.module.interestTenant?.(name, e.key))),
      gaps: this.#hub.gaps(name)
        .filter((g) => g.key === undefined || visible(s.module.interestTenant?.(name, g.key))),
    };
  }

  /**
   * Whether a tenant-limited scope may see interest of `tenant` on source `s` (a Kazoo
   * account's bindings): interest of an unknown tenant is hidden, as events without one are.
   */
  #tenantVisible(s: RunningSource): (tenant: string | undefined) => boolean {
    const allowed = this.#scope.tenants.get(s.config.name);
    if (!allowed) return () => true;
    return (tenant) => tenant !== undefined && allowed.has(tenant);
  }

  /** True when every source is READY (not scoped: readiness is the process's). */
  ready(): boolean {
    const localReady = (s: RunningSource) =>
      s.supervisors.every((sup) => sup.status().connection.state === "READY");
    if (this.#cluster) {
      return this.#cluster.ready((name) => localReady(this.#sources.get(name)!));
    }
    return [...this.#sources.values()].every(localReady);
  }

  /** A source's status: its own sockets', or in cluster mode the holder's view. */
  #status(name: string, s: RunningSource): SupervisorStatus {
    const local = combineStatus(name, s.supervisors.map((sup) => sup.status()));
    return this.#cluster ? this.#cluster.status(name, local) : local;
  }

  /**
   * In cluster mode, until the node has loaded the sources' history from Redis a cursor
   * cannot be judged: subscriptions wait for it (bounded), then open as usual.
   */
  #whenLoaded(
    open: () => AsyncIterableIterator<Event>,
    resumes: readonly string[] = [],
  ): AsyncIterableIterator<Event> | Promise<AsyncIterableIterator<Event>> {
    const cluster = this.#cluster;
    if (!cluster) return open();
    // A replay is judged by the cluster's coverage records as they are now, not as last read.
    if (cluster.loaded && resumes.length > 0) return cluster.coverageFresh(resumes).then(open);
    if (cluster.loaded) return open();
    let timer: ReturnType<typeof setTimeout> | undefined;
    return Promise.race([
      cluster.whenLoaded(),
      new Promise<never>((_, reject) => {
        timer = setTimeout(() =>
          reject(
            new RelayError(
              "SOURCE_UNAVAILABLE",
              "This node cannot reach the cluster's Redis yet; try again shortly",
            ),
          ), LOAD_WAIT_MS);
      }),
    ]).then(() => cluster.coverageFresh(resumes)).then(open).finally(() => clearTimeout(timer));
  }

  /**
   * The one source of `vendor` named `name`; without a name, the only source of that
   * vendor (`AMBIGUOUS_SOURCE` when there are several).
   */
  resolveSource(vendor: Vendor, name: string | null | undefined): RunningSource {
    if (name !== undefined && name !== null) {
      const s = this.#sources.get(name);
      if (!s || s.module.vendor !== vendor) {
        throw new RelayError("UNKNOWN_SOURCE", `No ${vendor} source named "${name}"`);
      }
      this.#allow(name);
      return s;
    }
    const all = [...this.#sources.values()].filter((s) => s.module.vendor === vendor);
    const candidates = all.filter((s) => allowsSource(this.#scope, s.config.name));
    if (candidates.length === 1) return candidates[0]!;
    if (candidates.length === 0) {
      if (all.length > 0) {
        throw new RelayError("FORBIDDEN", `This key may not use any ${vendor} source`);
      }
      throw new RelayError("UNKNOWN_SOURCE", `No ${vendor} source is configured`);
    }
    throw new RelayError(
      "AMBIGUOUS_SOURCE",
      `${candidates.length} ${vendor} sources are configured; pass source: one of ${
        candidates.map((c) => `"${c.config.name}"`).join(", ")
      }`,
    );
  }

  /** Opens a vendor-typed subscription (`drpEvents`, ...). */
  subscribeVendor(
    vendor: Vendor,
    args: Record<string, unknown> & { source?: unknown; after?: unknown },
  ): AsyncIterableIterator<Event> | Promise<AsyncIterableIterator<Event>> {
    return tracedSync("relay.subscribe", { "relay.vendor": vendor }, () => {
      const source = this.resolveSource(vendor, args.source as string | null | undefined);
      const part = this.#scoped(
        source.module.plan(source.config.name, this.#tenantArgs(vendor, source, args)),
      );
      annotate({
        "relay.source": source.config.name,
        "relay.resume": args.after !== undefined && args.after !== null,
      });
      const after = optionalString(args.after);
      return this.#whenLoaded(
        () => this.#hub.subscribe([part], { after }),
        after === undefined ? [] : [part.source],
      );
    }, describeRelayError);
  }

  /**
   * Sends a message upstream on a source of `vendor` (two-way protocols): the vendor module
   * turns `args` into its frame. Fails with `SOURCE_UNAVAILABLE` when no socket of the
   * source is READY, so a caller never mistakes a dropped message for a sent one.
   */
  send(vendor: Vendor, args: Record<string, unknown> & { source?: unknown }): true {
    const source = this.resolveSource(vendor, args.source as string | null | undefined);
    const format = source.module.formatSend;
    if (!format) throw new RelayError("BAD_USER_INPUT", `${vendor} sources are receive-only`);
    const frame = format(args);
    if (source.supervisors.some((sup) => sup.send(frame))) return true;
    const state = this.source(source.config.name)?.connection.state ?? "unknown";
    throw new RelayError(
      "SOURCE_UNAVAILABLE",
      `${vendor} source "${source.config.name}" is not connected (state ${state}); nothing was sent`,
    );
  }

  /** Opens the cross-vendor `events` subscription. */
  subscribeEvents(
    selection: SourceSelection & { types?: readonly string[] | null; after?: unknown },
  ): AsyncIterableIterator<Event> | Promise<AsyncIterableIterator<Event>> {
    return tracedSync("relay.subscribe", { "relay.field": "events" }, () => {
      const types = selection.types ?? undefined;
      const parts: SubscriptionPart[] = this.select(selection).map((s) =>
        this.#scoped(s.module.planTypes(s.config.name, types, this.#tenants(s.config.name)))
      );
      if (parts.length === 0) throw new RelayError("UNKNOWN_SOURCE", "No source matches");
      const after = optionalString(selection.after);
      annotate({
        "relay.sources": parts.map((p) => p.source),
        "relay.resume": after !== undefined,
      });
      let resume: Cursor[] | undefined;
      if (after !== undefined && isCompositeCursor(after)) {
        resume = parseComposite(after);
        if (!resume) throw new RelayError("CURSOR_EXPIRED", "after: is not a valid events cursor");
      }
      return this.#whenLoaded(
        () =>
          this.#hub.subscribe(
            parts,
            resume ? { resume, composite: true } : { after, composite: true },
          ),
        after === undefined ? [] : parts.map((p) => p.source),
      );
    }, describeRelayError);
  }

  /** Buffered events, newest first, across the selected sources. */
  recentEvents(
    selection: SourceSelection & { types?: readonly string[] | null; limit: number },
  ): Event[] {
    const types = selection.types ? new Set(selection.types) : undefined;
    const limit = Math.max(0, Math.min(selection.limit, 10_000));
    const picked: Event[] = [];
    for (const s of this.select(selection)) {
      let n = 0;
      for (const event of this.#hub.recent(s.config.name)) {
        if (n >= limit) break;
        if (types && !types.has(event.type)) continue;
        if (!allowsEvent(this.#scope, event)) continue;
        picked.push(event);
        n++;
      }
    }
    return picked
      .sort((a, b) => b.receivedAt.localeCompare(a.receivedAt) || b.time.localeCompare(a.time))
      .slice(0, limit);
  }

  /**
   * Sources named by `selection` (all the scope allows when it names none); unknown names
   * fail with `UNKNOWN_SOURCE`, names outside the scope with `FORBIDDEN`.
   */
  select(selection: SourceSelection): RunningSource[] {
    const all = [...this.#sources.values()].filter((s) => allowsSource(this.#scope, s.config.name));
    for (const name of selection.sources ?? []) {
      if (!this.#sources.has(name)) {
        throw new RelayError("UNKNOWN_SOURCE", `No source named "${name}"`);
      }
      this.#allow(name);
    }
    return all.filter((s) =>
      (!selection.sources || selection.sources.includes(s.config.name)) &&
      (!selection.vendors || selection.vendors.includes(s.module.vendor))
    );
  }

  #allow(source: string): void {
    if (!allowsSource(this.#scope, source)) {
      throw new RelayError("FORBIDDEN", `This key may not use source "${source}"`);
    }
  }

  /** The tenants the scope restricts `source` to, or undefined when unrestricted. */
  #tenants(source: string): string[] | undefined {
    const allowed = this.#scope.tenants.get(source);
    return allowed ? [...allowed] : undefined;
  }

  /**
   * Checks a vendor argument that names a tenant against the scope; when it is left out
   * and the scope allows exactly one tenant, that tenant is filled in (the upstream default
   * could be one the client may not see).
   */
  #tenantArgs(
    vendor: Vendor,
    source: RunningSource,
    args: Record<string, unknown>,
  ): Record<string, unknown> {
    const tenantArg = TENANT_ARGS[vendor];
    const allowed = this.#tenants(source.config.name);
    if (!tenantArg || !allowed) return args;
    const tenant = args[tenantArg];
    if (typeof tenant === "string") {
      if (!allowed.includes(tenant)) {
        throw new RelayError("FORBIDDEN", `This key may not see ${tenantArg} "${tenant}"`);
      }
      return args;
    }
    if (allowed.length === 1) return { ...args, [tenantArg]: allowed[0] };
    throw new RelayError(
      "FORBIDDEN",
      `This key may only see some ${tenantArg}s of "${source.config.name}": name one of ${
        allowed.map((t) => `"${t}"`).join(", ")
      }`,
    );
  }

  /** Adds the scope's tenant restriction to a part's matcher. */
  #scoped(part: SubscriptionPart): SubscriptionPart {
    if (!this.#scope.tenants.has(part.source)) return part;
    const scope = this.#scope;
    return { ...part, match: (e) => part.match(e) && allowsEvent(scope, e) };
  }
}

/** A refused subscription's span names the relay's error code, which holds no secret. */
function describeRelayError(err: unknown): string {
  return err instanceof RelayError ? err.code : "error";
}

function optionalString(v: unknown): string | undefined {
  return typeof v === "string" ? v : undefined;
}

const STATE_RANK = { STOPPED: 0, BACKOFF: 1, CONNECTING: 2, AUTHENTICATING: 3, READY: 4 } as const;

/** One status for a source with several sockets: the least healthy state, summed counters. */
function combineStatus(name: string, all: SupervisorStatus[]): SupervisorStatus {
  if (all.length === 1) return { ...all[0]!, name };
  const worst = all.reduce((a, b) =>
    STATE_RANK[b.connection.state] < STATE_RANK[a.connection.state] ? b : a
  );
  const latestError = all.reduce((a, b) => ((b.lastErrorAt ?? 0) > (a.lastErrorAt ?? 0) ? b : a));
  const since = all.map((s) => s.connectedSince);
  return {
    name,
    vendor: worst.vendor,
    connection: worst.connection,
    connectedSince: since.every((t) => t !== undefined)
      ? Math.max(...(since as number[]))
      : undefined,
    lastError: latestError.lastError,
    lastErrorAt: latestError.lastErrorAt,
    reconnects: all.reduce((n, s) => n + s.reconnects, 0),
    framesDropped: all.reduce((n, s) => n + s.framesDropped, 0),
    dropsByReason: sumCounts(all.map((s) => s.dropsByReason)),
    interest: [...new Set(all.flatMap((s) => s.interest))],
  };
}

function sumCounts(maps: ReadonlyMap<string, number>[]): Map<string, number> {
  const out = new Map<string, number>();
  for (const m of maps) for (const [k, n] of m) out.set(k, (out.get(k) ?? 0) + n);
  return out;
}
