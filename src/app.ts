/**
 * `createApp(deps)` wires the relay: hub, one supervisor per configured source, the relay
 * service, the GraphQL schema, graphql-yoga for HTTP and graphql-ws for WebSockets. It is
 * what `main.ts` serves and what tests start and stop.
 *
 * @module
 */
import type { DocumentNode, ExecutionArgs, GraphQLError, GraphQLSchema } from "graphql";
import { createYoga } from "graphql-yoga";
import { createGraphiqlPage, graphiqlOptions, wantsGraphiql } from "./graphql/graphiql.ts";
import { operationChecks } from "./graphql/limits.ts";
import { type AccessScope, OPEN_SCOPE } from "./model/access.ts";
import { Admission } from "./server/admission.ts";
import { createAuthenticator } from "./server/auth.ts";
import type { Config } from "./config.ts";
import { buildRelaySchema } from "./graphql/schema.ts";
import { createWsHandler, type WsHandler } from "./graphql/ws_handler.ts";
import { acceptsEventStream, createSseHandler, type SseHandler } from "./graphql/sse_handler.ts";
import { ClusterNode } from "./cluster/node.ts";
import { Hub } from "./hub/hub.ts";
import type { Clock } from "./platform/clock.ts";
import { nextTurn } from "./platform/next_turn.ts";
import { systemClock } from "./platform/clock.ts";
import { createLogger, type Logger } from "./platform/log.ts";
import { createRedactor, type Redactor } from "./platform/redact.ts";
import { denoWebSocketFactory, type WebSocketFactory } from "./platform/websocket.ts";
import { Relay, type RunningSource } from "./relay.ts";
import { createHandler, NO_SCOPE, type RequestInfo } from "./server/handler.ts";
import { createRelayMetrics, RELAY_VERSION, type RelayMetrics } from "./server/metrics.ts";
import { statusData, statusPage } from "./server/status_page.ts";
import { vendorModule } from "./upstreams/mod.ts";
import { Supervisor } from "./upstreams/supervisor.ts";

/** An envelop hook payload carrying an execute/subscribe function and its setter. */
type HookFn<F extends string, S extends string> =
  & { [K in F]: (args: ExecutionArgs) => unknown }
  & { [K in S]: (fn: (args: ExecutionArgs) => unknown) => void };

/** What the app needs; everything but `config` has a production default. */
export interface AppDeps {
  config: Config;
  /** Secret values to mask everywhere (from config parsing). */
  secrets?: readonly string[];
  clock?: Clock;
  random?: () => number;
  socketFactory?: WebSocketFactory;
  log?: Logger;
  fetch?: typeof fetch;
  readTextFile?: (path: string) => string;
}

/** A wired relay. */
export interface App extends AsyncDisposable {
  /** The HTTP handler for `Deno.serve` (the peer address decides loopback-only metrics). */
  fetch(req: Request, info?: RequestInfo): Response | Promise<Response>;
  readonly relay: Relay;
  readonly hub: Hub;
  readonly ws: WsHandler;
  readonly sse: SseHandler;
  /** Subscription rate limits, caps and pre-auth bounds, shared by every transport. */
  readonly admission: Admission;
  readonly log: Logger;
  readonly redact: Redactor;
  /** The cluster node, in cluster mode. */
  readonly cluster: ClusterNode | undefined;
  readonly metrics: RelayMetrics;
  /** Starts every supervisor (connects upstreams). */
  start(): void;
  /** Stops upstreams and closes client sockets. */
  close(): Promise<void>;
}

/** Wires the relay from its config. */
export function createApp(deps: AppDeps): App {
  const { config } = deps;
  const clock = deps.clock ?? systemClock;
  const random = deps.random ?? Math.random;
  const redact = createRedactor(deps.secrets ?? []);
  const log = deps.log ?? createLogger({ level: config.logLevel, redact });
  const readTextFile = deps.readTextFile ?? Deno.readTextFileSync;
  // Interest changes made in one event-loop turn (a reconnect storm's subscribes) reach the
  // upstream connectors as one: 10,000 distinct subscriptions cost the hub 8.8 s of CPU
  // when each handed its connector a fresh copy of the whole set.
  const hub = new Hub({ clock, random, batchInterest: (flush) => void nextTurn().then(flush) });
  const running: RunningSource[] = [];
  // Cluster mode: supervisors publish into the source's stream and the hub is fed from it.
  let cluster: ClusterNode | undefined;

  // Every event is stamped; events arriving in the same millisecond share one string.
  let stampedAt = NaN;
  let stamp = "";
  const nowIso = () => {
    const now = clock.now();
    if (now !== stampedAt) {
      stampedAt = now;
      stamp = new Date(now).toISOString();
    }
    return stamp;
  };
  for (const source of config.sources) {
    const mod = vendorModule(source.kind);
    const slog = log.child({ source: source.name, vendor: mod.vendor });
    const caCerts = [
      ...(source.caCert ? [source.caCert] : []),
      ...(source.caFile ? [readTextFile(source.caFile)] : []),
    ];
    const connectors = mod.createConnectors(source, {
      ctx: {
        log: slog,
        rejectInterest: (key, message) => hub.rejectInterest(source.name, key, message),
        nowIso,
      },
      clock,
      caCerts,
      fetch: deps.fetch ?? fetch,
    });
    hub.addSource(source.name, mod.vendor, source.history, {
      resumeWindowMs: source.resumeWindowMs,
      sockets: connectors.length,
      ...(mod.interestCovers ? { interestCovers: mod.interestCovers } : {}),
      // In cluster mode the holder records coverage in Redis and every node reads it back.
      coverage: config.cluster
        ? {
          breakAfter: (keys, offset) => cluster!.coverage(source.name).breakAfter(keys, offset),
          gaps: () => cluster?.coverage(source.name).gaps() ?? [],
        }
        : true,
    });
    const supervisors = connectors.map((connector, i) =>
      new Supervisor({
        name: connectors.length === 1 ? source.name : `${source.name}#${i + 1}`,
        connector,
        timing: {
          backoff: { baseMs: source.reconnect.baseMs, maxMs: source.reconnect.maxMs },
          stableMs: source.reconnect.stableMs,
          connectTimeoutMs: source.connectTimeoutMs,
          authTimeoutMs: source.authTimeoutMs,
          silenceMs: source.silenceMs,
        },
        clock,
        random,
        socketFactory: deps.socketFactory ?? denoWebSocketFactory,
        publish: (event) => cluster ? cluster.publisher(source.name)(event) : hub.publish(event),
        onReceiving: (items, eventsAfter) =>
          cluster
            ? cluster.receiving(source.name, i, items, eventsAfter)
            : hub.reportReceiving(source.name, i, items, eventsAfter),
        log: connectors.length === 1 ? slog : slog.child({ socket: i + 1 }),
        redact,
        onChange: () => cluster?.statusChanged(source.name),
      })
    );
    running.push({ config: source, module: mod, supervisors });
  }
  if (config.cluster) {
    cluster = new ClusterNode({
      config: config.cluster,
      nodeId: config.cluster.nodeId ?? `node-${Math.floor(random() * 36 ** 8).toString(36)}`,
      sources: running.map((s) => ({
        name: s.config.name,
        history: s.config.history,
        supervisors: s.supervisors,
        ...(s.module.interestCovers ? { interestCovers: s.module.interestCovers } : {}),
      })),
      feed: {
        reset: (...args) => hub.resetSource(...args),
        ingest: (source, stored) => hub.ingest(source, stored),
        setGap: (source, gap) => hub.setGap(source, gap),
      },
      clock,
      random,
      log: log.child({ component: "cluster" }),
      redact,
    });
  }
  for (const { config: source, module: mod, supervisors } of running) {
    hub.attachSink(
      source.name,
      cluster ? cluster.interestSink(source.name) : {
        setInterest: (items) => {
          for (const s of supervisors) s.setInterest(items);
        },
      },
    );
    hub.addStandingInterest(source.name, mod.standing(source));
  }

  const relay = new Relay(hub, running, OPEN_SCOPE, cluster);
  const { server, auth } = config;
  const authenticator = auth ? createAuthenticator(auth, () => clock.now()) : undefined;
  if (!authenticator) {
    log.warn(
      "no auth section: the relay is open to any client that can reach it; configure auth.apiKeys",
    );
  }
  const schema = buildRelaySchema();
  const checks = operationChecks({
    maxDepth: server.limits.maxDepth,
    maxAliases: server.limits.maxAliases,
    maxFields: server.limits.maxFields,
    maxTokens: server.limits.maxTokens,
    introspection: server.introspection,
  });
  const graphiqlPage = server.graphiql
    ? createGraphiqlPage(
      graphiqlOptions(running.map((s) => ({ name: s.config.name, vendor: s.module.vendor }))),
    )
    : undefined;
  const scopes = new WeakMap<Request, AccessScope>();
  const yoga = createYoga({
    schema,
    graphqlEndpoint: server.graphqlPath,
    // The relay serves GraphiQL itself (graphiqlPage below): yoga's page loads from a CDN.
    graphiql: false,
    landingPage: false,
    // Yoga's parse/validate cache is an lru-cache with a TTL whose clock keeps a timer alive
    // past shutdown; HTTP queries are few and small, so parsing each one costs little.
    parserAndValidationCache: false,
    cors: server.allowedOrigins.length > 0
      ? {
        origin: server.allowedOrigins.includes("*") ? "*" : [...server.allowedOrigins],
        methods: ["GET", "POST", "OPTIONS"],
        allowedHeaders: ["authorization", "content-type"],
        maxAge: 600,
      }
      : false,
    context: ({ request }) => ({ relay: relay.withScope(scopes.get(request) ?? NO_SCOPE) }),
    plugins: [{
      // The same checks as the WebSocket path: nesting and tokens while parsing, then the
      // limits, then the spec rules.
      onParse: ({ setParseFn }: { setParseFn: (fn: (source: string) => DocumentNode) => void }) => {
        setParseFn((source) => checks.parse(source));
      },
      // Variable coercion errors name enum values too; not when introspection is off.
      onExecute: ({ executeFn, setExecuteFn }: HookFn<"executeFn", "setExecuteFn">) => {
        setExecuteFn((args) => executeFn({ ...args, hideSuggestions: !checks.suggestions }));
      },
      onSubscribe: ({ subscribeFn, setSubscribeFn }: HookFn<"subscribeFn", "setSubscribeFn">) => {
        setSubscribeFn((args) => subscribeFn({ ...args, hideSuggestions: !checks.suggestions }));
      },
      onValidate: (
        { setValidationFn }: {
          setValidationFn: (
            fn: (s: GraphQLSchema, d: DocumentNode) => ReadonlyArray<GraphQLError>,
          ) => void;
        },
      ) => {
        setValidationFn((s, document) => checks.validate(s, document));
      },
    }],
    logging: {
      debug: (...args: unknown[]) => log.debug(String(args[0]), { args: args.slice(1) }),
      info: (...args: unknown[]) => log.info(String(args[0])),
      warn: (...args: unknown[]) => log.warn(String(args[0])),
      error: (...args: unknown[]) => log.error(String(args[0]), { detail: args.slice(1) }),
    },
  });
  const metrics = createRelayMetrics(clock);
  const admission = new Admission(server.limits, clock);
  const ws = createWsHandler({
    schema,
    relay,
    log: log.child({ component: "graphql-ws" }),
    clock,
    checks,
    authenticator,
    maxBufferedBytes: server.maxBufferedBytes,
    maxQueuedMessages: server.maxQueuedMessages,
    connectionInitWaitTimeout: server.limits.connectionInitTimeoutMs,
    maxSubscriptionsPerSocket: server.limits.maxSubscriptionsPerSocket,
    maxMessageBytes: server.limits.maxMessageBytes,
    observer: metrics.observer,
    admission,
  });
  const sse = createSseHandler({
    schema,
    relay,
    log: log.child({ component: "sse" }),
    clock,
    parse: (source) => checks.parse(source),
    validate: (s, document) => checks.validate(s, document),
    shared: ws.shared,
    limiter: ws.limiter,
    subscriptionsPerMinute: server.limits.subscriptionsPerMinute,
    maxStreamsPerKey: server.limits.maxSubscriptionsPerSocket,
    maxBufferedBytes: server.maxBufferedBytes,
    hideSuggestions: !checks.suggestions,
    observer: metrics.observer,
  });
  const clusterNode = cluster;
  /** Running subscriptions per root field, over graphql-ws and SSE. */
  const subscriptionsByField = () => {
    const counts = ws.subscriptionsByField();
    for (const [field, n] of sse.subscriptionsByField()) {
      counts.set(field, (counts.get(field) ?? 0) + n);
    }
    return counts;
  };
  metrics.bind({
    relay,
    running,
    connections: () => ws.stats.open,
    subscriptionsByField,
    holder: clusterNode && ((source) => clusterNode.holder(source) === clusterNode.nodeId),
  });
  const clientTotals = () => ({
    connections: ws.stats.open,
    subscriptions: Object.fromEntries(subscriptionsByField()),
  });
  let page: ReturnType<typeof statusPage> | undefined;
  const handler = createHandler({
    relay,
    graphqlPath: server.graphqlPath,
    http: async (req, scope) => {
      if (graphiqlPage && wantsGraphiql(req)) return graphiqlPage(req);
      if (acceptsEventStream(req)) {
        const streamed = await sse(req, scope);
        if (streamed) return streamed;
      }
      scopes.set(req, scope);
      return yoga.fetch(req);
    },
    ws,
    authenticator,
    origins: { allowed: server.allowedOrigins, publicOrigin: server.publicOrigin },
    maxBodyBytes: server.limits.maxMessageBytes,
    openScope: OPEN_SCOPE,
    graphiql: server.graphiql,
    metrics: server.metrics.enabled
      ? {
        path: server.metrics.path,
        access: {
          token: server.metrics.token,
          loopbackOnly: authenticator !== undefined && server.metrics.token === undefined,
        },
        render: () => metrics.render(),
        contentType: metrics.contentType,
      }
      : undefined,
    status: server.statusPage
      ? {
        page: () =>
          page ??= statusPage({
            graphiql: server.graphiql ? server.graphqlPath : undefined,
            metrics: server.metrics.enabled && server.metrics.token === undefined
              ? server.metrics.path
              : undefined,
          }),
        data: (scope) =>
          statusData(relay, scope, clientTotals, {
            version: RELAY_VERSION,
            node: clusterNode?.nodeId,
            now: clock.now(),
          }),
      }
      : undefined,
  });

  const abort = new AbortController();
  let runs: Promise<void>[] = [];
  let closed: Promise<void> | undefined;

  const close = () => {
    closed ??= (async () => {
      await ws.closeAll();
      abort.abort();
      await cluster?.close();
      await Promise.all(runs);
      await hub.drained();
      // Last, so a browser's reconnect (after `retry:`) finds the process gone and retries,
      // rather than getting the 503 of a closing relay, which ends an EventSource for good.
      sse.closeAll();
      hub.close();
    })();
    return closed;
  };

  return {
    // Once closing, new requests are refused so nothing joins while subscriptions complete.
    fetch: (req, info) =>
      closed
        ? new Response("Shutting down", { status: 503, headers: { "retry-after": "1" } })
        : handler(req, info),
    relay,
    hub,
    ws,
    sse,
    admission,
    log,
    redact,
    cluster,
    metrics,
    start() {
      if (runs.length > 0 || abort.signal.aborted) return;
      if (cluster) {
        // Supervisors run only while this node holds their source's lease.
        runs = [cluster.start()];
        return;
      }
      runs = running.flatMap((s) => s.supervisors.map((sup) => sup.run(abort.signal)));
    },
    close,
    [Symbol.asyncDispose]: close,
  };
}
