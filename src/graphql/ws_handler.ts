/**
 * graphql-ws on Deno, driven through `makeServer` directly.
 *
 * `graphql-ws/use/deno` reads `socket.protocol`, which Deno leaves empty after
 * `Deno.upgradeWebSocket`, and so rejects every client with 4406. Here the subprotocol is
 * negotiated from the request with graphql-ws's `handleProtocols` and passed to the upgrade
 * (browsers refuse a handshake whose answer lacks the protocol they offered), and the
 * negotiated value is what the server core sees.
 *
 * The graphql-ws Deno path has no backpressure, so each socket's unsent data is bounded in
 * bytes and messages: past either bound the socket is closed with 1013 (try again later),
 * which graphql-ws clients retry, instead of letting memory grow or other clients wait.
 *
 * Clients authenticate in `connection_init` (`{ "apiKey": "..." }`), or with an
 * `Authorization: Bearer` header on the upgrade; without valid credentials the socket is
 * closed with graphql-ws's Forbidden code (4403).
 *
 * @module
 */
import { getOperationAST, GraphQLError, type GraphQLSchema, Kind, subscribe } from "graphql";
import {
  CloseCode,
  type Context,
  handleProtocols,
  makeServer,
  MessageType,
  stringifyMessage,
} from "graphql-ws";
import { type AccessScope, OPEN_SCOPE, scopeKey } from "../model/access.ts";
import type { Clock } from "../platform/clock.ts";
import type { Logger } from "../platform/log.ts";
import type { Relay } from "../relay.ts";
import { type Authenticator, bearer } from "../server/auth.ts";
import type { RelayContext } from "./context.ts";
import { countBatches, countFrame, type DeliveryObserver } from "./delivery_observer.ts";
import { DocumentCache } from "./document_cache.ts";
import { formatErrors } from "./errors.ts";
import type { Admission, ConnectionAdmission } from "../server/admission.ts";
import type { OperationChecks } from "./limits.ts";
import { SharedStreams } from "./shared_streams.ts";

/** Close code for a client that cannot keep up (RFC 6455 "Try Again Later"). */
export const CLOSE_SLOW_CONSUMER = 1013;
/** Close code for an inbound message over the size limit (RFC 6455 "Message Too Big"). */
export const CLOSE_MESSAGE_TOO_BIG = 1009;

/** How many frames a socket is sent between two reads of its unsent bytes. */
const BUFFER_CHECK_EVERY = 16;

/** Options for {@link createWsHandler}. */
export interface WsHandlerOptions {
  schema: GraphQLSchema;
  relay: Relay;
  log: Logger;
  clock: Clock;
  /** Parsing and validation with the operation limits. */
  checks: OperationChecks;
  /** Verifies credentials; undefined means the relay is open. */
  authenticator: Authenticator | undefined;
  /** Unsent bytes per socket before it is closed as too slow. */
  maxBufferedBytes: number;
  /** Unsent messages per socket before it is closed as too slow. */
  maxQueuedMessages: number;
  /** How long a socket may stay open without `connection_init`. */
  connectionInitWaitTimeout: number;
  maxSubscriptionsPerSocket: number;
  maxMessageBytes: number;
  /** Rate limits and pre-auth bounds, shared with the other transports. */
  admission: Admission;
  /** Told once per written batch and per closed socket (metrics); optional. */
  observer?: DeliveryObserver | undefined;
}

interface Extra {
  socket: WebSocket;
  /** The upgrade's bearer credential, read before Deno closed the request. */
  upgradeCredential: string | undefined;
  /** Sends a text frame with the socket's slow-consumer bounds. */
  send: (data: string) => void;
  /** The peer's address (undefined when the transport has none). */
  remote: string | undefined;
  /** Releases the socket's unauthenticated slot (once; at connection_init or close). */
  releasePending: () => void;
  scope?: AccessScope;
  admission?: ConnectionAdmission;
}

interface WsContext extends RelayContext {
  /** Key of the shared stream this operation may join; undefined when not shareable. */
  shareKey: string | undefined;
  /** Writes a shared stream's serialised result as this operation's `next` frame. */
  deliver: (payloadText: string) => void;
  /** The root field subscribed to (a schema field: a bounded metrics label). */
  field: string | undefined;
  /** When the operation started; events received before it are replays. */
  startedAt: number;
  /** Admission of the operation's connection, told when a subscription starts and ends. */
  admission: ConnectionAdmission | undefined;
  socket: WebSocket;
}

/** Counters the handler keeps. */
export interface WsStats {
  open: number;
  slowConsumerCloses: number;
  oversizedMessages: number;
  forbidden: number;
  rateLimited: number;
}

/** The upgrade handler plus its live state. */
export interface WsHandler {
  (req: Request): Response;
  readonly stats: WsStats;
  readonly shared: SharedStreams;
  /** The per-key new-subscription bucket (SSE subscriptions draw from it too). */
  readonly limiter: { take(key: string): boolean };
  /** Running subscriptions per root field, counted when asked (metrics scrapes). */
  subscriptionsByField(): Map<string, number>;
  /**
   * Graceful shutdown: sends `complete` for every running subscription, then closes every
   * socket with 1001 (going away, which graphql-ws clients retry against a new instance).
   */
  closeAll(): Promise<void>;
}

function limitError(code: string, message: string): GraphQLError[] {
  return [new GraphQLError(message, { extensions: { code } })];
}

/** Creates the WebSocket upgrade handler for the GraphQL path. */
export function createWsHandler(options: WsHandlerOptions): WsHandler {
  const { schema, relay, log, authenticator } = options;
  const shared = new SharedStreams();
  /** Every open socket; the acknowledged ones also map to their graphql-ws context. */
  const sockets = new Set<WebSocket>();
  const live = new Map<WebSocket, Context<Record<string, unknown> | undefined, Extra>>();
  const stats: WsStats = {
    open: 0,
    slowConsumerCloses: 0,
    oversizedMessages: 0,
    forbidden: 0,
    rateLimited: 0,
  };
  const { admission } = options;
  // SSE requests take from the same keyed buckets (by scopeKey) as sockets do.
  const limiter = { take: (key: string) => admission.takeKeyed(key) };

  const documents = new DocumentCache({
    parse: (query) => options.checks.parse(query),
    validate: (document) => options.checks.validate(schema, document),
  });
  // One view per scope object, not one per operation (an open relay has a single scope).
  const views = new WeakMap<AccessScope, Relay>();
  const relayFor = (scope: AccessScope): Relay => {
    let view = views.get(scope);
    if (!view) views.set(scope, view = relay.withScope(scope));
    return view;
  };
  const { observer, clock } = options;
  /** Root field of each running operation, keyed by what graphql-ws keeps per subscription. */
  const fieldOf = new WeakMap<object, string>();

  const server = makeServer<Record<string, unknown> | undefined, Extra>({
    schema,
    connectionInitWaitTimeout: options.connectionInitWaitTimeout,
    onConnect: async (ctx) => {
      live.set(ctx.extra.socket, ctx);
      ctx.extra.releasePending();
      if (!authenticator) {
        ctx.extra.scope = OPEN_SCOPE;
        ctx.extra.admission = admission.connection(OPEN_SCOPE, ctx.extra.remote);
        return true;
      }
      const params = ctx.connectionParams ?? {};
      const credential = typeof params.apiKey === "string"
        ? params.apiKey
        : bearer(typeof params.authorization === "string" ? params.authorization : null) ??
          bearer(typeof params.Authorization === "string" ? params.Authorization : null) ??
          ctx.extra.upgradeCredential;
      const scope = credential ? await authenticator.authenticate(credential) : undefined;
      if (!scope) {
        stats.forbidden++;
        log.info("rejected unauthenticated socket");
        return false;
      }
      ctx.extra.scope = scope;
      ctx.extra.admission = admission.connection(scope, ctx.extra.remote);
      return true;
    },
    onSubscribe: (ctx, id, payload) => {
      const active = Object.keys(ctx.subscriptions).length;
      if (active > options.maxSubscriptionsPerSocket) {
        return limitError(
          "LIMIT_EXCEEDED",
          `At most ${options.maxSubscriptionsPerSocket} subscriptions per connection`,
        );
      }
      const checked = documents.check(payload.query);
      if (!checked.ok) return [...checked.errors];
      const { document } = checked;
      const op = getOperationAST(document, payload.operationName);
      if (!op) return [new GraphQLError("Unable to identify operation")];
      const scope = ctx.extra.scope ?? OPEN_SCOPE;
      if (op.operation === "subscription") {
        // This operation is already among ctx.subscriptions: the others are one fewer.
        const refusal = ctx.extra.admission?.admit(active - 1);
        if (refusal) {
          if (refusal.code === "RATE_LIMITED") stats.rateLimited++;
          return limitError(refusal.code, refusal.message);
        }
      }
      // The frame graphql-ws would build, minus the per-socket stringify of the payload.
      const head = `{"id":${JSON.stringify(id)},"type":"${MessageType.Next}","payload":`;
      const root = op.selectionSet.selections[0];
      const contextValue: WsContext = {
        relay: relayFor(scope),
        shareKey: shareKeyOf(op, scope, payload.operationName, payload.query, payload.variables),
        deliver: (text) => {
          if (id in ctx.subscriptions) ctx.extra.send(`${head}${text}}`);
        },
        field: op.operation === "subscription" && root?.kind === Kind.FIELD
          ? root.name.value
          : undefined,
        startedAt: clock.now(),
        admission: op.operation === "subscription" ? ctx.extra.admission : undefined,
        socket: ctx.extra.socket,
      };
      return {
        schema,
        document,
        operationName: payload.operationName ?? null,
        variableValues: payload.variables ?? null,
        contextValue,
        hideSuggestions: !options.checks.suggestions,
      };
    },
    subscribe: async (args) => {
      const context = args.contextValue as WsContext;
      const { shareKey, deliver, field, admission: counted } = context;
      // The key is a long string (scope, query, variables); the context outlives the join.
      context.shareKey = undefined;
      const started = shareKey === undefined ? await subscribe(args) : await shared.join(
        shareKey,
        () => subscribe(args),
        deliver,
        countBatches(observer, context),
      );
      if (!counted || !isAsyncIterable(started)) return started;
      counted.started();
      const socket = context.socket;
      const tracked = onEnd(started, () => counted.ended(socket.readyState !== WebSocket.OPEN));
      if (field !== undefined) fieldOf.set(tracked, field);
      return tracked;
    },
    // Only unshared operations reach here: shared streams write their frames themselves.
    onNext: observer && ((_ctx, _id, _payload, args) => {
      const context = args.contextValue as WsContext;
      countFrame(observer, context, context.startedAt);
    }),
    onError: (_ctx, _id, _payload, errors) => formatErrors(errors),
  });

  const handler = ((req: Request, remote?: string): Response => {
    const protocol = handleProtocols(req.headers.get("sec-websocket-protocol") ?? "");
    const upgradeCredential = bearer(req.headers.get("authorization"));
    if (!admission.reservePending(remote)) {
      return new Response("Too many unauthenticated connections from this address", {
        status: 429,
        headers: { "retry-after": "1" },
      });
    }
    let pending = true;
    const releasePending = () => {
      if (!pending) return;
      pending = false;
      admission.releasePending(remote);
    };
    let upgraded: ReturnType<typeof Deno.upgradeWebSocket>;
    try {
      upgraded = Deno.upgradeWebSocket(req, protocol ? { protocol } : {});
    } catch (err) {
      releasePending();
      throw err;
    }
    const { socket, response } = upgraded;
    let queued = 0;
    const send = (data: string) => {
      if (socket.readyState !== WebSocket.OPEN) return;
      // bufferedAmount is what Deno has not yet written to the peer: at 0 the queue has
      // drained, otherwise this message waits behind the earlier ones. It is a call into
      // the runtime (0.7 µs, a fifth of the relay's own cost per delivery), so it is read
      // every BUFFER_CHECK_EVERY messages: the byte bound may be passed by that many frames.
      if (++queued % BUFFER_CHECK_EVERY !== 0 && queued <= options.maxQueuedMessages) {
        socket.send(data);
        return;
      }
      const buffered = socket.bufferedAmount;
      if (buffered === 0) queued = 1;
      if (buffered > options.maxBufferedBytes || queued > options.maxQueuedMessages) {
        stats.slowConsumerCloses++;
        log.warn("closing slow client socket", {
          bufferedBytes: buffered,
          queuedMessages: queued,
        });
        socket.close(CLOSE_SLOW_CONSUMER, "Client too slow: try again later");
        return;
      }
      socket.send(data);
    };
    socket.onopen = () => {
      stats.open++;
      sockets.add(socket);
      const closed = server.opened({
        // The negotiated value, since Deno reports an empty socket.protocol.
        protocol: protocol || "",
        send,
        close: (code, reason) => socket.close(code, reason),
        onMessage: (cb) => {
          // graphql-ws resolves a subscribe message only when the subscription ends: a
          // promise chain (not an async frame, not the MessageEvent) is all that waits here.
          const failed = (err: unknown) => {
            log.error("graphql-ws message handling failed", { error: err });
            socket.close(CloseCode.InternalServerError, "Internal server error");
          };
          const handle = (data: string) => {
            try {
              cb(data).catch(failed);
            } catch (err) {
              failed(err);
            }
          };
          socket.onmessage = (event) => {
            if (typeof event.data !== "string") {
              // graphql-ws is a text protocol; Deno has already read the frame, so refuse it by
              // its size first (1009, like an oversized text frame), else as invalid (4400).
              const size = event.data instanceof Blob ? event.data.size : event.data.byteLength;
              if (size > options.maxMessageBytes) stats.oversizedMessages++;
              socket.close(
                size > options.maxMessageBytes ? CLOSE_MESSAGE_TOO_BIG : CloseCode.BadRequest,
                size > options.maxMessageBytes
                  ? "Message too big"
                  : "Binary frames are not supported",
              );
              return;
            }
            const data = event.data;
            // UTF-8 takes at most 3 bytes per UTF-16 unit: count exactly only when it matters.
            if (
              data.length * 3 > options.maxMessageBytes &&
              new TextEncoder().encode(data).length > options.maxMessageBytes
            ) {
              stats.oversizedMessages++;
              socket.close(CLOSE_MESSAGE_TOO_BIG, "Message too big");
              return;
            }
            handle(data);
          };
        },
      }, { socket, upgradeCredential, send, remote, releasePending });
      socket.onclose = (event) => {
        observer?.closed(event.code);
        releasePending();
        stats.open--;
        sockets.delete(socket);
        live.delete(socket);
        closed(event.code, event.reason).catch((err) =>
          log.error("graphql-ws close handling failed", { error: err })
        );
      };
    };
    socket.onerror = () => {
      // A reset by the peer; onclose follows and cleans up.
    };

    return response;
  }) as WsHandler;

  const closeAll = async () => {
    const ending: Promise<unknown>[] = [];
    for (const socket of sockets) {
      const ctx = live.get(socket);
      for (const [id, sub] of Object.entries(ctx?.subscriptions ?? {})) {
        if (socket.readyState === WebSocket.OPEN) {
          socket.send(stringifyMessage({ id, type: MessageType.Complete }));
        }
        delete ctx!.subscriptions[id];
        if (sub && typeof (sub as AsyncGenerator).return === "function") {
          ending.push((sub as AsyncGenerator).return(undefined).catch(() => {}));
        }
      }
      try {
        socket.close(1001, "Server shutting down");
      } catch {
        // already closing
      }
    }
    await Promise.all(ending);
    // Wait (bounded) for every socket's close to be processed, so graphql-ws has cleared
    // its timers and released every subscription before the caller moves on.
    const deadline = Date.now() + 2000;
    while (sockets.size > 0 && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
  };

  const subscriptionsByField = () => {
    const counts = new Map<string, number>();
    for (const ctx of live.values()) {
      for (const sub of Object.values(ctx.subscriptions)) {
        const field = sub ? fieldOf.get(sub) : undefined;
        if (field !== undefined) counts.set(field, (counts.get(field) ?? 0) + 1);
      }
    }
    return counts;
  };

  Object.defineProperties(handler, {
    stats: { value: stats },
    subscriptionsByField: { value: subscriptionsByField },
    shared: { value: shared },
    limiter: { value: limiter },
    closeAll: { value: closeAll },
  });
  return handler;
}

/**
 * Subscriptions can share a stream unless they resume from a cursor (a non-null `after:`),
 * whose replay is specific to the moment they join. The key includes the whole access scope
 * (id, sources, tenants), so clients with different rights never share.
 */
export function shareKeyOf(
  op: NonNullable<ReturnType<typeof getOperationAST>>,
  scope: AccessScope,
  operationName: string | null | undefined,
  query: string,
  variables: Record<string, unknown> | null | undefined,
): string | undefined {
  if (op.operation !== "subscription") return undefined;
  for (const sel of op.selectionSet.selections) {
    if (sel.kind !== Kind.FIELD) return undefined;
    for (const arg of sel.arguments ?? []) {
      if (arg.name.value !== "after") continue;
      const v = arg.value;
      const unset = v.kind === Kind.NULL ||
        (v.kind === Kind.VARIABLE && (variables?.[v.name.value] ?? null) === null);
      if (!unset) return undefined;
    }
  }
  return JSON.stringify([
    scopeKey(scope),
    operationName ?? null,
    query,
    stableJson(variables ?? {}),
  ]);
}

function stableJson(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(stableJson);
  if (value && typeof value === "object") {
    return Object.fromEntries(
      Object.keys(value).sort().map((k) => [k, stableJson((value as Record<string, unknown>)[k])]),
    );
  }
  return value;
}

function isAsyncIterable<T>(value: unknown): value is AsyncIterable<T> {
  return typeof value === "object" && value !== null && Symbol.asyncIterator in value;
}

/**
 * `iterable` with `end` called once when it finishes, fails or is returned early. A class,
 * not closures: one lives for every running subscription.
 */
function onEnd<T>(iterable: AsyncIterable<T>, end: () => void): AsyncIterableIterator<T> {
  return new EndWatch(iterable[Symbol.asyncIterator](), end);
}

class EndWatch<T> implements AsyncIterableIterator<T> {
  #it: AsyncIterator<T>;
  #end: (() => void) | undefined;

  constructor(it: AsyncIterator<T>, end: () => void) {
    this.#it = it;
    this.#end = end;
  }

  [Symbol.asyncIterator](): this {
    return this;
  }

  #finish(): void {
    const end = this.#end;
    this.#end = undefined;
    end?.();
  }

  async next(): Promise<IteratorResult<T>> {
    try {
      const r = await this.#it.next();
      if (r.done) this.#finish();
      return r;
    } catch (err) {
      this.#finish();
      throw err;
    }
  }

  async return(value?: unknown): Promise<IteratorResult<T>> {
    this.#finish();
    return (await this.#it.return?.(value)) ?? { done: true, value: undefined };
  }

  async throw(err?: unknown): Promise<IteratorResult<T>> {
    this.#finish();
    if (this.#it.throw) return await this.#it.throw(err);
    throw err;
  }
}
