/**
 * A real graphql-ws client for tests, with subscriptions collected into queues that can be
 * awaited with timeouts, so no event is missed and nothing sleeps blindly.
 *
 * @module
 */
import { type Client, createClient } from "graphql-ws";

/** A formatted GraphQL error as received. */
export interface ReceivedError {
  message: string;
  extensions?: { code?: string };
}

/** The single error a refused subscription ended with (an `error` message or a result). */
export function refusal<T>(c: Collector<T>): { message: string; code: string | undefined } {
  const errors = [
    ...(Array.isArray(c.error) ? c.error as ReceivedError[] : []),
    ...c.results.flatMap((r) => r.errors ?? []),
  ];
  if (errors.length !== 1) throw new Error(`expected one error, got ${JSON.stringify(errors)}`);
  return { message: errors[0]!.message, code: errors[0]!.extensions?.code };
}

/** One subscription's received results. */
export class Collector<T = Record<string, unknown>> {
  readonly results: { data?: T; errors?: ReceivedError[] }[] = [];
  error: unknown;
  completed = false;
  #dispose: () => void = () => {};
  #notify: (() => void)[] = [];

  /** @internal */
  attach(dispose: () => void): void {
    this.#dispose = dispose;
  }

  /** @internal */
  push(result: { data?: T; errors?: ReceivedError[] }): void {
    this.results.push(result);
    this.#wake();
  }

  /** @internal */
  end(error?: unknown): void {
    if (error !== undefined) this.error = error;
    this.completed = true;
    this.#wake();
  }

  /** The data of every result so far. */
  get data(): T[] {
    return this.results.flatMap((r) => (r.data ? [r.data] : []));
  }

  /** Waits until `n` results arrived. */
  async waitForCount(n: number, timeoutMs = 5000): Promise<T[]> {
    await this.#until(() => this.results.length >= n, `${n} results`, timeoutMs);
    return this.data;
  }

  /** Waits for the subscription to end (complete or error). */
  async waitForEnd(timeoutMs = 5000): Promise<void> {
    await this.#until(() => this.completed, "the subscription to end", timeoutMs);
  }

  /** Ends the subscription from the client side (sends `complete`). */
  stop(): void {
    this.#dispose();
  }

  /** The error codes received (from an `error` message or `next` errors). */
  get errorCodes(): string[] {
    const fromError = Array.isArray(this.error)
      ? (this.error as ReceivedError[]).map((e) => e.extensions?.code ?? "")
      : [];
    const fromResults = this.results.flatMap((r) =>
      (r.errors ?? []).map((e) => e.extensions?.code ?? "")
    );
    return [...fromError, ...fromResults];
  }

  #wake(): void {
    const waiters = this.#notify;
    this.#notify = [];
    for (const w of waiters) w();
  }

  async #until(cond: () => boolean, what: string, timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!cond()) {
      const left = deadline - Date.now();
      if (left <= 0) {
        throw new Error(
          `Timed out waiting for ${what}; got ${this.results.length} results` +
            (this.error ? `, error ${JSON.stringify(this.error)}` : ""),
        );
      }
      let timer: ReturnType<typeof setTimeout> | undefined;
      await new Promise<void>((resolve) => {
        this.#notify.push(resolve);
        timer = setTimeout(resolve, Math.min(left, 100));
      });
      clearTimeout(timer);
    }
  }
}

/** A graphql-ws client that tests can dispose and await. */
export interface TestClient extends AsyncDisposable {
  client: Client;
  subscribe<T = Record<string, unknown>>(
    query: string,
    variables?: Record<string, unknown>,
  ): Collector<T>;
  /** Waits until the server acknowledged the connection. */
  connected(): Promise<void>;
  close(): Promise<void>;
}

/** Connects a graphql-ws client to `url`. */
export function connectClient(
  url: string,
  options: { connectionParams?: Record<string, unknown> } = {},
): TestClient {
  let socket: WebSocket | undefined;
  const { promise: acked, resolve: ack } = Promise.withResolvers<void>();
  const client = createClient({
    url,
    webSocketImpl: WebSocket,
    retryAttempts: 0,
    lazy: false,
    ...(options.connectionParams ? { connectionParams: options.connectionParams } : {}),
    on: {
      opened: (s) => {
        socket = s as WebSocket;
      },
      connected: () => ack(),
    },
    onNonLazyError: () => {},
  });
  const close = async () => {
    const s = socket;
    await client.dispose();
    if (s && s.readyState !== WebSocket.CLOSED) {
      await new Promise<void>((resolve) => {
        s.addEventListener("close", () => resolve(), { once: true });
        if (s.readyState === WebSocket.CLOSED) resolve();
      });
    }
  };
  return {
    client,
    connected: () => acked,
    subscribe<T>(query: string, variables: Record<string, unknown> = {}) {
      const collector = new Collector<T>();
      const dispose = client.subscribe<T>({ query, variables }, {
        next: (r) => collector.push(r as { data?: T; errors?: ReceivedError[] }),
        error: (e) => collector.end(e ?? "error"),
        complete: () => collector.end(),
      });
      collector.attach(dispose);
      return collector;
    },
    close,
    [Symbol.asyncDispose]: close,
  };
}
