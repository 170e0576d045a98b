/**
 * graphql-ws on Deno, driven through `makeServer` directly.
 *
 * `graphql-ws/use/deno` reads `socket.protocol`, which Deno leaves empty after
 * `Deno.upgradeWebSocket`, and so rejects every client with 4406. Here the subprotocol is
 * negotiated from the request with graphql-ws's `handleProtocols` and passed to the upgrade
 * (browsers refuse a handshake whose answer lacks the protocol they offered), and the
 * negotiated value is what the server core sees.
 *
 * The graphql-ws Deno path has no backpressure, so each socket's unsent bytes are bounded:
 * past `maxBufferedBytes` the socket is closed with 1013 (try again later), which
 * graphql-ws clients retry, instead of letting memory grow.
 *
 * @module
 */
import { getOperationAST, type GraphQLSchema, Kind, subscribe } from "graphql";
import { CloseCode, handleProtocols, makeServer } from "graphql-ws";
import type { Logger } from "../platform/log.ts";
import type { Relay } from "../relay.ts";
import type { RelayContext } from "./context.ts";
import { formatErrors } from "./errors.ts";
import { SharedStreams } from "./shared_streams.ts";

/** Close code for a client that cannot keep up (RFC 6455 "Try Again Later"). */
export const CLOSE_SLOW_CONSUMER = 1013;

/** Options for {@link createWsHandler}. */
export interface WsHandlerOptions {
  schema: GraphQLSchema;
  relay: Relay;
  log: Logger;
  /** Unsent bytes per socket before it is closed as too slow. */
  maxBufferedBytes: number;
  /** How long a socket may stay open without `connection_init`. */
  connectionInitWaitTimeout?: number;
}

interface Extra {
  socket: WebSocket;
  request: Request;
}

interface WsContext extends RelayContext {
  /** Key of the shared stream this operation may join; undefined when not shareable. */
  shareKey: string | undefined;
}

/** Counters the handler keeps. */
export interface WsStats {
  open: number;
  slowConsumerCloses: number;
}

/** The upgrade handler plus its live state. */
export interface WsHandler {
  (req: Request): Response;
  readonly stats: WsStats;
  readonly shared: SharedStreams;
  /** Closes every open socket (graceful shutdown). */
  closeAll(code?: number, reason?: string): void;
}

/** Creates the WebSocket upgrade handler for the GraphQL path. */
export function createWsHandler(options: WsHandlerOptions): WsHandler {
  const { schema, relay, log, maxBufferedBytes } = options;
  const shared = new SharedStreams();
  const sockets = new Set<WebSocket>();
  const stats: WsStats = { open: 0, slowConsumerCloses: 0 };

  const server = makeServer<Record<string, unknown> | undefined, Extra>({
    schema,
    connectionInitWaitTimeout: options.connectionInitWaitTimeout ?? 3_000,
    context: (_ctx, _id, payload, args): WsContext => ({
      relay,
      shareKey: shareKeyOf(args.document, payload.operationName, payload.query, payload.variables),
    }),
    subscribe: (args) => {
      const key = (args.contextValue as WsContext).shareKey;
      if (key === undefined) return subscribe(args);
      return shared.join(key, () => subscribe(args));
    },
    onError: (_ctx, _id, _payload, errors) => formatErrors(errors),
  });

  const handler = ((req: Request): Response => {
    const protocol = handleProtocols(req.headers.get("sec-websocket-protocol") ?? "");
    const { socket, response } = Deno.upgradeWebSocket(req, protocol ? { protocol } : {});
    sockets.add(socket);
    socket.onopen = () => {
      stats.open++;
      const closed = server.opened({
        // The negotiated value, since Deno reports an empty socket.protocol.
        protocol: protocol || "",
        send: (data) => {
          if (socket.readyState !== WebSocket.OPEN) return;
          if (socket.bufferedAmount > maxBufferedBytes) {
            stats.slowConsumerCloses++;
            log.warn("closing slow client socket", { bufferedBytes: socket.bufferedAmount });
            socket.close(CLOSE_SLOW_CONSUMER, "Client too slow: try again later");
            return;
          }
          socket.send(data);
        },
        close: (code, reason) => socket.close(code, reason),
        onMessage: (cb) => {
          socket.onmessage = async (event) => {
            try {
              await cb(String(event.data));
            } catch (err) {
              log.error("graphql-ws message handling failed", { error: err });
              socket.close(CloseCode.InternalServerError, "Internal server error");
            }
          };
        },
      }, { socket, request: req });
      socket.onclose = (event) => {
        stats.open--;
        sockets.delete(socket);
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
  Object.defineProperties(handler, {
    stats: { value: stats },
    shared: { value: shared },
    closeAll: {
      value: (code = 1001, reason = "Server shutting down") => {
        for (const s of sockets) {
          try {
            s.close(code, reason);
          } catch {
            // already closing
          }
        }
      },
    },
  });
  return handler;
}

/**
 * Subscriptions can share a stream unless they resume from a cursor (a non-null `after:`),
 * whose replay is specific to the moment they join.
 */
function shareKeyOf(
  document: import("graphql").DocumentNode,
  operationName: string | null | undefined,
  query: string,
  variables: Record<string, unknown> | null | undefined,
): string | undefined {
  const op = getOperationAST(document, operationName);
  if (!op || op.operation !== "subscription") return undefined;
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
  return JSON.stringify([operationName ?? null, query, stableJson(variables ?? {})]);
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
