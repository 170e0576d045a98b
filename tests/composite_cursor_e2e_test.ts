/**
 * One resume cursor for the cross-vendor stream: a client of `events` over three vendors
 * has its socket killed mid-stream while all three keep emitting, reconnects with the last
 * composite `cursor` it received, and gets every event exactly once (checked against an
 * observer that stayed connected throughout).
 */
import { assert, assertEquals, assertMatch } from "@std/assert";
import { createDrpSimulator } from "../src/simulators/drp/simulator.ts";
import { createISymphonySimulator } from "../src/simulators/isymphony/simulator.ts";
import { createWebinateSimulator } from "../src/simulators/webinate/simulator.ts";
import { connectClient } from "./helpers/gql_client.ts";
import { sourceStatus, startRelay, waitFor } from "./helpers/relay.ts";

const SUB = `subscription($after: ID) {
  events(sources: ["drp", "pbx", "users"], after: $after) { id cursor source }
}`;
type Row = { events: { id: string; cursor: string; source: string } };
/** The two-source stream of the expiry tests. */
const Q = `subscription($after: ID) {
  events(sources: ["drp", "pbx"], after: $after) { id cursor source }
}`;

const PER_VENDOR = 60;

Deno.test("events(after: composite cursor): a killed socket resumes across three vendors, every event exactly once", async () => {
  await using drp = createDrpSimulator();
  await using pbx = createISymphonySimulator();
  await using users = createWebinateSimulator();
  await Promise.all([drp.start(), pbx.start(), users.start()]);
  await using relay = await startRelay([
    drp.sourceConfig("drp"),
    pbx.sourceConfig("pbx"),
    { ...users.sourceConfig("users"), settleMs: 20 },
  ], { logLevel: "error" });
  await using observerClient = connectClient(relay.wsUrl);
  const observer = observerClient.subscribe<Row>(SUB);
  const victimClient = connectClient(relay.wsUrl);
  const victim = victimClient.subscribe<Row>(SUB);
  for (const name of ["drp", "pbx", "users"]) {
    await waitFor(
      async () => {
        const s = await sourceStatus(relay.httpUrl, name);
        return s.state === "READY" && s.subscribers >= 1 && s.interest.length > 0 ||
          (name === "users" && s.state === "READY" && s.subscribers >= 1);
      },
      `${name} ready`,
      10_000,
    );
  }
  // Gen A Webinate broadcasts to every open socket; wait until its socket is served.
  await waitFor(() => users.emit({ type: "Login", username: "warmup" }).delivered === 1, "served");
  await observer.waitForCount(1);

  // All three vendors emit, interleaved, while the victim's socket is killed.
  let emitted = 1;
  const emitter = (async () => {
    for (let i = 0; i < PER_VENDOR; i++) {
      drp.emit({ Type: "machines", Action: "save", Key: `m-${i}` });
      pbx.emit({ type: "userLogin", username: `u${i}` });
      users.emit({ type: "Login", username: `w${i}` });
      emitted += 3;
      await new Promise((r) => setTimeout(r, 3));
    }
  })();
  await victim.waitForCount(40, 10_000);
  victimClient.client.terminate();
  // Frames already read from the killed socket may still surface: resume, as a real client
  // does, from the newest cursor actually received.
  await new Promise((r) => setTimeout(r, 200));
  const last = victim.data.at(-1)!.events.cursor;
  assertMatch(last, /^c1\.[A-Za-z0-9_-]+$/);
  await emitter;
  const all = await observer.waitForCount(emitted, 15_000);
  const got = victim.data.length;

  await using resumedClient = connectClient(relay.wsUrl);
  const resumed = resumedClient.subscribe<Row>(SUB, { after: last });
  const rest = await resumed.waitForCount(emitted - got, 15_000);
  // Nothing more arrives: the replay ended exactly where the live stream was.
  await new Promise((r) => setTimeout(r, 100));
  assertEquals(resumed.results.flatMap((r) => r.errors ?? []), []);

  const ids = [...victim.data, ...rest].map((r) => r.events.id);
  const expected = all.map((r) => r.events.id);
  assertEquals(ids.length, new Set(ids).size, "no duplicates");
  assertEquals(new Set(ids), new Set(expected), "no event missing");
  assertEquals(resumed.results.length, emitted - got);
  const perSource = (rows: Row[]) =>
    Object.fromEntries(["drp", "pbx", "users"].map((s) => [
      s,
      rows.filter((r) => r.events.source === s).length,
    ]));
  const replayedSources = perSource(rest);
  assert(Object.values(replayedSources).every((n) => n > 0), "every source resumed");
  // deno-lint-ignore no-console -- the figures the issue asks for
  console.log(
    `composite resume: ${emitted} events from 3 vendors; ${got} before the kill, ` +
      `${rest.length} after it (${JSON.stringify(replayedSources)}); ` +
      `${ids.length - new Set(ids).size} duplicated, ${
        expected.length - new Set(ids).size
      } missing`,
  );
});

Deno.test("events(after:) with a composite cursor fails with CURSOR_EXPIRED naming an expired source", async () => {
  await using drp = createDrpSimulator();
  await using pbx = createISymphonySimulator();
  await Promise.all([drp.start(), pbx.start()]);
  await using relay = await startRelay([
    { ...drp.sourceConfig("drp"), history: 5 },
    pbx.sourceConfig("pbx"),
  ], { logLevel: "error" });
  await using client = connectClient(relay.wsUrl);
  const live = client.subscribe<{ events: Row["events"] }>(Q);
  await waitFor(
    async () => {
      const s = await sourceStatus(relay.httpUrl, "drp");
      return s.interest.includes("*.*.*");
    },
    "registered",
    10_000,
  );
  await waitFor(async () => (await sourceStatus(relay.httpUrl, "pbx")).subscribers === 1, "pbx");
  drp.emit({ Type: "machines", Action: "save", Key: "first" });
  const [first] = await live.waitForCount(1);
  const cursor = first!.events.cursor;
  assert(cursor !== first!.events.id, "events carries a composite cursor, not the id");
  for (let i = 0; i < 10; i++) drp.emit({ Type: "machines", Action: "save", Key: `k${i}` });
  await live.waitForCount(11);
  const late = client.subscribe(Q, { after: cursor });
  await late.waitForEnd();
  const error = JSON.stringify(late.error ?? late.results);
  assert(error.includes("CURSOR_EXPIRED") || late.errorCodes.includes("CURSOR_EXPIRED"), error);
  assert(error.includes('"drp"') || error.includes("drp"), error);

  const bad = client.subscribe(Q, { after: "c1.!!" });
  await bad.waitForEnd();
  assert(JSON.stringify(bad.error ?? bad.results).includes("CURSOR_EXPIRED"));
});

Deno.test("events(after:) with a composite cursor: a source that lost its upstream since is CURSOR_EXPIRED by name", async () => {
  await using drp = createDrpSimulator();
  await using pbx = createISymphonySimulator();
  await Promise.all([drp.start(), pbx.start()]);
  await using relay = await startRelay([
    { ...drp.sourceConfig("drp"), reconnect: { baseMs: 20, maxMs: 50, stableMs: 60_000 } },
    pbx.sourceConfig("pbx"),
  ], { logLevel: "error" });
  await using client = connectClient(relay.wsUrl);
  const live = client.subscribe<{ events: Row["events"] }>(Q);
  await waitFor(
    async () => (await sourceStatus(relay.httpUrl, "drp")).interest.includes("*.*.*"),
    "drp",
  );
  await waitFor(async () => (await sourceStatus(relay.httpUrl, "pbx")).subscribers === 1, "pbx");
  pbx.emit({ type: "userLogin", username: "u1" });
  const [first] = await live.waitForCount(1);
  // DRP's socket drops and comes back: events in between were never received.
  await drp.restart();
  await waitFor(
    async () => (await sourceStatus(relay.httpUrl, "drp")).reconnects >= 1,
    "reconnect",
  );
  await waitFor(async () => (await sourceStatus(relay.httpUrl, "drp")).state === "READY", "READY");
  const late = client.subscribe(Q, { after: first!.events.cursor });
  await late.waitForEnd();
  const error = JSON.stringify(late.error ?? late.results);
  assert(error.includes("CURSOR_EXPIRED"), error);
  assert(error.includes("drp"), error);
});
