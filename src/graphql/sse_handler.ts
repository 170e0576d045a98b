/**
 * Subscriptions over server-sent events on the GraphQL path, for networks whose proxies block
 * WebSockets, and for a browser `EventSource` that should resume with no code at all.
 *
 * The stream follows GraphQL over SSE's "distinct connections" mode (`event: next` with the
 * result as `data:`, `event: complete` at the end), and each `next` carries `id:` set to the
 * event's cursor, so the browser's automatic reconnect sends it back as `Last-Event-ID`, which
 * the relay applies as the subscription's `after:`: the stream resumes exactly.
 *
 * SSE subscriptions live under the same rules as graphql-ws ones: the same validation rules,
 * the same per-key subscription rate limit (one bucket per key across both transports), at
 * most `maxStreamsPerKey` streams open per key (what `maxSubscriptionsPerSocket` is to a
 * socket), identical subscriptions share one stream (and one upstream registration through
 * the hub), and a client that stops reading is cut off at `maxBufferedBytes`.
 *
 * @module
 */
import {
  type ArgumentNode,
  createSourceEventStream,
  type DocumentNode,
  execute,
  type ExecutionArgs,
  type ExecutionResult,
  getOperationAST,
  GraphQLError,
  type GraphQLSchema,
  Kind,
  type OperationDefinitionNode,
} from "graphql";
import { type AccessScope, scopeKey } from "../model/access.ts";
import type { Clock } from "../platform/clock.ts";
import type { Logger } from "../platform/log.ts";
import type { Relay } from "../relay.ts";
import type { RelayContext } from "./context.ts";
import { formatErrors } from "./errors.ts";
import type { SharedStreams } from "./shared_streams.ts";
import { countBatches, countFrame, type DeliveryObserver } from "./delivery_observer.ts";
import { shareKeyOf } from "./ws_handler.ts";

/** Options for {@link createSseHandler}. */
export interface SseHandlerOptions {
  schema: GraphQLSchema;
  relay: Relay;
  log: Logger;
  clock: Clock;
  /** Parses with the operation limits (what graphql-ws uses too). */
  parse: (source: string) => DocumentNode;
  /** Validates with the operation limits and the spec rules. */
  validate: (schema: GraphQLSchema, document: DocumentNode) => readonly GraphQLError[];
  /** The streams graphql-ws subscriptions share; SSE groups live beside them. */
  shared: SharedStreams;
  /** The per-key subscription bucket graphql-ws also draws from. */
  limiter: { take(key: string): boolean };
  subscriptionsPerMinute: number;
  /** Open SSE subscriptions per key (default: `maxSubscriptionsPerSocket`). */
  maxStreamsPerKey: number;
  /** Unsent bytes per stream before the client is cut off as too slow. */
  maxBufferedBytes: number;
  /** A comment line is sent this often so proxies keep an idle stream open. */
  keepAliveMs?: number;
  /** Sent as `retry:`: how long a browser waits before reconnecting. */
  retryMs?: number;
  /** Keep "Did you mean ..." out of execution errors (when introspection is off). */
  hideSuggestions?: boolean;
  /** Told once per written batch (a shared stream's result, or one unshared frame). */
  observer?: DeliveryObserver | undefined;
}

/** Counters the handler keeps. */
export interface SseStats {
  open: number;
  rateLimited: number;
  capped: number;
  slowConsumerCloses: number;
}

/** The SSE handler: `undefined` when the request is not an SSE subscription. */
export interface SseHandler {
  (req: Request, scope: AccessScope): Promise<Response | undefined>;
  readonly stats: SseStats;
  /** Open streams per key (for tests and metrics). */
  streams(key: string): number;
  /** Open streams per root field (metrics). */
  subscriptionsByField(): Map<string, number>;
  /** Ends every stream without `complete`, so browsers reconnect (to another instance). */
  closeAll(): void;
}

/** Whether `req` asks for an event stream. */
export function acceptsEventStream(req: Request): boolean {
  return (req.headers.get("accept") ?? "").includes("text/event-stream");
}

interface Params {
  query: string;
  operationName: string | null;
  variables: Record<string, unknown> | null;
}

/** A result with the cursor of the event it was executed for (not serialised). */
const CURSOR = Symbol("cursor");
type CursoredResult = ExecutionResult & { [CURSOR]?: string };

const encoder = new TextEncoder();

function jsonError(status: number, code: string, message: string): Response {
  return new Response(JSON.stringify({ errors: [{ message, extensions: { code } }] }), {
    status,
    headers: { "content-type": "application/json; charset=utf-8" },
  });
}

async function readParams(req: Request): Promise<Params | Response> {
  try {
    if (req.method === "GET") {
      const url = new URL(req.url);
      const variables = url.searchParams.get("variables");
      return {
        query: url.searchParams.get("query") ?? "",
        operationName: url.searchParams.get("operationName"),
        variables: variables ? JSON.parse(variables) : null,
      };
    }
    if (req.method === "POST") {
      const body = await req.json();
      return {
        query: typeof body?.query === "string" ? body.query : "",
        operationName: typeof body?.operationName === "string" ? body.operationName : null,
        variables: body?.variables && typeof body.variables === "object" ? body.variables : null,
      };
    }
  } catch {
    return jsonError(400, "BAD_REQUEST", "Request parameters are not valid JSON");
  }
  return jsonError(405, "BAD_REQUEST", "Use GET or POST");
}

/**
 * Sets `after:` to `cursor` on every root field that takes one: `Last-Event-ID` resumes any
 * subscription document, whether or not it declares an `$after` variable.
 */
function withAfter(
  document: DocumentNode,
  op: OperationDefinitionNode,
  schema: GraphQLSchema,
  cursor: string,
): DocumentNode {
  const fields = schema.getSubscriptionType()?.getFields() ?? {};
  const value = { kind: Kind.STRING, value: cursor } as const;
  const selections = op.selectionSet.selections.map((sel) => {
    if (sel.kind !== Kind.FIELD || !fields[sel.name.value]?.args.some((a) => a.name === "after")) {
      return sel;
    }
    const args: ArgumentNode[] = (sel.arguments ?? []).filter((a) => a.name.value !== "after");
    args.push({ kind: Kind.ARGUMENT, name: { kind: Kind.NAME, value: "after" }, value });
    return { ...sel, arguments: args };
  });
  const resumed = { ...op, selectionSet: { ...op.selectionSet, selections } };
  return {
    ...document,
    definitions: document.definitions.map((d) => (d === op ? resumed : d)),
  };
}

/**
 * `subscribe` with each result tagged with its event's cursor: the source stream is mapped
 * through `execute` here (as graphql-js's own `subscribe` does) so the cursor is known even
 * when the document does not select `id`.
 */
async function subscribeWithCursors(
  args: ExecutionArgs,
): Promise<AsyncIterable<CursoredResult> | ExecutionResult> {
  const source = await createSourceEventStream(args);
  if (!(Symbol.asyncIterator in source)) return source as ExecutionResult;
  const events = (source as AsyncIterable<unknown>)[Symbol.asyncIterator]();
  const results: AsyncIterableIterator<CursoredResult> = {
    async next() {
      const step = await events.next();
      if (step.done) return { done: true, value: undefined };
      const result: CursoredResult = await execute({ ...args, rootValue: step.value });
      const event = step.value as { cursor?: unknown; id?: unknown };
      const cursor = typeof event.cursor === "string"
        ? event.cursor
        : typeof event.id === "string"
        ? event.id
        : undefined;
      if (cursor !== undefined) Object.defineProperty(result, CURSOR, { value: cursor });
      return { done: false, value: result };
    },
    async return() {
      await events.return?.();
      return { done: true, value: undefined };
    },
    [Symbol.asyncIterator]() {
      return results;
    },
  };
  return results;
}

/** One SSE frame; `data` may not contain newlines (JSON text never does). */
function frame(event: string, data: string, id?: string): string {
  // An id with a newline would split the frame; cursors never have one.
  const idLine = id !== undefined && !/[\r\n]/.test(id) ? `id: ${id}\n` : "";
  return `${idLine}event: ${event}\ndata: ${data}\n\n`;
}

/** Creates the SSE handler. */
export function createSseHandler(options: SseHandlerOptions): SseHandler {
  const { schema, relay, log, clock, limiter } = options;
  const keepAliveMs = options.keepAliveMs ?? 15_000;
  const retryMs = options.retryMs ?? 1_000;
  const open = new Map<string, number>();
  const byField = new Map<string, number>();
  const closers = new Set<() => void>();
  const { observer } = options;
  const stats: SseStats = { open: 0, rateLimited: 0, capped: 0, slowConsumerCloses: 0 };

  const handler = (async (req: Request, scope: AccessScope): Promise<Response | undefined> => {
    if (!acceptsEventStream(req)) return undefined;
    // The body is read here only for what may be a subscription; yoga gets the rest untouched.
    const params = await readParams(req.method === "POST" ? req.clone() : req);
    if (params instanceof Response) return params;
    let document: DocumentNode;
    try {
      document = options.parse(params.query);
    } catch (err) {
      if (!(err instanceof GraphQLError)) throw err;
      return new Response(JSON.stringify({ errors: formatErrors([err]) }), {
        status: 400,
        headers: { "content-type": "application/json; charset=utf-8" },
      });
    }
    const op = getOperationAST(document, params.operationName);
    if (!op || op.operation !== "subscription") return undefined;
    const errors = options.validate(schema, document);
    if (errors.length > 0) {
      return new Response(JSON.stringify({ errors: formatErrors(errors) }), {
        status: 400,
        headers: { "content-type": "application/json; charset=utf-8" },
      });
    }
    const key = scope.id;
    if ((open.get(key) ?? 0) >= options.maxStreamsPerKey) {
      stats.capped++;
      return jsonError(
        429,
        "LIMIT_EXCEEDED",
        `At most ${options.maxStreamsPerKey} SSE subscriptions open per key`,
      );
    }
    if (!limiter.take(scopeKey(scope))) {
      stats.rateLimited++;
      return jsonError(
        429,
        "RATE_LIMITED",
        `Too many new subscriptions: at most ${options.subscriptionsPerMinute} a minute`,
      );
    }
    const lastEventId = req.headers.get("last-event-id")?.trim();
    const resumeFrom = lastEventId ? lastEventId : undefined;
    const executed = resumeFrom ? withAfter(document, op, schema, resumeFrom) : document;
    const contextValue: RelayContext = { relay: relay.withScope(scope) };
    const args: ExecutionArgs = {
      schema,
      document: executed,
      operationName: params.operationName,
      variableValues: params.variables,
      contextValue,
      hideSuggestions: options.hideSuggestions ?? false,
    };
    // Resuming streams replay from their own moment, so they are not shared (as over ws).
    const shareKey = resumeFrom
      ? undefined
      : shareKeyOf(op, scope, params.operationName, params.query, params.variables);
    const root = op.selectionSet.selections[0];
    const field = root?.kind === Kind.FIELD ? root.name.value : "";
    return stream(key, args, shareKey, field);
  }) as SseHandler;

  const stream = (
    key: string,
    args: ExecutionArgs,
    shareKey: string | undefined,
    field: string,
  ): Response => {
    open.set(key, (open.get(key) ?? 0) + 1);
    byField.set(field, (byField.get(field) ?? 0) + 1);
    stats.open++;
    const context = args.contextValue as RelayContext;
    const startedAt = clock.now();
    let controller!: ReadableStreamDefaultController<Uint8Array>;
    let ended = false;
    let member: AsyncIterator<CursoredResult> | undefined;
    let keepAlive: ReturnType<Clock["setTimeout"]> | undefined;
    const end = (complete: boolean) => {
      if (ended) return;
      ended = true;
      closers.delete(closeForShutdown);
      clock.clearTimeout(keepAlive!);
      open.set(key, (open.get(key) ?? 1) - 1);
      if (open.get(key) === 0) open.delete(key);
      byField.set(field, (byField.get(field) ?? 1) - 1);
      if (byField.get(field) === 0) byField.delete(field);
      stats.open--;
      member?.return?.();
      try {
        if (complete) controller.enqueue(encoder.encode(frame("complete", "")));
        controller.close();
      } catch {
        // the client already went away
      }
    };
    const closeForShutdown = () => end(false);
    const write = (text: string) => {
      if (ended) return;
      // desiredSize counts unread bytes against maxBufferedBytes: below zero the client has
      // stopped reading, so it is cut off (a browser reconnects and resumes with its cursor).
      if ((controller.desiredSize ?? 0) < 0) {
        stats.slowConsumerCloses++;
        log.warn("closing slow SSE client", { key });
        return end(false);
      }
      controller.enqueue(encoder.encode(text));
    };
    const ping = () => {
      keepAlive = clock.setTimeout(() => {
        write(":\n\n");
        if (!ended) ping();
      }, keepAliveMs);
    };
    const send = (result: ExecutionResult, text?: string) => {
      const cursor = (result as CursoredResult)[CURSOR];
      const payload = text ?? JSON.stringify({ ...result, errors: formatMaybe(result.errors) });
      write(frame("next", payload, cursor));
    };
    const run = async () => {
      const start = () => subscribeWithCursors(args);
      const started = shareKey === undefined ? await start() : await options.shared.join(
        `sse:${shareKey}`,
        start,
        (text, value) => send(value, text),
        countBatches(observer, context),
      );
      if (!(Symbol.asyncIterator in started)) {
        send(started as ExecutionResult);
        return end(true);
      }
      member = (started as AsyncIterable<CursoredResult>)[Symbol.asyncIterator]();
      if (ended) return void member.return?.();
      while (!ended) {
        const step = await member.next();
        if (step.done) break;
        send(step.value);
        countFrame(observer, context, startedAt);
      }
      end(true);
    };
    closers.add(closeForShutdown);
    const body = new ReadableStream<Uint8Array>({
      start: (c) => {
        controller = c;
        c.enqueue(encoder.encode(`retry: ${retryMs}\n:\n\n`));
        ping();
        run().catch((err) => {
          const error = err instanceof GraphQLError ? err : new GraphQLError(String(err?.message));
          send({ errors: [error] });
          end(true);
        });
      },
      cancel: () => end(false),
    }, { highWaterMark: options.maxBufferedBytes, size: (chunk) => chunk.byteLength });
    return new Response(body, {
      status: 200,
      headers: {
        "content-type": "text/event-stream; charset=utf-8",
        "cache-control": "no-cache, no-store",
        // nginx and similar proxies buffer responses unless told not to.
        "x-accel-buffering": "no",
      },
    });
  };

  Object.defineProperties(handler, {
    stats: { value: stats },
    streams: { value: (key: string) => open.get(key) ?? 0 },
    subscriptionsByField: { value: () => new Map(byField) },
    closeAll: { value: () => [...closers].forEach((close) => close()) },
  });
  return handler;
}

function formatMaybe(errors: ExecutionResult["errors"]) {
  return errors ? formatErrors(errors) : undefined;
}
