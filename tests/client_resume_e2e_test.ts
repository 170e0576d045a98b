/**
 * Client apps end to end: the resuming graphql-ws helper (client/mod.ts) and the Apollo and
 * urql examples (examples/), each against a live relay: the client's connection is cut
 * mid-stream, then the relay node it is connected to is restarted (a cluster on a real
 * redis-server, so events outlive the process) while events keep flowing. Every event must
 * arrive exactly once and in order; the figures are printed for the closing note.
 */
import { assert, assertEquals, assertInstanceOf } from "@std/assert";
import { createResumingClient, CursorExpiredError, resuming } from "../client/mod.ts";
import { type Client, createClient } from "graphql-ws";
import { createDrpSimulator } from "../src/simulators/drp/simulator.ts";
import {
  type ReconnectFigures,
  runExample,
  runReconnectScenario,
  type ScenarioClient,
} from "./helpers/reconnect_scenario.ts";
import { startRelay, waitFor } from "./helpers/relay.ts";
import { startTcpProxy } from "./helpers/tcp_proxy.ts";
import { redisAvailable, startRedis } from "./helpers/redis_server.ts";

const withRedis = redisAvailable("relay-restart reconnect tests (tests/client_resume_e2e_test.ts)");

/** Runs `fn` with a fresh redis-server, as a Deno.test that needs one. */
function restartTest(
  name: string,
  fn: (redis: Awaited<ReturnType<typeof startRedis>>) => Promise<void>,
) {
  Deno.test({
    name,
    ignore: !withRedis,
    // node-redis keeps sockets and timers a little past quit().
    sanitizeOps: false,
    sanitizeResources: false,
    fn: async () => {
      await using redis = await startRedis();
      await fn(redis);
    },
  });
}

const FOLLOW = `subscription Follow($type: String, $after: ID) {
  drpEvents(type: $type, after: $after) { id type key }
}`;
type Row = { drpEvents: { id: string; key: string } };

const quickRetry = () => new Promise<void>((r) => setTimeout(r, 50));

function report(name: string, f: ReconnectFigures): void {
  // deno-lint-ignore no-console
  console.log(
    `reconnect figures ${name}: sent ${f.sent}, received ${f.received}, duplicated ` +
      `${f.duplicated}, missing ${f.missing}, in order ${f.inOrder}, connections ${f.connections}` +
      `, relay restarts ${f.restarts}`,
  );
}

function assertExact(f: ReconnectFigures): void {
  assertEquals(
    { received: f.received, duplicated: f.duplicated, missing: f.missing, inOrder: f.inOrder },
    { received: f.sent, duplicated: 0, missing: 0, inOrder: true },
  );
  assert(f.connections >= 3, `the client reconnected twice (${f.connections} connections)`);
  assertEquals(f.restarts, withRedis ? 1 : 0, "the relay was restarted mid-stream");
}

/** The resuming helper following `query`; `keyOf` reads the event key of a result. */
function helperClient(
  wsUrl: string,
  query = FOLLOW,
  variables: Record<string, unknown> = { type: "machines" },
  keyOf = (data: Record<string, unknown>) => (data as Row).drpEvents.key,
): ScenarioClient {
  const client = createResumingClient({ url: wsUrl, retryWait: quickRetry });
  const keys: string[] = [];
  const errors: unknown[] = [];
  const stop = client.subscribe<Record<string, unknown>>({ query, variables }, {
    next: (r) => r.data && keys.push(keyOf(r.data)),
    error: (e) => errors.push(e),
    complete: () => {},
  });
  return {
    keys,
    close: async () => {
      stop();
      await client.dispose();
      assertEquals(errors, []);
    },
  };
}

restartTest(
  "graphql-ws with the resuming helper: a cut socket and a relay restart cost no event, repeat none",
  async (redis) => {
    const figures = await runReconnectScenario(async ({ wsUrl }) => await helperClient(wsUrl), {
      restart: redis,
    });
    report("graphql-ws (client/mod.ts)", figures);
    assertExact(figures);
  },
);

const FOLLOW_ALL = `subscription FollowAll($after: ID) {
  events(sources: ["lab"], types: ["machines"], after: $after) { cursor key }
}`;
type EventsRow = { events: { cursor: string; key: string } };

restartTest(
  "the resuming helper on events: its composite cursor resumes the cut and the restart exactly",
  async (redis) => {
    const figures = await runReconnectScenario(
      ({ wsUrl }) =>
        Promise.resolve(
          helperClient(wsUrl, FOLLOW_ALL, {}, (data) => (data as EventsRow).events.key),
        ),
      { restart: redis },
    );
    report("graphql-ws (client/mod.ts) on events", figures);
    assertExact(figures);
  },
);

Deno.test("plain graphql-ws re-sends its first payload: the same cuts lose events", async () => {
  const figures = await runReconnectScenario(({ wsUrl }) => {
    const client = createClient({ url: wsUrl, retryWait: quickRetry, shouldRetry: () => true });
    const keys: string[] = [];
    const stop = client.subscribe<Row>({ query: FOLLOW, variables: { type: "machines" } }, {
      next: (r) => r.data && keys.push(r.data.drpEvents.key),
      error: () => {},
      complete: () => {},
    });
    return Promise.resolve({
      keys,
      close: async () => {
        stop();
        await client.dispose();
      },
    });
  }, { timeoutMs: 3000 });
  report("graphql-ws without the helper", figures);
  assert(figures.missing > 0, "without resuming, events sent while away are lost");
});

restartTest(
  "Apollo Client example (GraphQLWsLink in a split link): exactly once, in order",
  async (redis) => {
    const figures = await runReconnectScenario(({ wsUrl }) => {
      const run = runExample("apollo", { wsUrl, httpUrl: wsUrl.replace(/^ws/, "http") });
      return Promise.resolve(run);
    }, { timeoutMs: 60_000, restart: redis });
    report("Apollo Client (examples/apollo.ts)", figures);
    assertExact(figures);
  },
);

restartTest("urql example (subscriptionExchange): exactly once, in order", async (redis) => {
  const figures = await runReconnectScenario(({ wsUrl }) => {
    const run = runExample("urql", { wsUrl, httpUrl: wsUrl.replace(/^ws/, "http") });
    return Promise.resolve(run);
  }, { timeoutMs: 60_000, restart: redis });
  report("urql (examples/urql.ts)", figures);
  assertExact(figures);
});

Deno.test("a cursor the relay no longer holds ends the subscription with CursorExpiredError", async (t) => {
  await using sim = createDrpSimulator();
  await sim.start();
  await using relay = await startRelay([{ ...sim.sourceConfig("lab"), history: 3 }], {
    logLevel: "warn",
  });
  const clients: Client[] = [];
  const fresh = () => {
    clients.push(resuming(createClient({ url: relay.wsUrl, retryAttempts: 0 })));
    return clients.at(-1)!;
  };
  await t.step("from the first subscribe", async () => {
    const client = fresh();
    const { promise, resolve } = Promise.withResolvers<unknown>();
    client.subscribe({ query: FOLLOW, variables: { after: "lab:nope:1" } }, {
      next: () => {},
      error: resolve,
      complete: () => resolve("completed"),
    });
    const err = await promise as CursorExpiredError;
    assertInstanceOf(err, CursorExpiredError);
    assertEquals(err.code, "CURSOR_EXPIRED");
    assertEquals(err.cursor, "lab:nope:1");
  });
  await t.step("through iterate()", async () => {
    const client = fresh();
    const it = client.iterate({ query: FOLLOW, variables: { after: "lab:nope:2" } });
    const err = await it.next().then(() => undefined, (e) => e);
    assertInstanceOf(err, CursorExpiredError);
  });
  await t.step("operations without $after pass through untouched", async () => {
    const client = fresh();
    const it = client.iterate<{ drpEvents: { key: string } }>({
      query: `subscription { drpEvents { key } }`,
    });
    await waitFor(() => sim.sessions().some((s) => s.filters.includes("*.*.*")), "register");
    sim.emit({ Type: "machines", Action: "update", Key: "plain" });
    const first = await it.next();
    assertEquals(first.value?.data?.drpEvents.key, "plain");
    await it.return?.();
  });
  for (const c of clients) await c.dispose();
});

Deno.test("a relay restart without shared storage surfaces as CursorExpiredError, not a gap", async () => {
  await using sim = createDrpSimulator();
  await sim.start();
  const source = { ...sim.sourceConfig("lab"), standing: ["*.*.*"] };
  let relay = await startRelay([source], { logLevel: "warn" });
  await using proxy = startTcpProxy(Number(new URL(relay.httpUrl).port));
  const client = createResumingClient({
    url: `ws://127.0.0.1:${proxy.port}/graphql`,
    retryWait: quickRetry,
  });
  const keys: string[] = [];
  const { promise: ended, resolve } = Promise.withResolvers<unknown>();
  client.subscribe<Row>({ query: FOLLOW, variables: { type: "machines" } }, {
    next: (r) => r.data && keys.push(r.data.drpEvents.key),
    error: resolve,
    complete: () => resolve("completed"),
  });
  try {
    await waitFor(() => sim.sessions().length === 1 && relay.app.hub, "relay up");
    await waitFor(
      async () => {
        sim.emit({ Type: "machines", Action: "update", Key: "before" });
        await new Promise((r) => setTimeout(r, 50));
        return keys.includes("before");
      },
      "an event before the restart",
      20_000,
    );
    await relay.close();
    relay = await startRelay([source], { logLevel: "warn" });
    proxy.retarget(Number(new URL(relay.httpUrl).port));
    // The new process's history starts afresh (a new epoch): the old cursor cannot resume.
    const err = await ended as CursorExpiredError;
    assertInstanceOf(err, CursorExpiredError);
    assert(err.cursor?.startsWith("lab:"), err.cursor);
  } finally {
    await client.dispose();
    await relay.close();
  }
});
