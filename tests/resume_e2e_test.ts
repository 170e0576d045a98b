/**
 * Resume end to end, as a user with one app holding one subscription meets it: the relay
 * against the DRP simulator over real sockets, a real graphql-ws client that drops its socket
 * and comes back with `after:`. A resume either misses nothing or fails with CURSOR_EXPIRED
 * saying why; it never replays a history with a hole in it.
 */
import { assert, assertEquals } from "@std/assert";
import { createDrpSimulator, type DrpSimulator } from "../src/simulators/drp/simulator.ts";
import { connectClient } from "./helpers/gql_client.ts";
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
  relay: { wsUrl: string; app: { hub: { subscriberCount(s: string): number } } },
  sim: DrpSimulator,
): Promise<string> {
  const first = connectClient(relay.wsUrl);
  const live = first.subscribe<Row>(SUB);
  await waitFor(() => registered(sim, "profiles.*.*"), "register profiles.*.*");
  emit(sim, "k1");
  const [k1] = await live.waitForCount(1);
  await first.close();
  await waitFor(() => relay.app.hub.subscriberCount("lab") === 0, "the subscriber gone");
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
  await resumed.waitForCount(2);
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
