/**
 * Starts a real relay on a loopback port for end-to-end tests, with logs captured so tests
 * can assert on them (and grep them for secrets).
 *
 * @module
 */
import { type App, createApp } from "../../src/app.ts";
import { parseConfig } from "../../src/config.ts";
import { createLogger, type LogLevel } from "../../src/platform/log.ts";
import { createRedactor } from "../../src/platform/redact.ts";

/** A relay listening on loopback. */
export interface TestRelay extends AsyncDisposable {
  app: App;
  /** http://127.0.0.1:port/graphql */
  httpUrl: string;
  /** ws://127.0.0.1:port/graphql */
  wsUrl: string;
  origin: string;
  /** Every log line written so far. */
  logs: string[];
  close(): Promise<void>;
}

/** Options for {@link startRelay}. */
export interface StartRelayOptions {
  /** Extra top-level config (server, logLevel). */
  config?: Record<string, unknown>;
  env?: Record<string, string>;
  logLevel?: LogLevel;
}

/** Parses `sources` like the real config, wires the app, and serves it on port 0. */
export async function startRelay(
  sources: Record<string, unknown>[],
  options: StartRelayOptions = {},
): Promise<TestRelay> {
  const env = options.env ?? {};
  const { config, secrets } = parseConfig(
    { ...options.config, sources },
    (name) => env[name],
  );
  const logs: string[] = [];
  const log = createLogger({
    level: options.logLevel ?? "debug",
    redact: createRedactor(secrets),
    sink: (_level, line) => logs.push(line),
  });
  const app = createApp({ config, secrets, log });
  app.start();
  const { promise: listening, resolve } = Promise.withResolvers<void>();
  const server = Deno.serve(
    { port: 0, hostname: "127.0.0.1", onListen: () => resolve() },
    app.fetch,
  );
  await listening;
  const origin = `http://127.0.0.1:${server.addr.port}`;
  const path = config.server.graphqlPath;
  const close = async () => {
    await app.close();
    await server.shutdown();
  };
  return {
    app,
    origin,
    httpUrl: `${origin}${path}`,
    wsUrl: `${origin.replace("http", "ws")}${path}`,
    logs,
    close,
    [Symbol.asyncDispose]: close,
  };
}

/** Polls `check` until it returns a truthy value, or fails after `timeoutMs`. */
export async function waitFor<T>(
  check: () => T | Promise<T>,
  what: string,
  timeoutMs = 5000,
): Promise<NonNullable<T>> {
  const deadline = Date.now() + timeoutMs;
  while (true) {
    const value = await check();
    if (value) return value as NonNullable<T>;
    if (Date.now() > deadline) {
      throw new Error(`Timed out after ${timeoutMs} ms waiting for ${what}`);
    }
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** POSTs a GraphQL query over HTTP. */
export async function httpQuery<T = Record<string, unknown>>(
  url: string,
  query: string,
  variables: Record<string, unknown> = {},
  headers: Record<string, string> = {},
): Promise<{ data?: T; errors?: { message: string; extensions?: { code?: string } }[] }> {
  const res = await fetch(url, {
    method: "POST",
    headers: { "content-type": "application/json", ...headers },
    body: JSON.stringify({ query, variables }),
  });
  return await res.json();
}

const SOURCE_QUERY = `query($name: String!) {
  source(name: $name) {
    state lastError reconnects eventsReceived framesDropped interest subscribers
  }
}`;

/** What the `Source` type reports. */
export interface SourceStatus {
  state: string;
  lastError: string | null;
  reconnects: number;
  eventsReceived: number;
  framesDropped: number;
  interest: string[];
  subscribers: number;
}

/** The status of one source, over HTTP (so the relay's HTTP side is exercised too). */
export async function sourceStatus(httpUrl: string, name: string): Promise<SourceStatus> {
  const res = await httpQuery<{ source: SourceStatus }>(httpUrl, SOURCE_QUERY, { name });
  if (!res.data?.source) throw new Error(`source(${name}) failed: ${JSON.stringify(res.errors)}`);
  return res.data.source;
}

/** Waits until the source's status satisfies `check`; returns that status. */
export function waitForSource(
  httpUrl: string,
  name: string,
  check: (s: SourceStatus) => boolean,
  what: string,
  timeoutMs = 5000,
): Promise<SourceStatus> {
  return waitFor(
    async () => {
      const s = await sourceStatus(httpUrl, name);
      return check(s) ? s : undefined;
    },
    `${name}: ${what}`,
    timeoutMs,
  );
}
