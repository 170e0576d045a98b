/**
 * Kazoo end to end: the relay against the Kazoo simulator (Crossbar auth + blackhole) over
 * real loopback sockets, with a real graphql-ws client. Covers auth, binding filtering,
 * refcounted subscribe/unsubscribe, BAD_FILTER isolation, paced replay after reconnect,
 * token expiry, keepalive, malformed frames and the cross-vendor `events` field.
 */
import { assert, assertEquals, assertStringIncludes } from "@std/assert";
import { createKazooSimulator, type KazooSimulator } from "../src/simulators/kazoo/simulator.ts";
import { connectClient } from "./helpers/gql_client.ts";
import { type SourceStatus, sourceStatus, startRelay, waitFor } from "./helpers/relay.ts";

const KAZOO_SUB = `subscription($accountId: ID, $bindings: [String!]!) {
  kazooEvents(accountId: $accountId, bindings: $bindings) {
    id type key subject time
    ... on KazooEvent { name accountId routingKey binding callId data }
  }
}`;
type KazooRow = {
  kazooEvents: {
    type: string;
    key: string | null;
    subject: string | null;
    name: string;
    accountId: string | null;
    routingKey: string;
    binding: string;
    callId: string | null;
    data: Record<string, unknown>;
  };
};

const FAST = { reconnect: { baseMs: 20, maxMs: 100 } };
const ACME = "3a3c5b8e1c2d4f6a8b0c9d7e5f4a3b21";

function source(url: string, name = "voip"): Promise<SourceStatus> {
  return sourceStatus(url, name);
}

/** Client actions the simulator received (parsed), across all connections. */
function actions(sim: KazooSimulator, action?: string): Record<string, unknown>[] {
  return sim.server.frames().map((f) => JSON.parse(f) as Record<string, unknown>)
    .filter((f) => action === undefined || f.action === action);
}

function bindingsOf(sim: KazooSimulator): string[] {
  const conn = [...sim.server.connections].at(-1);
  return conn ? [...new Set(sim.subscriptions(conn.id).map((s) => s.binding))] : [];
}

function hasBinding(sim: KazooSimulator, ...bindings: string[]): boolean {
  const have = bindingsOf(sim);
  return bindings.every((b) => have.includes(b));
}

Deno.test("kazooEvents authenticates, filters by binding and account, and maps fields", async (t) => {
  await using sim = createKazooSimulator();
  await sim.start();
  await using relay = await startRelay([sim.sourceConfig("voip")]);
  await using client = connectClient(relay.wsUrl);

  const creates = client.subscribe<KazooRow>(KAZOO_SUB, { bindings: ["call.CHANNEL_CREATE.*"] });
  const allCalls = client.subscribe<KazooRow>(KAZOO_SUB, { bindings: ["call.*.*"] });
  const hashTail = client.subscribe<KazooRow>(KAZOO_SUB, { bindings: ["call.CHANNEL_ANSWER.#"] });
  const overlap = client.subscribe<KazooRow>(KAZOO_SUB, {
    bindings: ["call.CHANNEL_CREATE.*", "call.*.*"],
  });
  const users = client.subscribe<KazooRow>(KAZOO_SUB, { bindings: ["object.doc_created.user"] });
  const acme = client.subscribe<KazooRow>(KAZOO_SUB, { accountId: ACME, bindings: ["call.*.*"] });
  await waitFor(
    () =>
      hasBinding(sim, "call.CHANNEL_CREATE.*", "call.*.*", "call.CHANNEL_ANSWER.#") &&
      hasBinding(sim, "object.doc_created.user") &&
      sim.subscriptions([...sim.server.connections][0]!.id).some((s) => s.key.includes(ACME)),
    "subscriptions",
  );
  // No subprotocol on the upgrade (blackhole answers 400 to one): the socket opened at all.
  assertEquals([...sim.server.connections][0]?.headers.get("sec-websocket-protocol"), null);

  sim.emitCall({
    event: "CHANNEL_CREATE",
    callId: "c1@10.0.0.1",
    data: { "Caller-ID-Name": "Ann" },
  });
  sim.emitCall({ event: "CHANNEL_ANSWER", callId: "c1@10.0.0.1" });
  sim.emitObject({ action: "doc_created", type: "user", id: "u1" });
  sim.emitObject({ action: "doc_created", type: "device", id: "d1" });
  sim.emitCall({ accountId: ACME, event: "CHANNEL_DESTROY", callId: "acme-1" });
  sim.emitCall({ event: "CHANNEL_DESTROY", callId: "c1@10.0.0.1" });

  await t.step("exact event", async () => {
    const rows = await creates.waitForCount(1);
    const e = rows[0]!.kazooEvents;
    assertEquals(e.type, "CHANNEL_CREATE");
    assertEquals(e.name, "CHANNEL_CREATE");
    assertEquals(e.key, "c1@10.0.0.1");
    assertEquals(e.callId, "c1@10.0.0.1");
    assertEquals(e.subject, "Ann");
    assertEquals(e.accountId, sim.accountId);
    assertEquals(e.binding, "call.CHANNEL_CREATE.*");
    assertEquals(e.routingKey, `call.${sim.accountId}.CHANNEL_CREATE.c1@10%2E0%2E0%2E1`);
    assertEquals(e.data.caller_id_name, "Ann");
  });
  await t.step("* in every slot, and # at the end", async () => {
    const rows = await allCalls.waitForCount(3);
    assertEquals(rows.map((r) => r.kazooEvents.type), [
      "CHANNEL_CREATE",
      "CHANNEL_ANSWER",
      "CHANNEL_DESTROY",
    ]);
    const answered = await hashTail.waitForCount(1);
    assertEquals(answered[0]?.kazooEvents.binding, "call.CHANNEL_ANSWER.#");
  });
  await t.step("overlapping bindings of one subscription deliver each event once", async () => {
    const rows = await overlap.waitForCount(3);
    assertEquals(rows.map((r) => r.kazooEvents.type), [
      "CHANNEL_CREATE",
      "CHANNEL_ANSWER",
      "CHANNEL_DESTROY",
    ]);
  });
  await t.step("documents and sub-accounts", async () => {
    const docs = await users.waitForCount(1);
    assertEquals(docs[0]?.kazooEvents.key, "u1");
    assertEquals(docs[0]?.kazooEvents.type, "doc_created");
    assertEquals(docs[0]?.kazooEvents.accountId, sim.accountId);
    const sub = await acme.waitForCount(1);
    assertEquals(sub[0]?.kazooEvents.accountId, ACME);
    assertEquals(sub[0]?.kazooEvents.key, "acme-1");
  });
  await t.step("nothing else was delivered", async () => {
    sim.emitCall({ event: "CHANNEL_CREATE", callId: "c2" });
    sim.emitObject({ action: "doc_created", type: "user", id: "u2" });
    await creates.waitForCount(2);
    await users.waitForCount(2);
    await overlap.waitForCount(4);
    await allCalls.waitForCount(4);
    assertEquals(allCalls.results.length, 4);
    assertEquals(hashTail.results.length, 1);
    assertEquals(acme.results.length, 1);
    assertEquals(overlap.results.length, 4);
  });
  const status = await source(relay.httpUrl);
  assertEquals(status.state, "READY");
  assert(status.interest.includes(`call.*.* on ${ACME}`), status.interest.join());
});

Deno.test("refused credentials leave the source in BACKOFF with a secret-free lastError", async () => {
  await using sim = createKazooSimulator();
  await sim.start();
  sim.rejectCredentials = true;
  const md5 = sim.credentials;
  await using relay = await startRelay(
    [{ ...sim.sourceConfig("voip"), credentials: { env: "KAZOO_MD5" }, ...FAST }],
    { env: { KAZOO_MD5: md5 } },
  );
  await waitFor(async () => {
    const s = await source(relay.httpUrl);
    return s.state === "BACKOFF" && s.lastError !== null;
  }, "BACKOFF with lastError");
  const status = await source(relay.httpUrl);
  assertStringIncludes(status.lastError ?? "", "refused the credentials (HTTP 401)");
  assert(!(JSON.stringify(status) + relay.logs.join("\n")).includes(md5), "credentials leaked");
  assertEquals(sim.server.connections.size, 0, "no socket without a token");

  // Credentials accepted again: the next attempt connects.
  sim.rejectCredentials = false;
  await waitFor(async () => (await source(relay.httpUrl)).state === "READY", "READY");
});

Deno.test("api_auth with an API key", async () => {
  await using sim = createKazooSimulator();
  await sim.start();
  const { credentials: _c, accountName: _a, ...base } = sim.sourceConfig("voip");
  const apiKey = sim.accounts[0]!.apiKey!;
  await using relay = await startRelay([{ ...base, apiKey }]);
  await using client = connectClient(relay.wsUrl);
  const calls = client.subscribe<KazooRow>(KAZOO_SUB, { bindings: ["call.*.*"] });
  await waitFor(() => hasBinding(sim, "call.*.*"), "subscribe");
  sim.emitCall({ event: "CHANNEL_CREATE", callId: "k1" });
  assertEquals((await calls.waitForCount(1))[0]?.kazooEvents.key, "k1");
  assert(!relay.logs.join("\n").includes(apiKey));
});

Deno.test("identical subscriptions share one subscribe; unsubscribe after the last", async () => {
  await using sim = createKazooSimulator();
  await sim.start();
  await using relay = await startRelay([{ ...sim.sourceConfig("voip"), resumeWindowMs: 0 }]);
  await using a = connectClient(relay.wsUrl);
  await using b = connectClient(relay.wsUrl);
  const subA = a.subscribe<KazooRow>(KAZOO_SUB, { bindings: ["object.*.*"] });
  // A different document, so the relay cannot share one stream between A and B.
  const subB = b.subscribe(`subscription { kazooEvents(bindings: ["object.*.*"]) { id } }`);
  // Named explicitly, the default account is the same upstream (account, binding) pair.
  const subC = b.subscribe<KazooRow>(KAZOO_SUB, {
    accountId: sim.accountId,
    bindings: ["object.*.*"],
  });
  await waitFor(async () => (await source(relay.httpUrl)).subscribers === 3, "3 subscribers");
  await waitFor(() => hasBinding(sim, "object.*.*"), "subscribe");
  sim.emitObject({ action: "doc_edited", type: "device", id: "d1" });
  await subA.waitForCount(1);
  await subB.waitForCount(1);
  await subC.waitForCount(1);
  const subscribes = () => actions(sim, "subscribe").length;
  const unsubscribes = () => actions(sim, "unsubscribe").length;
  assertEquals(subscribes(), 1);
  assertEquals((await source(relay.httpUrl)).interest, [`object.*.* on ${sim.accountId}`]);

  subA.stop();
  subC.stop();
  await waitFor(async () => (await source(relay.httpUrl)).subscribers === 1, "A and C to leave");
  assertEquals(unsubscribes(), 0);
  subB.stop();
  await waitFor(() => !hasBinding(sim, "object.*.*"), "unsubscribe after the last");
  assertEquals(unsubscribes(), 1);
  assertEquals((await source(relay.httpUrl)).interest, []);
});

Deno.test("a refused binding fails only its own subscriptions with BAD_FILTER", async () => {
  await using sim = createKazooSimulator();
  await sim.start();
  await using relay = await startRelay([{ ...sim.sourceConfig("voip"), resumeWindowMs: 0 }]);
  await using client = connectClient(relay.wsUrl);
  const good = client.subscribe<KazooRow>(KAZOO_SUB, { bindings: ["call.*.*"] });
  const bad = client.subscribe<KazooRow>(KAZOO_SUB, { bindings: ["call.NO_SUCH_EVENT.*"] });
  const mixed = client.subscribe<KazooRow>(KAZOO_SUB, {
    bindings: ["call.CHANNEL_CREATE.*", "call.NO_SUCH_EVENT.*"],
  });
  const foreign = client.subscribe<KazooRow>(KAZOO_SUB, {
    accountId: "ffffffffffffffffffffffffffffffff",
    bindings: ["call.*.*"],
  });
  await bad.waitForEnd();
  await mixed.waitForEnd();
  await foreign.waitForEnd();
  assertEquals(bad.errorCodes, ["BAD_FILTER"]);
  assertEquals(mixed.errorCodes, ["BAD_FILTER"]);
  assertEquals(foreign.errorCodes, ["BAD_FILTER"]);
  assertStringIncludes(JSON.stringify(bad.error), "event NO_SUCH_EVENT not supported");
  assertStringIncludes(JSON.stringify(foreign.error), "unauthorized account id");

  await waitFor(() => hasBinding(sim, "call.*.*"), "the good binding");
  sim.emitCall({ event: "CHANNEL_CREATE", callId: "still-here" });
  assertEquals((await good.waitForCount(1))[0]?.kazooEvents.key, "still-here");
  assertEquals(good.completed, false);
  // The mixed subscription's good binding was released with it.
  await waitFor(() => !hasBinding(sim, "call.CHANNEL_CREATE.*"), "released binding");

  await (async () => {
    for (const bindings of [["call..*"], ["call.CHANNEL CREATE.*"], [""], ["call"], []]) {
      const early = client.subscribe(KAZOO_SUB, { bindings });
      await early.waitForEnd();
      assertEquals(early.errorCodes, ["BAD_FILTER"], JSON.stringify(bindings));
    }
  })();
  assertEquals(actions(sim, "subscribe").some((f) => JSON.stringify(f).includes("..")), false);
});

Deno.test("reconnect re-subscribes 150 bindings paced under the rate limit", async () => {
  // The simulator refills ten times faster than blackhole so the test stays quick; the
  // relay keeps its burst of 50 against the real bucket size of 100.
  await using sim = createKazooSimulator({ rateLimit: { capacity: 100, refillPerSecond: 100 } });
  await sim.start();
  await using relay = await startRelay([
    { ...sim.sourceConfig("voip"), ...FAST, pacing: { burst: 50, perSecond: 40 } },
  ]);
  await using client = connectClient(relay.wsUrl);
  const bindings = Array.from({ length: 150 }, (_, i) => `call.CHANNEL_CREATE.call-${i}`);
  const many = client.subscribe<KazooRow>(KAZOO_SUB, { bindings });
  await waitFor(() => bindingsOf(sim).length === 150, "150 subscriptions", 10_000);
  assertEquals(sim.rateLimited, 0);

  const before = actions(sim, "subscribe").length;
  sim.server.dropConnections();
  await waitFor(async () => (await source(relay.httpUrl)).reconnects >= 1, "a reconnect");
  await waitFor(() => bindingsOf(sim).length === 150, "150 re-subscriptions", 10_000);
  assertEquals(actions(sim, "subscribe").length - before, 150);
  assertEquals(sim.rateLimited, 0, "the relay tripped blackhole's rate limit");
  sim.emitCall({ event: "CHANNEL_CREATE", callId: "call-149" });
  assertEquals((await many.waitForCount(1))[0]?.kazooEvents.binding, bindings[149]);
  assertEquals(many.completed, false);
});

Deno.test("an expired token is replaced on reconnect and every subscription survives", async () => {
  await using sim = createKazooSimulator();
  await sim.start();
  await using relay = await startRelay([{ ...sim.sourceConfig("voip"), ...FAST }]);
  await using client = connectClient(relay.wsUrl);
  const calls = client.subscribe<KazooRow>(KAZOO_SUB, { bindings: ["call.*.*"] });
  const docs = client.subscribe<KazooRow>(KAZOO_SUB, { bindings: ["object.doc_deleted.*"] });
  await waitFor(() => hasBinding(sim, "call.*.*", "object.doc_deleted.*"), "subscriptions");
  const firstToken = String(actions(sim, "ping")[0]?.auth_token);

  // The pinned socket keeps working after expiry (blackhole never re-checks) …
  sim.expireAllTokens();
  sim.emitCall({ event: "CHANNEL_CREATE", callId: "before" });
  await calls.waitForCount(1);
  // … but a new socket needs a valid token: the relay's cached one is refused.
  sim.server.dropConnections();
  await waitFor(async () => (await source(relay.httpUrl)).reconnects >= 1, "a reconnect");
  await waitFor(() => hasBinding(sim, "call.*.*", "object.doc_deleted.*"), "re-subscribed");
  const tokens = new Set(actions(sim, "ping").map((f) => f.auth_token).filter(Boolean));
  assert(tokens.size >= 2, "a fresh token was fetched");
  assert(relay.logs.some((l) => l.includes("fetching a fresh one")));
  assert(!relay.logs.join("\n").includes(firstToken), "the refused token was logged");

  sim.emitCall({ event: "CHANNEL_DESTROY", callId: "after" });
  sim.emitObject({ action: "doc_deleted", type: "user", id: "gone" });
  assertEquals((await calls.waitForCount(2))[1]?.kazooEvents.key, "after");
  assertEquals((await docs.waitForCount(1))[0]?.kazooEvents.key, "gone");
  assertEquals(calls.completed || docs.completed, false);
  assertEquals((await source(relay.httpUrl)).state, "READY");
});

Deno.test("keepalive pings stay inside the idle timeout", async () => {
  await using sim = createKazooSimulator({ idleTimeoutMs: 400 });
  await sim.start();
  await using relay = await startRelay([{ ...sim.sourceConfig("voip"), keepaliveMs: 100 }]);
  await waitFor(async () => (await source(relay.httpUrl)).state === "READY", "READY");
  await waitFor(() => actions(sim, "ping").length >= 8, "keepalive pings", 5000);
  assertEquals(sim.idleClosed, 0);
  assertEquals((await source(relay.httpUrl)).reconnects, 0);
});

Deno.test("only unroutable frames are dropped and counted; sparse events still arrive", async () => {
  await using sim = createKazooSimulator();
  await sim.start();
  await using relay = await startRelay([sim.sourceConfig("voip")]);
  await using client = connectClient(relay.wsUrl);
  const calls = client.subscribe<KazooRow>(KAZOO_SUB, { bindings: ["call.*.*"] });
  await waitFor(() => hasBinding(sim, "call.*.*"), "subscribe");
  sim.sendRaw("{not json");
  sim.sendRaw(JSON.stringify({ action: "event", name: "X" })); // no subscribed_key
  sim.sendRaw(JSON.stringify({ action: "surprise" }));
  // Only the binding routes an event: no routing_key, no data, still delivered.
  sim.sendRaw(JSON.stringify({ action: "event", subscribed_key: "call.*.*", name: "X" }));
  sim.emitCall({ event: "CHANNEL_CREATE", callId: "ok" });
  const rows = await calls.waitForCount(2);
  assertEquals(rows.map((r) => r.kazooEvents.key), [null, "ok"]);
  const status = await source(relay.httpUrl);
  assertEquals(status.framesDropped, 3);
  assertEquals(status.state, "READY");
  assertEquals(status.eventsReceived, 2);
  assert(relay.logs.some((l) => l.includes("dropped upstream frame") && l.includes("not JSON")));
});

Deno.test("events(vendors: [KAZOO], types) subscribes only what the types need", async () => {
  await using sim = createKazooSimulator();
  await sim.start();
  await using relay = await startRelay([sim.sourceConfig("voip")]);
  await using client = connectClient(relay.wsUrl);
  const EVENTS = `subscription($types: [String!]) {
    events(vendors: [KAZOO], types: $types) { type key ... on KazooEvent { binding } }
  }`;
  type Row = { events: { type: string; key: string; binding: string } };
  const creates = client.subscribe<Row>(EVENTS, { types: ["CHANNEL_CREATE", "doc_edited"] });
  await waitFor(() => hasBinding(sim, "call.CHANNEL_CREATE.*", "object.doc_edited.*"), "bindings");
  assertEquals(bindingsOf(sim).toSorted(), ["call.CHANNEL_CREATE.*", "object.doc_edited.*"]);
  const everything = client.subscribe<Row>(EVENTS, {});
  await waitFor(() => hasBinding(sim, "call.*.*", "object.*.*"), "catch-all bindings");

  sim.emitCall({ event: "CHANNEL_ANSWER", callId: "a" });
  sim.emitCall({ event: "CHANNEL_CREATE", callId: "b" });
  sim.emitObject({ action: "doc_edited", type: "user", id: "u" });
  const rows = await creates.waitForCount(2);
  assertEquals(rows.map((r) => `${r.events.type}/${r.events.key}`), [
    "CHANNEL_CREATE/b",
    "doc_edited/u",
  ]);
  const all = await everything.waitForCount(3);
  assertEquals(all.map((r) => r.events.key), ["a", "b", "u"]);
  sim.emitCall({ event: "CHANNEL_CREATE", callId: "c" });
  await everything.waitForCount(4);
  await creates.waitForCount(3);
  assertEquals(everything.results.length, 4);
});
