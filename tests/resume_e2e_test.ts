/**
 * Resume end to end, as a user with one app holding one subscription meets it: the relay
 * against the DRP simulator over real sockets, a real graphql-ws client that drops its socket
 * and comes back with `after:`. A resume either misses nothing or fails with CURSOR_EXPIRED
 * saying why; it never replays a history with a hole in it.
 */
import { assert, assertEquals } from "@std/assert";
import { createDrpSimulator, type DrpSimulator } from "../src/simulators/drp/simulator.ts";
import { connectClient, refusal } from "./helpers/gql_client.ts";
import { httpQuery, startRelay, waitFor } from "./helpers/relay.ts";

const SUB = `subscription($after: ID) {
  drpEvents(type: "profiles", after: $after) { id key }
}`;
type Row = { drpEvents: { id: string; key: string } };

/** Register/deregister commands the simulator received, across all its connections. */
function commands(sim: DrpSimulator): string[] {
  return sim.server.frames().filter((f) => /^(de)?register /.test(f));
}

function registered(sim: DrpSimulator, filter: string): boolean {
  return sim.sessions().some((s) => s.filters.includes(filter));
}

function emit(sim: DrpSimulator, key: string): void {
  assertEquals(sim.emit({ Type: "profiles", Action: "save", Key: key }), 1, `emit ${key}`);
}

const INTEREST_QUERY = `{ source(name: "lab") {
  interest interestItems { key subscribers lingering lingeringUntil }
} }`;
type InterestRow = {
  source: {
    interest: string[];
    interestItems: {
      key: string;
      subscribers: number;
      lingering: boolean;
      lingeringUntil: string | null;
    }[];
  };
};

/** Subscribes, receives k1, and drops the socket; returns the cursor of k1. */
async function receiveOneAndDrop(
  relay: {
    wsUrl: string;
    app: { ws: { stats: { open: number } }; hub: { subscriberCount(s: string): number } };
  },
  sim: DrpSimulator,
): Promise<string> {
  const others = relay.app.ws.stats.open;
  const streams = relay.app.hub.subscriberCount("lab");
  const first = connectClient(relay.wsUrl);
  const live = first.subscribe<Row>(SUB);
  await waitFor(
    () => registered(sim, "profiles.*.*") && relay.app.hub.subscriberCount("lab") === streams + 1,
    "subscribed and registered",
  );
  emit(sim, "k1");
  const [k1] = await live.waitForCount(1);
  await first.close();
  await waitFor(() => relay.app.ws.stats.open === others, "the subscriber's socket gone");
  return k1!.drpEvents.id;
}

Deno.test("the only subscriber drops and returns within the resume window: full replay, then live", async () => {
  await using sim = createDrpSimulator();
  await sim.start();
  await using relay = await startRelay([sim.sourceConfig("lab")]); // default window
  const after = await receiveOneAndDrop(relay, sim);

  // While nobody is subscribed the interest lingers: still registered, marked as such.
  const away = await httpQuery<InterestRow>(relay.httpUrl, INTEREST_QUERY);
  assertEquals(away.data?.source.interest, ["profiles.*.*"]);
  const [item] = away.data?.source.interestItems ?? [];
  assertEquals(item?.key, "profiles.*.*");
  assertEquals(item?.subscribers, 0);
  assertEquals(item?.lingering, true);
  assert(Date.parse(item?.lingeringUntil ?? "") > Date.now() + 50_000, item?.lingeringUntil!);

  emit(sim, "k2");
  emit(sim, "k3");
  await waitFor(() => relay.app.hub.stats("lab").eventsReceived === 3, "k2 and k3 received");

  await using back = connectClient(relay.wsUrl);
  const resumed = back.subscribe<Row>(SUB, { after });
  await resumed.waitForCount(2).catch((err) => {
    throw new Error(`${err}; results ${JSON.stringify(resumed.results)}`);
  });
  emit(sim, "k4");
  await resumed.waitForCount(3);
  assertEquals(resumed.data.map((r) => r.drpEvents.key), ["k2", "k3", "k4"]);
  assertEquals(resumed.errorCodes, []);
  assertEquals(commands(sim), ["register profiles.*.*"], "no deregister/register pair upstream");

  const home = await httpQuery<InterestRow>(relay.httpUrl, INTEREST_QUERY);
  assertEquals(home.data?.source.interestItems.map((i) => [i.subscribers, i.lingering]), [
    [1, false],
  ]);
});

const GAPS_QUERY = `{ source(name: "lab") { gaps { reason interest from to } } }`;
type GapsRow = {
  source: { gaps: { reason: string; interest: string | null; from: string; to: string | null }[] };
};

Deno.test("the only subscriber returns after the resume window: CURSOR_EXPIRED, not a silent hole", async () => {
  await using sim = createDrpSimulator();
  await sim.start();
  await using relay = await startRelay([{ ...sim.sourceConfig("lab"), resumeWindowMs: 300 }]);
  const after = await receiveOneAndDrop(relay, sim);
  await waitFor(() => !registered(sim, "profiles.*.*"), "deregister when the window ends");
  // Nobody is registered: the upstream sends these to no one.
  assertEquals(sim.emit({ Type: "profiles", Action: "save", Key: "k2" }), 0);
  assertEquals(sim.emit({ Type: "profiles", Action: "save", Key: "k3" }), 0);

  await using back = connectClient(relay.wsUrl);
  const resumed = back.subscribe<Row>(SUB, { after });
  await resumed.waitForEnd();
  const { code, message } = refusal(resumed);
  assertEquals(code, "CURSOR_EXPIRED");
  assert(
    /interest "profiles\.\*\.\*" was not registered upstream between \S+Z and now \(\S+Z\)/
      .test(message),
    message,
  );
  assertEquals(resumed.data, [], "nothing replayed");
  assertEquals(commands(sim), ["register profiles.*.*", "deregister profiles.*.*"]);

  const gaps = await httpQuery<GapsRow>(relay.httpUrl, GAPS_QUERY);
  const [gap] = gaps.data?.source.gaps ?? [];
  assertEquals([gap?.reason, gap?.interest, gap?.to], ["NOT_REGISTERED", "profiles.*.*", null]);

  // What the client should do: refetch state, then subscribe without after:.
  const fresh = back.subscribe<Row>(SUB);
  await waitFor(() => registered(sim, "profiles.*.*"), "registered again");
  emit(sim, "k4");
  assertEquals((await fresh.waitForCount(1)).map((r) => r.drpEvents.key), ["k4"]);
  const closed = await httpQuery<GapsRow>(relay.httpUrl, GAPS_QUERY);
  assert(closed.data?.source.gaps[0]?.to, "the gap closed once registered again");
});

Deno.test("a replay across an upstream outage fails with CURSOR_EXPIRED naming it; live subscribers carry on", async () => {
  await using sim = createDrpSimulator();
  await sim.start();
  await using relay = await startRelay([
    { ...sim.sourceConfig("lab"), reconnect: { baseMs: 20, maxMs: 100 } },
  ]);
  await using stayer = connectClient(relay.wsUrl);
  // Its own document, so it is a stream of its own rather than sharing the leaver's.
  const live = stayer.subscribe<Row>(SUB.replace("{ id key }", "{ id key subject }"));
  await waitFor(
    () => relay.app.ws.stats.open === 1 && relay.app.hub.subscriberCount("lab") === 1,
    "the staying client subscribed",
  );
  const after = await receiveOneAndDrop(relay, sim);
  await live.waitForCount(1);

  sim.server.dropConnections();
  // Sent while the relay is away: lost for everyone.
  assertEquals(sim.emit({ Type: "profiles", Action: "save", Key: "k2" }), 0);
  await waitFor(
    () => relay.app.relay.source("lab")?.reconnects === 1 && registered(sim, "profiles.*.*"),
    "reconnected and registered again",
  );
  await waitFor(
    () => relay.app.hub.gaps("lab").some((g) => g.reason === "UPSTREAM_DISCONNECTED" && g.to),
    "the outage closed in coverage",
  );
  emit(sim, "k3");
  assertEquals((await live.waitForCount(2)).map((r) => r.drpEvents.key), ["k1", "k3"]);
  assertEquals(live.completed, false, "the live subscriber was not interrupted");

  await using back = connectClient(relay.wsUrl);
  const resumed = back.subscribe<Row>(SUB, { after });
  await resumed.waitForEnd();
  const { code, message } = refusal(resumed);
  assertEquals(code, "CURSOR_EXPIRED");
  assert(/upstream "lab" was disconnected between \S+Z and \S+Z/.test(message), message);
  assertEquals(resumed.data, []);

  const gaps = await httpQuery<GapsRow>(relay.httpUrl, GAPS_QUERY);
  const outage = gaps.data?.source.gaps.find((g) => g.reason === "UPSTREAM_DISCONNECTED");
  assertEquals(outage?.interest, null);
  assert(Date.parse(outage!.to!) >= Date.parse(outage!.from));

  // A cursor taken after the outage resumes normally.
  const k3 = live.data[1]!.drpEvents.id;
  const again = back.subscribe<Row>(SUB, { after: k3 });
  emit(sim, "k4");
  assertEquals((await again.waitForCount(1)).map((r) => r.drpEvents.key), ["k4"]);
});
