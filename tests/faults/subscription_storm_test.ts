/**
 * Fault: a subscription storm past the limits. Extra subscriptions on one socket fail with
 * LIMIT_EXCEEDED while the first ones keep working; a key opening subscriptions faster than
 * `subscriptionsPerMinute` gets RATE_LIMITED; over-deep and over-aliased operations fail
 * validation with LIMIT_EXCEEDED. No socket is closed for any of it.
 */
import { assert, assertEquals } from "@std/assert";
import { createDrpSimulator } from "../../src/simulators/drp/simulator.ts";
import { type Collector, connectClient } from "../helpers/gql_client.ts";
import { DRP_SUB, drpRegistered, type DrpRow, FaultFigures } from "../helpers/fault_kit.ts";
import { httpQuery, startRelay, waitFor } from "../helpers/relay.ts";

const figures = new FaultFigures("subscription_storm");

function partition(subs: Collector<DrpRow>[]) {
  const failed = subs.filter((s) => s.completed);
  const open = subs.filter((s) => !s.completed);
  return { failed, open };
}

Deno.test("more than maxSubscriptionsPerSocket on one socket: extras LIMIT_EXCEEDED, the rest work", async () => {
  await using sim = createDrpSimulator();
  await sim.start();
  await using relay = await startRelay([sim.sourceConfig("lab")], {
    logLevel: "warn",
    config: { server: { limits: { maxSubscriptionsPerSocket: 5 } } },
  });
  await using client = connectClient(relay.wsUrl);
  const subs = Array.from(
    { length: 8 },
    (_, i) => client.subscribe<DrpRow>(DRP_SUB, { type: "machines", key: `k${i}` }),
  );
  await waitFor(() => partition(subs).failed.length === 3, "3 refusals");
  await waitFor(() => relay.app.hub.subscriberCount("lab") === 5, "5 attached");
  const { failed, open } = partition(subs);
  for (const s of failed) assertEquals(s.errorCodes, ["LIMIT_EXCEEDED"]);
  await waitFor(() => sim.sessions()[0]?.filters.length === 5, "5 registrations");
  for (let i = 0; i < 8; i++) sim.emit({ Type: "machines", Action: "save", Key: `k${i}` });
  for (const s of open) {
    const [row] = await s.waitForCount(1);
    assert(row?.drpEvents.key.startsWith("k"));
  }
  assertEquals(open.reduce((n, s) => n + s.results.length, 0), 5);
  // A freed slot can be used again.
  open[0]!.stop();
  await waitFor(() => relay.app.hub.subscriberCount("lab") === 4, "one released");
  const again = client.subscribe<DrpRow>(DRP_SUB, { type: "jobs" });
  await waitFor(() => drpRegistered(sim, "jobs.*.*"), "the freed slot reused");
  assertEquals(again.completed, false);
  assertEquals(relay.app.ws.stats.open, 1, "the socket stayed open");

  figures.add("faultsInjected", 3);
  figures.add("limitExceeded", failed.length);
  figures.delivered(open.reduce((n, s) => n + s.results.length, 0), 5);
});

Deno.test("more anonymous subscriptions than one address's burst: RATE_LIMITED", async () => {
  await using sim = createDrpSimulator();
  await sim.start();
  await using relay = await startRelay([sim.sourceConfig("lab")], {
    logLevel: "warn",
    config: {
      server: { limits: { addressSubscriptionBurst: 6, addressSubscriptionsPerMinute: 6 } },
    },
  });
  await using a = connectClient(relay.wsUrl);
  await using b = connectClient(relay.wsUrl);
  const subs = Array.from(
    { length: 10 },
    (_, i) => (i % 2 ? a : b).subscribe<DrpRow>(DRP_SUB, { type: "machines", key: `k${i}` }),
  );
  await waitFor(() => partition(subs).failed.length === 4, "4 refusals");
  await waitFor(() => relay.app.hub.subscriberCount("lab") === 6, "6 attached");
  const { failed, open } = partition(subs);
  for (const s of failed) assertEquals(s.errorCodes, ["RATE_LIMITED"]);
  assertEquals(relay.app.ws.stats.rateLimited, 4);
  await waitFor(() => sim.sessions()[0]?.filters.length === 6, "6 registrations");
  for (let i = 0; i < 10; i++) sim.emit({ Type: "machines", Action: "save", Key: `k${i}` });
  for (const s of open) await s.waitForCount(1);
  // Queries are not subscriptions: HTTP keeps answering.
  const res = await httpQuery(relay.httpUrl, "{ sources { name state } }");
  assertEquals(res.errors, undefined);

  figures.add("faultsInjected", 4);
  figures.add("rateLimited", failed.length);
  figures.delivered(open.reduce((n, s) => n + s.results.length, 0), 6);
});

Deno.test("over-deep and over-aliased operations fail validation with LIMIT_EXCEEDED", async () => {
  await using sim = createDrpSimulator();
  await sim.start();
  await using relay = await startRelay([sim.sourceConfig("lab")], {
    logLevel: "warn",
    config: { server: { limits: { maxDepth: 2, maxAliases: 3 } } },
  });
  await using client = connectClient(relay.wsUrl);
  const ok = client.subscribe<DrpRow>(DRP_SUB, {});
  const deep = client.subscribe(`subscription { drpEvents { id { a { b { c } } } } }`);
  const aliased = client.subscribe(
    `subscription { drpEvents { a: id b: id c: id d: id e: key } }`,
  );
  await deep.waitForEnd();
  await aliased.waitForEnd();
  assert(deep.errorCodes.includes("LIMIT_EXCEEDED"), JSON.stringify(deep.error));
  assertEquals(aliased.errorCodes, ["LIMIT_EXCEEDED"]);
  const httpDeep = await httpQuery(
    relay.httpUrl,
    "{ a: sources { name } b: sources { name } c: sources { name } d: sources { name } }",
  );
  assertEquals(httpDeep.errors?.map((e) => e.extensions?.code), ["LIMIT_EXCEEDED"]);

  await waitFor(() => drpRegistered(sim), "the valid one registered");
  sim.emit({ Type: "machines", Action: "save", Key: "k" });
  assertEquals((await ok.waitForCount(1))[0]?.drpEvents.key, "k");
  assertEquals(ok.completed, false);

  figures.add("faultsInjected", 3);
  figures.delivered(ok.results.length, 1);
});

Deno.test("subscription_storm figures", () => figures.print());
