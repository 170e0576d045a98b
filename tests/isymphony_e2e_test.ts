import { assert, assertEquals } from "@std/assert";
import {
  createISymphonySimulator,
  type ISymphonySimulator,
} from "../src/simulators/isymphony/simulator.ts";
import type { FilterEntry } from "../src/simulators/isymphony/messages.ts";
import { connectClient } from "./helpers/gql_client.ts";
import { httpQuery, startRelay, waitFor } from "./helpers/relay.ts";

const SUB = `subscription($filters: [ISymphonyFilter!], $after: ID) {
  isymphonyEvents(filters: $filters, after: $after) {
    id type key subject actor time properties username queue callSegmentId
  }
}`;

type Row = {
  isymphonyEvents: {
    id: string;
    type: string;
    key: string | null;
    subject: string | null;
    actor: string | null;
    time: string;
    properties: Record<string, unknown>;
    username: string | null;
    queue: string | null;
    callSegmentId: string | null;
  };
};

const SOURCE_QUERY = `{ source(name: "pbx") { state lastError interest framesDropped } }`;
type SourceRow = {
  source: { state: string; lastError: string | null; interest: string[]; framesDropped: number };
};

const FAST = { reconnect: { baseMs: 20, maxMs: 100 } };

function f(property: string, value: string): FilterEntry {
  return { property, value };
}

/** The filter set the simulator holds for the relay's (only) open connection. */
function held(sim: ISymphonySimulator): readonly FilterEntry[] | undefined {
  const conn = [...sim.server.connections][0];
  return conn ? sim.filters(conn.id) : undefined;
}

function waitForFilters(sim: ISymphonySimulator, expected: FilterEntry[], what: string) {
  return waitFor(() => JSON.stringify(held(sim)) === JSON.stringify(expected), what);
}

/** Every filter message the relay sent, in order. */
function filterFrames(
  sim: ISymphonySimulator,
): { correlationId: string; filters: FilterEntry[] }[] {
  return sim.server.received.map((r) => JSON.parse(r.data)).filter((m) => m.type === "filter");
}

async function startPair(extra: Record<string, unknown> = {}) {
  const sim = createISymphonySimulator();
  await sim.start();
  const relay = await startRelay([{ ...sim.sourceConfig("pbx"), ...FAST, ...extra }]);
  return {
    sim,
    relay,
    async [Symbol.asyncDispose]() {
      await relay.close();
      await sim.stop();
    },
  };
}

Deno.test("isymphonyEvents: two subscribers share one superset filter, each filtered exactly", async () => {
  await using pair = await startPair({ resumeWindowMs: 0 });
  const { sim, relay } = pair;
  await using client = connectClient(relay.wsUrl);
  // Nobody subscribed yet: the relay parks the connection on a filter that matches nothing.
  await waitForFilters(sim, [f("type", "relay.idle")], "idle filter");

  const a = client.subscribe<Row>(SUB, {
    filters: [f("type", "agentLogin"), f("queue", "Support")],
  });
  await waitForFilters(sim, [f("queue", "Support"), f("type", "agentLogin")], "A's filter");
  const b = client.subscribe<Row>(SUB, { filters: [f("type", "agentLogout")] });
  // DESIGN.md: `queue` is constrained by A only, so it is dropped; `type` by both: union.
  await waitForFilters(sim, [f("type", "agentLogin"), f("type", "agentLogout")], "superset");
  const frames = filterFrames(sim);
  assertEquals(frames.at(-1)?.filters, [f("type", "agentLogin"), f("type", "agentLogout")]);
  assertEquals(new Set(frames.map((m) => m.correlationId)).size, frames.length);
  const info = await httpQuery<SourceRow>(relay.httpUrl, SOURCE_QUERY);
  assertEquals(info.data?.source.interest, ["type=agentLogin", "type=agentLogout"]);

  assertEquals(sim.emit({ type: "agentLogin", username: "mike", queue: "Support" }).delivered, 1);
  // Passes the upstream superset but not A's queue constraint.
  assertEquals(sim.emit({ type: "agentLogin", username: "dave", queue: "Sales" }).delivered, 1);
  assertEquals(sim.emit({ type: "agentLogout", username: "mike", queue: "Sales" }).delivered, 1);
  // Outside the superset: never leaves the server.
  assertEquals(sim.emit({ type: "hangup" }).delivered, 0);
  sim.emit({ type: "agentLogin", username: "sarah", queue: "Support" });

  const [first, second] = await a.waitForCount(2);
  assertEquals(first?.isymphonyEvents.username, "mike");
  assertEquals(first?.isymphonyEvents.queue, "Support");
  assertEquals(first?.isymphonyEvents.subject, "Mike Young");
  assertEquals(first?.isymphonyEvents.actor, "mike");
  assertEquals(first?.isymphonyEvents.key, first?.isymphonyEvents.properties.agentId);
  assertEquals(second?.isymphonyEvents.username, "sarah");
  const [logout] = await b.waitForCount(1);
  assertEquals(logout?.isymphonyEvents.type, "agentLogout");
  assertEquals(a.results.length, 2);
  assertEquals(b.results.length, 1);

  // The set is recomputed whenever the subscriptions change.
  b.stop();
  await waitForFilters(sim, [f("queue", "Support"), f("type", "agentLogin")], "A's filter again");
  a.stop();
  await waitForFilters(sim, [f("type", "relay.idle")], "idle filter again");
});

Deno.test("isymphonyEvents: missing property, '*', OR within a property, AND across", async () => {
  await using pair = await startPair();
  const { sim, relay } = pair;
  await using client = connectClient(relay.wsUrl);
  const anyUser = client.subscribe<Row>(SUB, { filters: [f("username", "*")] });
  const logins = client.subscribe<Row>(SUB, {
    filters: [f("type", "userLogin"), f("type", "userLogout")],
  });
  const sarahIn = client.subscribe<Row>(SUB, {
    filters: [f("type", "userLogin"), f("username", "sarah")],
  });
  // No property is constrained by all three: upstream gets the documented "any type" filter.
  await waitForFilters(sim, [f("type", "*")], "all-events filter");

  // No username property at all: excluded even by `*` (delivered upstream, dropped locally).
  assertEquals(sim.emitProperties({ type: "custom", queue: "Support" }), 1);
  sim.emit({ type: "userLogin", username: "mike" });
  sim.emit({ type: "userLogout", username: "sarah" });
  sim.emit({ type: "userLogin", username: "sarah" });
  sim.emit({ type: "agentLogin", username: "sarah" });

  const any = await anyUser.waitForCount(4);
  assertEquals(any.map((r) => r.isymphonyEvents.type), [
    "userLogin",
    "userLogout",
    "userLogin",
    "agentLogin",
  ]);
  const either = await logins.waitForCount(3);
  assertEquals(either.map((r) => `${r.isymphonyEvents.type}:${r.isymphonyEvents.username}`), [
    "userLogin:mike",
    "userLogout:sarah",
    "userLogin:sarah",
  ]);
  const both = await sarahIn.waitForCount(1);
  assertEquals(both[0]?.isymphonyEvents.username, "sarah");
  assertEquals(both[0]?.isymphonyEvents.type, "userLogin");
  // A final event everyone takes proves nothing else was in flight.
  sim.emit({ type: "userLogout", username: "sarah" });
  await anyUser.waitForCount(5);
  await logins.waitForCount(4);
  assertEquals(sarahIn.results.length, 1);
});

Deno.test("isymphonyEvents: a refused filter ends only its subscribers with BAD_FILTER", async () => {
  await using pair = await startPair();
  const { sim, relay } = pair;
  sim.rejectFilters((m) =>
    m.filters.some((e) => e.value === "bogus") ? "Unknown event type: bogus" : undefined
  );
  await using client = connectClient(relay.wsUrl);
  const good = client.subscribe<Row>(SUB, { filters: [f("type", "hangup")] });
  await waitForFilters(sim, [f("type", "hangup")], "good filter");
  const bad = client.subscribe<Row>(SUB, { filters: [f("type", "bogus")] });
  await bad.waitForEnd();
  assertEquals(bad.errorCodes, ["BAD_FILTER"]);
  // The refused set was sent, then the accepted one again.
  await waitFor(() => filterFrames(sim).at(-1)?.filters.length === 1, "restored filter");
  const frames = filterFrames(sim);
  assertEquals(frames.at(-2)?.filters, [f("type", "bogus"), f("type", "hangup")]);
  assertEquals(frames.at(-1)?.filters, [f("type", "hangup")]);
  assertEquals(held(sim), [f("type", "hangup")]);

  const { event } = sim.emit({ type: "hangup" });
  const [row] = await good.waitForCount(1);
  assertEquals(row?.isymphonyEvents.callSegmentId, event.callSegmentId);
  assertEquals(row?.isymphonyEvents.key, event.callSegmentId);
  assert(!good.completed);
  const info = await httpQuery<SourceRow>(relay.httpUrl, SOURCE_QUERY);
  assertEquals(info.data?.source.interest, ["type=hangup"]);
  assert(relay.logs.some((l) => l.includes("Unknown event type: bogus")));
});

Deno.test("isymphonyEvents: after a reconnect the filter is sent again and events flow", async () => {
  await using pair = await startPair();
  const { sim, relay } = pair;
  await using client = connectClient(relay.wsUrl);
  const sub = client.subscribe<Row>(SUB, { filters: [f("type", "userStatus")] });
  await waitForFilters(sim, [f("type", "userStatus")], "filter");
  const firstConn = [...sim.server.connections][0]!.id;
  sim.server.dropConnections();
  await waitFor(() => [...sim.server.connections].some((c) => c.id !== firstConn), "reconnect");
  await waitForFilters(sim, [f("type", "userStatus")], "filter re-sent");
  // A fresh correlationId for the re-sent filter.
  const ids = filterFrames(sim).map((m) => m.correlationId);
  assertEquals(new Set(ids).size, ids.length);
  sim.emit({ type: "userStatus", username: "lena", statusType: "dnd" });
  const [row] = await sub.waitForCount(1);
  assertEquals(row?.isymphonyEvents.subject, "Lena Fischer");
  assertEquals(row?.isymphonyEvents.properties.statusType, "dnd");
  assert(!sub.completed);
  const info = await httpQuery<SourceRow>(relay.httpUrl, SOURCE_QUERY);
  assertEquals(info.data?.source.state, "READY");
});

Deno.test("isymphony auth: Basic credentials accepted; a wrong password is refused, never logged", async () => {
  await using sim = createISymphonySimulator();
  await sim.start();
  const secret = "not-the-Pa55word";
  await using relay = await startRelay([
    { ...sim.sourceConfig("pbx"), password: { env: "ISYM_PASSWORD" }, ...FAST },
  ], { env: { ISYM_PASSWORD: secret } });
  const row = await waitFor(async () => {
    const r = await httpQuery<SourceRow>(relay.httpUrl, SOURCE_QUERY);
    return r.data?.source.lastError?.includes("401") ? r.data.source : undefined;
  }, "auth failure");
  assert(row.state !== "READY");
  assertEquals(sim.server.accepted, 0);
  assert(sim.server.refused >= 1);
  assert(!relay.logs.some((l) => l.includes(secret) || l.includes(btoa(`manager:${secret}`))));

  // The right password connects (header on the upgrade), and idle interest is shown.
  await using sim2 = createISymphonySimulator();
  await sim2.start();
  await using ok = await startRelay([{ ...sim2.sourceConfig("pbx"), ...FAST }]);
  await waitForFilters(sim2, [f("type", "relay.idle")], "idle filter");
  const conn = [...sim2.server.connections][0]!;
  assertEquals(conn.headers.get("authorization"), `Basic ${btoa("manager:manag3rpa55word")}`);
  const info = await httpQuery<SourceRow>(ok.httpUrl, SOURCE_QUERY);
  assertEquals(info.data?.source.state, "READY");
  assertEquals(info.data?.source.interest, ["(no events: nobody subscribed)"]);
});

Deno.test("isymphony: only frames without a type are dropped; missing time still arrives", async () => {
  await using pair = await startPair({ standing: [[]] });
  const { sim, relay } = pair;
  await using client = connectClient(relay.wsUrl);
  const sub = client.subscribe<Row>(SUB, {});
  await waitForFilters(sim, [f("type", "*")], "all-events filter");
  sim.sendRaw("{not json");
  sim.sendRaw("[1,2]");
  sim.sendRaw(JSON.stringify({ time: 1, username: "no type" }));
  sim.sendRaw(JSON.stringify({ type: 7, time: 1 }));
  sim.sendRaw(JSON.stringify({ type: "hangup" })); // no time: the receive time stands in
  sim.sendRaw(JSON.stringify({ type: "error", correlationId: null })); // a reply, without text
  sim.emit({ type: "dial" });
  const rows = await sub.waitForCount(2);
  assertEquals(rows.map((r) => r.isymphonyEvents.type), ["hangup", "dial"]);
  const info = await waitFor(async () => {
    const r = await httpQuery<SourceRow>(relay.httpUrl, SOURCE_QUERY);
    return r.data?.source.framesDropped === 4 ? r.data.source : undefined;
  }, "4 dropped frames");
  assertEquals(info.interest, ["(all events)"]);
  assertEquals(info.state, "READY");
});

Deno.test("events(types:) registers a type filter upstream and returns ISymphonyEvent", async () => {
  await using pair = await startPair();
  const { sim, relay } = pair;
  await using client = connectClient(relay.wsUrl);
  const sub = client.subscribe<{ events: Record<string, unknown> }>(
    `subscription { events(vendors: [ISYMPHONY], types: ["hangup", "dial"]) {
      __typename type source vendor ... on ISymphonyEvent { callSegmentId properties }
    } }`,
  );
  await waitForFilters(sim, [f("type", "dial"), f("type", "hangup")], "types filter");
  assertEquals(sim.emit({ type: "userLogin" }).delivered, 0);
  const { event } = sim.emit({ type: "hangup" });
  const [row] = await sub.waitForCount(1);
  assertEquals(row?.events.__typename, "ISymphonyEvent");
  assertEquals(row?.events.vendor, "ISYMPHONY");
  assertEquals(row?.events.source, "pbx");
  assertEquals(row?.events.callSegmentId, event.callSegmentId);
  assertEquals(row?.events.properties, event);
});
