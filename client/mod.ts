/**
 * A graphql-ws client that resumes subscriptions exactly.
 *
 * graphql-ws re-sends a subscription's original `subscribe` payload on every retry, so an
 * app that reconnects either replays from the cursor it started with (`after:` in the first
 * variables) or, with no `after:`, loses what happened while it was away. This wrapper
 * remembers the newest `cursor` (or `id`) each subscription received and makes every retry
 * subscribe with `after:` set to it: a dropped socket, a relay restart or a deploy costs no
 * event and repeats none, as long as the relay still holds the events (its history or its
 * cluster stream). When it no longer does, the subscription ends with a
 * {@link CursorExpiredError} so the app can refetch its state and subscribe afresh.
 *
 * Depends on nothing but `graphql-ws`; works in Deno, Node and browsers (bundlers).
 *
 * ```ts
 * import { createResumingClient } from "./client/mod.ts";
 * const client = createResumingClient({ url: "wss://relay.example.com/graphql",
 *   connectionParams: { apiKey } });
 * client.subscribe({
 *   query: `subscription($after: ID) { drpEvents(type: "machines", after: $after) { id type key } }`,
 * }, { next: console.log, error: console.error, complete: () => {} });
 * ```
 *
 * A subscription takes part when its document declares the `$after` variable (and passes it
 * to the field's `after:` argument) and selects `cursor` or `id` on the event; any other
 * operation goes through unchanged.
 *
 * @module
 */
import {
  type Client,
  type ClientOptions,
  createClient,
  type FormattedExecutionResult,
  type Sink,
  type SubscribePayload,
} from "graphql-ws";

/** A GraphQL error as it arrives over the wire. */
export interface WireError {
  message: string;
  extensions?: { code?: string; [key: string]: unknown };
  [key: string]: unknown;
}

/**
 * The relay no longer holds the events after the subscription's cursor (history moved on,
 * the relay's history started afresh, or it was not receiving for a while): resuming would
 * leave a gap, so it refuses. Refetch what the app shows (e.g. `recentEvents`) and subscribe
 * again without `after:`.
 */
export class CursorExpiredError extends Error {
  /** Always `CURSOR_EXPIRED`, the relay's error code. */
  readonly code = "CURSOR_EXPIRED";
  /** The cursor the relay refused; undefined when the subscription started without one. */
  readonly cursor: string | undefined;
  /** The errors as the relay sent them (their messages say why). */
  readonly errors: readonly WireError[];

  constructor(cursor: string | undefined, errors: readonly WireError[]) {
    super(errors[0]?.message ?? "Cursor expired");
    this.name = "CursorExpiredError";
    this.cursor = cursor;
    this.errors = errors;
  }
}

/**
 * Close codes the relay uses and what a resuming client does with each (see README
 * "Client apps"). graphql-ws never retries 1002-1011 (except 1005/1006) or its own fatal
 * codes, whatever `shouldRetry` says.
 */
export const RELAY_CLOSE_CODES = {
  /** Shutting down or restarting: retried, and the subscriptions resume. */
  goingAway: 1001,
  /** A message over `server.limits.maxMessageBytes`: fatal (graphql-ws rule). */
  messageTooBig: 1009,
  /** Internal error: fatal (graphql-ws rule). */
  internalError: 1011,
  /** The client fell behind (its queue overflowed): retried, and the subscriptions resume. */
  tryAgainLater: 1013,
  /** Invalid message: fatal (graphql-ws rule). */
  badRequest: 4400,
  /** Bad or missing API key or JWT: not retried by {@link shouldRetryRelayClose}. */
  forbidden: 4403,
  /** No `connection_init` in time: retried. */
  connectionInitTimeout: 4408,
} as const;

/**
 * The default `shouldRetry`: every close the relay may recover from (restart 1001, slow
 * client 1013, an abnormal drop 1006) is retried, and so is a network error (Deno reports a
 * dropped connection as an error event before the close); a refused key (4403) is not, since
 * the same credentials cannot succeed later.
 */
export function shouldRetryRelayClose(errOrCloseEvent: unknown): boolean {
  if (!isLikeCloseEvent(errOrCloseEvent)) return true;
  return errOrCloseEvent.code !== RELAY_CLOSE_CODES.forbidden;
}

/**
 * The default `retryWait`: exponential backoff with full jitter, from 250 ms up to 30 s, so a
 * fleet of clients does not reconnect in lockstep when a relay restarts.
 */
export function jitteredBackoff(retries: number): Promise<void> {
  const cap = Math.min(30_000, 250 * 2 ** retries);
  return new Promise((resolve) => setTimeout(resolve, 250 + Math.random() * cap));
}

/** Options of {@link createResumingClient}: graphql-ws's, with resuming defaults. */
export interface ResumingClientOptions extends ClientOptions, ResumingOptions {}

/**
 * A graphql-ws client with resuming defaults: retries for ever
 * (`retryAttempts: Infinity`; graphql-ws's default of 5 gives up during a slow deploy),
 * {@link shouldRetryRelayClose}, {@link jitteredBackoff}, wrapped by {@link resuming}.
 * Every option can still be overridden.
 */
export function createResumingClient(options: ResumingClientOptions): Client {
  const { cursorVariable, resumeOnComplete, ...rest } = options;
  const client = createClient({
    retryAttempts: Infinity,
    shouldRetry: shouldRetryRelayClose,
    retryWait: jitteredBackoff,
    ...rest,
  });
  return resuming(client, {
    ...(cursorVariable === undefined ? {} : { cursorVariable }),
    ...(resumeOnComplete === undefined ? {} : { resumeOnComplete }),
  });
}

/** Options of {@link resuming}. */
export interface ResumingOptions {
  /** The variable that carries the cursor (default `after`). */
  cursorVariable?: string;
  /**
   * Subscribe again (from the cursor) when the relay completes a subscription the app did
   * not end, as it does for every subscription when it shuts down (default true).
   */
  resumeOnComplete?: boolean;
}

/** Completes in a row, with no event between them, still taken as a relay restart. */
const MAX_RESUMED_COMPLETES = 3;
/**
 * How long after a `complete` the socket must close for it to count as a shutdown: the
 * relay closes (1001) right after completing every subscription.
 */
const SHUTDOWN_CLOSE_MS = 5_000;

/**
 * Wraps an existing graphql-ws `Client` (for example one passed to Apollo's `GraphQLWsLink`
 * or urql's `subscriptionExchange`) so its subscriptions resume exactly. The result is a
 * drop-in `Client`.
 */
export function resuming(client: Client, options: ResumingOptions = {}): Client {
  const variable = options.cursorVariable ?? "after";
  const resumeOnComplete = options.resumeOnComplete ?? true;
  // Whether the client's socket is open, and who waits for it to close.
  let socketOpen = false;
  let onClose: (() => void)[] = [];
  client.on("connected", () => (socketOpen = true));
  client.on("closed", () => {
    socketOpen = false;
    const waiters = onClose;
    onClose = [];
    for (const wake of waiters) wake();
  });
  /** Resolves true once the socket has closed, false if it stays open for `ms`. */
  const closedWithin = (ms: number) =>
    new Promise<boolean>((resolve) => {
      if (!socketOpen) return resolve(true);
      const timer = setTimeout(() => {
        onClose = onClose.filter((w) => w !== wake);
        resolve(false);
      }, ms);
      const wake = () => {
        clearTimeout(timer);
        resolve(true);
      };
      onClose.push(wake);
    });
  const declares = new RegExp(`\\$${variable}\\s*:`);
  const subscribe = <Data = Record<string, unknown>, Extensions = unknown>(
    payload: SubscribePayload,
    sink: Sink<FormattedExecutionResult<Data, Extensions>>,
  ): () => void => {
    if (!declares.test(payload.query)) return client.subscribe(payload, sink);
    const initial = payload.variables?.[variable];
    let cursor = typeof initial === "string" ? initial : undefined;
    let ended = false;
    let dispose: (() => void) | undefined;
    const expire = (errors: readonly WireError[]) => {
      ended = true;
      dispose?.();
      sink.error(new CursorExpiredError(cursor, errors));
    };
    // graphql-ws stringifies this same object on every (re)subscribe, so a getter makes each
    // retry carry the newest cursor instead of the one the subscription started with.
    const resumed: SubscribePayload = { ...payload };
    Object.defineProperty(resumed, "variables", {
      enumerable: true,
      get: () =>
        cursor === undefined ? payload.variables : { ...payload.variables, [variable]: cursor },
    });
    // Relay subscriptions are endless streams: a `complete` the app did not ask for means the
    // relay is shutting down (it completes every subscription, then closes with 1001). Those
    // are resumed on the next connection; a run of completes with no event between them is
    // taken as a real end.
    let completes = 0;
    const start = () => {
      dispose = client.subscribe<Data, Extensions>(resumed, inner);
    };
    const inner: Sink<FormattedExecutionResult<Data, Extensions>> = {
      next: (result) => {
        if (ended) return;
        completes = 0;
        const expired = expiredErrors(result.errors);
        if (expired) return expire(expired);
        const next = cursorIn(result.data);
        if (next !== undefined) cursor = next;
        sink.next(result);
      },
      error: (err) => {
        if (ended) return;
        const expired = Array.isArray(err) ? expiredErrors(err) : undefined;
        if (expired) return expire(expired);
        ended = true;
        sink.error(err);
      },
      complete: () => {
        if (ended) return;
        const finish = () => {
          ended = true;
          sink.complete();
        };
        if (!resumeOnComplete || completes++ >= MAX_RESUMED_COMPLETES) return finish();
        // Resubscribing on the socket of a relay that is shutting down would only be
        // completed again: wait for that socket to close, then subscribe on the next one.
        closedWithin(SHUTDOWN_CLOSE_MS).then((closed) => {
          if (ended) return;
          if (closed) start();
          else finish();
        });
      },
    };
    start();
    return () => {
      ended = true;
      dispose?.();
    };
  };
  return {
    on: client.on,
    dispose: () => client.dispose(),
    terminate: () => client.terminate(),
    subscribe,
    iterate: <Data = Record<string, unknown>, Extensions = unknown>(request: SubscribePayload) =>
      iterate<Data, Extensions>((sink) => subscribe(request, sink)),
  } as Client;
}

/** The newest cursor in a result: the root field's `cursor`, else its `id`. */
export function cursorIn(data: unknown): string | undefined {
  if (!data || typeof data !== "object") return undefined;
  for (const value of Object.values(data)) {
    if (!value || typeof value !== "object") continue;
    const { cursor, id } = value as { cursor?: unknown; id?: unknown };
    if (typeof cursor === "string") return cursor;
    if (typeof id === "string") return id;
  }
  return undefined;
}

function expiredErrors(errors: readonly unknown[] | undefined): WireError[] | undefined {
  const list = (errors ?? []) as WireError[];
  return list.some((e) => e?.extensions?.code === "CURSOR_EXPIRED") ? list : undefined;
}

function isLikeCloseEvent(value: unknown): value is { code: number; reason: string } {
  return typeof value === "object" && value !== null && "code" in value && "reason" in value;
}

/** graphql-ws's `iterate`, over the resuming `subscribe`. */
function iterate<Data, Extensions>(
  start: (sink: Sink<FormattedExecutionResult<Data, Extensions>>) => () => void,
): AsyncIterableIterator<FormattedExecutionResult<Data, Extensions>> {
  const pending: FormattedExecutionResult<Data, Extensions>[] = [];
  let done = false;
  let failure: { error: unknown } | undefined;
  let wake: () => void = () => {};
  const dispose = start({
    next: (value) => {
      pending.push(value);
      wake();
    },
    error: (error) => {
      failure = { error };
      done = true;
      wake();
    },
    complete: () => {
      done = true;
      wake();
    },
  });
  const iterator: AsyncIterableIterator<FormattedExecutionResult<Data, Extensions>> = {
    async next() {
      while (pending.length === 0 && !done) {
        await new Promise<void>((resolve) => (wake = resolve));
      }
      if (pending.length > 0) return { done: false, value: pending.shift()! };
      if (failure) {
        const { error } = failure;
        failure = undefined;
        throw error;
      }
      return { done: true, value: undefined };
    },
    return() {
      done = true;
      dispose();
      wake();
      return Promise.resolve({ done: true, value: undefined });
    },
    [Symbol.asyncIterator]() {
      return iterator;
    },
  };
  return iterator;
}
