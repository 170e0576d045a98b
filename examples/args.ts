/**
 * Command-line arguments the examples share: the relay's WebSocket URL, an optional API key
 * (`RELAY_API_KEY`), and how many events to print before exiting (0: run until stopped).
 *
 * @module
 */

/** What the examples are told to do. */
export interface ExampleArgs {
  /** ws(s)://host:port/graphql */
  wsUrl: string;
  /** http(s)://host:port/graphql, for queries and mutations. */
  httpUrl: string;
  apiKey: string | undefined;
  /** DRP event type to follow. */
  type: string;
  /** Exit after this many events; 0 runs until stopped. */
  count: number;
}

/** Parses `[ws-url] [--type T] [--count N]`. */
export function parseArgs(args: readonly string[]): ExampleArgs {
  let wsUrl = "ws://localhost:8080/graphql";
  let type = "machines";
  let count = 0;
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!;
    if (arg === "--type") type = args[++i] ?? type;
    else if (arg === "--count") count = Number(args[++i] ?? 0);
    else wsUrl = arg;
  }
  return {
    wsUrl,
    httpUrl: wsUrl.replace(/^ws/, "http"),
    apiKey: Deno.env.get("RELAY_API_KEY"),
    type,
    count,
  };
}

/** Writes one line of JSON to stdout (what the tests read). */
export function emit(line: unknown): void {
  Deno.stdout.writeSync(new TextEncoder().encode(JSON.stringify(line) + "\n"));
}
