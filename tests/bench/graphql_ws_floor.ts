/**
 * What graphql-ws's server core alone keeps per subscribed connection: `makeServer` with
 * in-memory sockets (no Deno WebSocket, no relay code), each acknowledged and holding one
 * subscription to a stream that never yields. The JS heap grown per connection, after a
 * full GC, is the part of the relay's per-connection memory that comes with the library.
 *
 * Usage: `deno run --allow-env --v8-flags=--expose-gc tests/bench/graphql_ws_floor.ts [n]`
 *
 * @module
 */
import { buildSchema, parse } from "graphql";
import { makeServer } from "graphql-ws";

const gc = (globalThis as { gc?: () => void }).gc;
if (!gc) throw new Error("run with --v8-flags=--expose-gc");
const n = Number(Deno.args[0]) || 2000;

const schema = buildSchema("type Query { x: Int } type Subscription { tick: Int }");
const document = parse("subscription { tick }");
/** A stream that never yields: the subscription stays open, as an idle one does. */
const never = (): AsyncIterableIterator<{ data: { tick: number } }> => ({
  [Symbol.asyncIterator]() {
    return this;
  },
  next: () => new Promise(() => {}),
  return: () => Promise.resolve({ done: true as const, value: undefined }),
});
const server = makeServer({
  schema,
  onSubscribe: () => ({ schema, document }),
  subscribe: () => never(),
});

const settle = async () => {
  for (let i = 0; i < 3; i++) {
    gc();
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
};

const held: unknown[] = [];
await settle();
const before = Deno.memoryUsage().heapUsed;
for (let i = 0; i < n; i++) {
  let onMessage: (data: string) => Promise<void> = async () => {};
  const closed = server.opened({
    protocol: "graphql-transport-ws",
    send: () => {},
    close: () => {},
    onMessage: (cb) => (onMessage = cb),
  }, { i });
  await onMessage(JSON.stringify({ type: "connection_init", payload: {} }));
  void onMessage(
    JSON.stringify({ id: "1", type: "subscribe", payload: { query: "subscription { tick }" } }),
  );
  held.push(closed);
}
await settle();
const after = Deno.memoryUsage().heapUsed;
// deno-lint-ignore no-console
console.log(
  `graphql-ws server core: ${((after - before) / n / 1024).toFixed(2)} KB of JS heap per ` +
    `subscribed connection (n=${n}, ${held.length} held)`,
);
