/**
 * DRP end to end: the relay against the DRP simulator over real loopback sockets, with a
 * real graphql-ws client. Covers filtering, registration refcounting, reconnect, bad input,
 * replay, and TLS with a private CA.
 */
import { assert, assertEquals, assertStringIncludes } from "@std/assert";
import { createDrpSimulator, type DrpSimulator } from "../src/simulators/drp/simulator.ts";
import { connectClient } from "./helpers/gql_client.ts";
import {
  httpQuery,
  type SourceStatus,
  sourceStatus,
  startRelay,
  waitFor,
} from "./helpers/relay.ts";

const DRP_SUB = `subscription($type: String, $action: String, $key: String, $after: ID) {
  drpEvents(type: $type, action: $action, key: $key, after: $after) {
    id type action key subject actor time
    ... on DrpEvent { object original principal }
  }
}`;

type DrpEventRow = {
  id: string;
  type: string;
  action: string;
  key: string;
  subject: string | null;
  actor: string | null;
  object: unknown;
  principal: string;
};
type DrpRow = { drpEvents: DrpEventRow };

const FAST = { reconnect: { baseMs: 20, maxMs: 100 } };
/** Interest goes the moment its last subscriber does (the resume window is tested apart). */
const NO_WINDOW = { resumeWindowMs: 0 };

function source(url: string, name = "lab"): Promise<SourceStatus> {
  return sourceStatus(url, name);
}

/** Commands the simulator received, across all its connections. */
function commands(sim: DrpSimulator): string[] {
  return sim.server.frames().filter((f) => /^(de)?register /.test(f));
}

function hasFilter(sim: DrpSimulator, filter: string): boolean {
  return sim.sessions().some((s) => s.filters.includes(filter));
}

Deno.test("drpEvents filters by type, action and key", async (t) => {
  await using sim = createDrpSimulator();
  await sim.start();
  await using relay = await startRelay([sim.sourceConfig("lab")]);
  await using client = connectClient(relay.wsUrl);

  const profiles = client.subscribe<DrpRow>(DRP_SUB, { type: "profiles" });
  const saves = client.subscribe<DrpRow>(DRP_SUB, { action: "save" });
  const oneMachine = client.subscribe<DrpRow>(DRP_SUB, { type: "machines", key: "m-2.lab" });
  await waitFor(
    () =>
      hasFilter(sim, "profiles.*.*") && hasFilter(sim, "*.save.*") &&
      hasFilter(sim, "machines.*.m-2.lab"),
    "registrations",
  );

  sim.emit({ Type: "machines", Action: "update", Key: "m-1", Object: { Name: "m1" } });
  sim.emit({ Type: "profiles", Action: "save", Key: "global", Object: { Name: "global" } });
  sim.emit({ Type: "machines", Action: "save", Key: "m-2.lab", Object: { Name: "m2" } });
  sim.emit({ Type: "params", Action: "create", Key: "bar", Principal: "user:alice" });

  await t.step("type", async () => {
    const [row] = await profiles.waitForCount(1);
    assertEquals(row?.drpEvents.type, "profiles");
    assertEquals(row?.drpEvents.subject, "global");
  });
  await t.step("action", async () => {
    const rows = await saves.waitForCount(2);
    assertEquals(rows.map((r) => `${r.drpEvents.type}/${r.drpEvents.key}`), [
      "profiles/global",
      "machines/m-2.lab",
    ]);
  });
  await t.step("key containing dots", async () => {
    const [row] = await oneMachine.waitForCount(1);
    assertEquals(row?.drpEvents.key, "m-2.lab");
    assertEquals(row?.drpEvents.action, "save");
  });
  await t.step("nothing else was delivered", async () => {
    // One more event that all three would see proves earlier extras would have arrived first.
    sim.emit({ Type: "profiles", Action: "save", Key: "z" });
    await saves.waitForCount(3);
    await profiles.waitForCount(2);
    assertEquals(profiles.results.length, 2);
    assertEquals(oneMachine.results.length, 1);
  });
  await t.step("mapping: actor from Principal, object and principal fields", async () => {
    const all = client.subscribe<DrpRow>(DRP_SUB, { type: "params" });
    await waitFor(() => hasFilter(sim, "params.*.*"), "params registration");
    sim.emit({
      Type: "params",
      Action: "create",
      Key: "baz",
      Object: { Name: "baz" },
      Principal: "user:bob",
    });
    const [row] = await all.waitForCount(1);
    assertEquals(row?.drpEvents.actor, "user:bob");
    assertEquals(row?.drpEvents.principal, "user:bob");
    assertEquals(row?.drpEvents.object, { Name: "baz" });
  });
});

Deno.test("identical patterns share one register; deregister goes out once, after the last", async () => {
  await using sim = createDrpSimulator();
  await sim.start();
  await using relay = await startRelay([{ ...sim.sourceConfig("lab"), ...NO_WINDOW }]);
  await using a = connectClient(relay.wsUrl);
  await using b = connectClient(relay.wsUrl);

  const subA = a.subscribe<DrpRow>(DRP_SUB, { type: "machines" });
  const subB = b.subscribe<DrpRow>(DRP_SUB, { type: "machines" });
  const other = b.subscribe<DrpRow>(DRP_SUB, { type: "jobs", action: "create" });
  await waitFor(
    () => hasFilter(sim, "machines.*.*") && hasFilter(sim, "jobs.create.*"),
    "registers",
  );
  sim.emit({ Type: "machines", Action: "create", Key: "m1" });
  await subA.waitForCount(1);
  await subB.waitForCount(1);
  assertEquals(commands(sim).filter((c) => c === "register machines.*.*").length, 1);
  assertEquals(commands(sim).filter((c) => c === "register jobs.create.*").length, 1);

  // A and B run the same document and variables, so they share one stream (one hub
  // subscriber); A leaving only removes a member from that shared stream.
  assertEquals((await source(relay.httpUrl)).subscribers, 2);
  assertEquals(relay.app.ws.shared.memberCount, 3);
  subA.stop();
  await waitFor(() => relay.app.ws.shared.memberCount === 2, "A to leave");
  assertEquals(commands(sim).filter((c) => c.startsWith("deregister machines")).length, 0);
  sim.emit({ Type: "machines", Action: "update", Key: "m1" });
  await subB.waitForCount(2);

  subB.stop();
  await waitFor(() => !hasFilter(sim, "machines.*.*"), "deregister after the last one");
  assertEquals(commands(sim).filter((c) => c === "deregister machines.*.*").length, 1);
  assert(hasFilter(sim, "jobs.create.*"), "the other pattern keeps its registration");
  assertEquals((await source(relay.httpUrl)).interest, ["jobs.create.*"]);
  other.stop();
  await waitFor(() => sim.sessions()[0]?.filters.length === 0, "all deregistered");
});

Deno.test("without a resume window, a closed client socket releases its registrations at once", async () => {
  await using sim = createDrpSimulator();
  await sim.start();
  await using relay = await startRelay([{ ...sim.sourceConfig("lab"), ...NO_WINDOW }]);
  const client = connectClient(relay.wsUrl);
  client.subscribe<DrpRow>(DRP_SUB, { type: "leases" });
  await waitFor(() => hasFilter(sim, "leases.*.*"), "register");
  await client.close();
  await waitFor(() => !hasFilter(sim, "leases.*.*"), "deregister on socket close");
});

Deno.test("reconnects with backoff, re-registers everything, and keeps subscriptions", async () => {
  await using sim = createDrpSimulator();
  await sim.start();
  await using relay = await startRelay([{ ...sim.sourceConfig("lab"), ...FAST }]);
  await using client = connectClient(relay.wsUrl);
  const machines = client.subscribe<DrpRow>(DRP_SUB, { type: "machines" });
  const jobs = client.subscribe<DrpRow>(DRP_SUB, { type: "jobs", action: "update" });
  await waitFor(
    () => hasFilter(sim, "machines.*.*") && hasFilter(sim, "jobs.update.*"),
    "registers",
  );

  // Outage 1: the server drops every socket but keeps listening.
  sim.server.dropConnections();
  await waitFor(async () => (await source(relay.httpUrl)).reconnects >= 1, "a reconnect");
  await waitFor(
    () => hasFilter(sim, "machines.*.*") && hasFilter(sim, "jobs.update.*"),
    "re-registered",
  );
  sim.emit({ Type: "machines", Action: "update", Key: "after-drop" });
  assertEquals((await machines.waitForCount(1))[0]?.drpEvents.key, "after-drop");

  // Outage 2: the server goes away entirely, then comes back on the same port.
  await sim.stop();
  await waitFor(async () => (await source(relay.httpUrl)).state === "BACKOFF", "BACKOFF");
  await sim.start();
  await waitFor(
    () => hasFilter(sim, "machines.*.*") && hasFilter(sim, "jobs.update.*"),
    "re-registered",
  );
  await waitFor(async () => (await source(relay.httpUrl)).state === "READY", "READY");
  sim.emit({ Type: "machines", Action: "delete", Key: "after-restart" });
  sim.emit({ Type: "jobs", Action: "update", Key: "j1" });
  const rows = await machines.waitForCount(2);
  assertEquals(rows[1]?.drpEvents.key, "after-restart");
  assertEquals((await jobs.waitForCount(1))[0]?.drpEvents.key, "j1");
  assertEquals(machines.completed, false);
  const status = await source(relay.httpUrl);
  assert(status.reconnects >= 2, `reconnects: ${status.reconnects}`);
  assertEquals(status.interest.toSorted(), ["jobs.update.*", "machines.*.*"]);
});

Deno.test("malformed and schema-invalid frames are dropped and counted", async () => {
  await using sim = createDrpSimulator();
  await sim.start();
  await using relay = await startRelay([sim.sourceConfig("lab")]);
  await using client = connectClient(relay.wsUrl);
  const all = client.subscribe<DrpRow>(DRP_SUB, {});
  await waitFor(() => hasFilter(sim, "*.*.*"), "register");
  sim.sendRaw("{not json");
  sim.sendRaw(JSON.stringify({ Time: "x", Type: 7, Action: "create" }));
  sim.emit({ Type: "machines", Action: "create", Key: "ok" });
  const [row] = await all.waitForCount(1);
  assertEquals(row?.drpEvents.key, "ok");
  const status = await source(relay.httpUrl);
  assertEquals(status.framesDropped, 2);
  assertEquals(status.state, "READY");
  assertEquals(status.eventsReceived, 1);
  assert(relay.logs.some((l) => l.includes("dropped upstream frame") && l.includes("not JSON")));
  assertEquals(all.results.length, 1);
});

Deno.test("a wrong token leaves the source in BACKOFF with a secret-free lastError", async () => {
  await using sim = createDrpSimulator({ tokens: ["good-token-123"] });
  await sim.start();
  const secret = "wrong-token-s3cr3t";
  await using relay = await startRelay([
    { name: "lab", kind: "drp", url: sim.url, token: { env: "DRP_TOKEN" }, ...FAST },
  ], { env: { DRP_TOKEN: secret } });
  await waitFor(async () => {
    const s = await source(relay.httpUrl);
    return s.state === "BACKOFF" && s.lastError !== null;
  }, "BACKOFF with lastError");
  const status = await source(relay.httpUrl);
  assertStringIncludes(status.lastError ?? "", "HTTP 403");
  const everything = JSON.stringify(status) + relay.logs.join("\n");
  assert(!everything.includes(secret), "the token leaked");
  assert(!everything.includes(encodeURIComponent(secret)));
  assert(sim.server.refused >= 1);
});

Deno.test("basic auth in the header, and the ?token= query mode", async (t) => {
  await using sim = createDrpSimulator();
  await sim.start();
  await t.step("Basic user:pass in the header", async () => {
    await using relay = await startRelay([sim.sourceConfig("lab")]);
    await waitFor(async () => (await source(relay.httpUrl)).state === "READY", "READY");
    assertEquals(sim.sessions().at(-1)?.via, "header");
    assertEquals(sim.sessions().at(-1)?.auth, "basic");
  });
  await t.step("query mode sends ?token=", async () => {
    await using relay = await startRelay([{ ...sim.sourceConfig("lab"), authMode: "query" }]);
    await waitFor(async () => (await source(relay.httpUrl)).state === "READY", "READY");
    assertEquals(sim.sessions().at(-1)?.via, "query");
  });
});

Deno.test("after: replays newer matching events then goes live; an old cursor is CURSOR_EXPIRED", async () => {
  await using sim = createDrpSimulator();
  await sim.start();
  await using relay = await startRelay([
    { ...sim.sourceConfig("lab"), history: 5, standing: ["*.*.*"] },
  ]);
  await waitFor(() => hasFilter(sim, "*.*.*"), "standing registration");
  for (const key of ["m1", "p1", "m2", "m3"]) {
    sim.emit({ Type: key.startsWith("m") ? "machines" : "profiles", Action: "save", Key: key });
  }
  await waitFor(async () => (await source(relay.httpUrl)).eventsReceived === 4, "4 events");
  const recent = await httpQuery<{ recentEvents: { id: string; key: string }[] }>(
    relay.httpUrl,
    `{ recentEvents(limit: 10) { id key } }`,
  );
  const ids = recent.data!.recentEvents.toReversed();
  assertEquals(ids.map((e) => e.key), ["m1", "p1", "m2", "m3"]);

  await using client = connectClient(relay.wsUrl);
  const resumed = client.subscribe<DrpRow>(DRP_SUB, { type: "machines", after: ids[0]!.id });
  const replayed = await resumed.waitForCount(2);
  assertEquals(replayed.map((r) => r.drpEvents.key), ["m2", "m3"]);
  sim.emit({ Type: "profiles", Action: "save", Key: "p2" });
  sim.emit({ Type: "machines", Action: "save", Key: "m4" });
  const live = await resumed.waitForCount(3);
  assertEquals(live.map((r) => r.drpEvents.key), ["m2", "m3", "m4"]);

  // Two more events push m1 (the oldest) out of the 5-event ring.
  sim.emit({ Type: "machines", Action: "save", Key: "m5" });
  sim.emit({ Type: "machines", Action: "save", Key: "m6" });
  await resumed.waitForCount(5);
  const expired = client.subscribe<DrpRow>(DRP_SUB, { after: ids[0]!.id });
  await expired.waitForEnd();
  assertEquals(expired.errorCodes, ["CURSOR_EXPIRED"]);
  assertEquals(expired.data.length, 0);

  const foreign = client.subscribe<DrpRow>(DRP_SUB, { after: "lab:zzzz0000:1" });
  await foreign.waitForEnd();
  assertEquals(foreign.errorCodes, ["CURSOR_EXPIRED"]);
});

Deno.test("bad arguments and unknown sources are errors with codes", async () => {
  await using sim = createDrpSimulator();
  await sim.start();
  await using relay = await startRelay([sim.sourceConfig("lab"), sim.sourceConfig("lab2")]);
  await using client = connectClient(relay.wsUrl);
  const ambiguous = client.subscribe(DRP_SUB, {});
  await ambiguous.waitForEnd();
  assertEquals(ambiguous.errorCodes, ["AMBIGUOUS_SOURCE"]);
  const unknown = client.subscribe(`subscription { drpEvents(source: "nope") { id } }`);
  await unknown.waitForEnd();
  assertEquals(unknown.errorCodes, ["UNKNOWN_SOURCE"]);
  const bad = client.subscribe(`subscription { drpEvents(source: "lab", type: "a.b") { id } }`);
  await bad.waitForEnd();
  assertEquals(bad.errorCodes, ["BAD_FILTER"]);
});

Deno.test("servers without register acknowledgements (pre-2018) still work", async () => {
  await using sim = createDrpSimulator({ acks: false });
  await sim.start();
  await using relay = await startRelay([{
    ...sim.sourceConfig("lab"),
    ackTimeoutMs: 100,
    ...NO_WINDOW,
  }]);
  await using client = connectClient(relay.wsUrl);
  const machines = client.subscribe<DrpRow>(DRP_SUB, { type: "machines" });
  const jobs = client.subscribe<DrpRow>(DRP_SUB, { type: "jobs" });
  await waitFor(() => hasFilter(sim, "machines.*.*") && hasFilter(sim, "jobs.*.*"), "registers");
  sim.emit({ Type: "machines", Action: "create", Key: "m1" });
  await machines.waitForCount(1);
  jobs.stop();
  await waitFor(() => !hasFilter(sim, "jobs.*.*"), "deregister");
  sim.emit({ Type: "machines", Action: "create", Key: "m2" });
  await machines.waitForCount(2);
  assert(relay.logs.some((l) => l.includes("sends no register acknowledgements")));
});

Deno.test("wss with a private CA given as caFile", async () => {
  const fixture = (name: string) => new URL(`./fixtures/tls/${name}`, import.meta.url);
  await using sim = createDrpSimulator({
    tls: {
      cert: Deno.readTextFileSync(fixture("localhost.pem")),
      key: Deno.readTextFileSync(fixture("localhost.key")),
    },
  });
  await sim.start();
  const { caCert: _unused, ...config } = sim.sourceConfig("lab");
  await using relay = await startRelay([{ ...config, caFile: fixture("ca.pem").pathname }]);
  await waitFor(async () => (await source(relay.httpUrl)).state === "READY", "READY over wss");
  await using client = connectClient(relay.wsUrl);
  const all = client.subscribe<DrpRow>(DRP_SUB, {});
  await waitFor(() => hasFilter(sim, "*.*.*"), "register");
  sim.emit({ Type: "machines", Action: "create", Key: "tls" });
  assertEquals((await all.waitForCount(1))[0]?.drpEvents.key, "tls");
});
