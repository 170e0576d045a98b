/**
 * Fault: upstreams that flood malformed and oversized frames — garbage text, JSON of the
 * wrong shape, deeply nested JSON, a 2 MB frame, binary-ish text and binary frames. Each is
 * dropped and counted (`Source.framesDropped`), the connector keeps running, and the valid
 * events sent in between still arrive, in order. Run against three vendors' parsers over
 * real sockets, with a healthy client per source.
 */
import { assertEquals } from "@std/assert";
import { createDrpSimulator } from "../../src/simulators/drp/simulator.ts";
import { createISymphonySimulator } from "../../src/simulators/isymphony/simulator.ts";
import type { SimServer } from "../../src/simulators/sim_server.ts";
import { createWebinateSimulator } from "../../src/simulators/webinate/simulator.ts";
import { connectClient } from "../helpers/gql_client.ts";
import { FaultFigures, sourceStatus, waitForSource } from "../helpers/fault_kit.ts";
import { startRelay, waitFor } from "../helpers/relay.ts";

const figures = new FaultFigures("malformed_frames");

const EVENTS_SUB = `subscription($sources: [String!]) {
  events(sources: $sources) { id source type }
}`;
type Row = { events: { id: string; source: string; type: string } };

/** Text frames no vendor parser may accept. */
function garbageFrames(): string[] {
  const depth = 20_000;
  const binaryish = Array.from({ length: 4096 }, (_, i) => String.fromCharCode((i * 7919) % 256))
    .join("");
  return [
    "{not json",
    "",
    " ",
    "null",
    "42",
    '"just a string"',
    "[]",
    "true",
    "{}",
    "[".repeat(depth) + "]".repeat(depth),
    '{"a":'.repeat(depth) + "1" + "}".repeat(depth),
    // Readers are tolerant of everything but the routing fields: make those the wrong type.
    JSON.stringify({ Type: ["machines"], type: { n: 1 }, junk: "x".repeat(2 * 1024 * 1024) }),
    "x".repeat(2 * 1024 * 1024),
    binaryish,
    "\u0000\u0001\u0002\ud800\udfff\ufffd{",
    '{"__proto__":{"polluted":true}}',
    JSON.stringify({ Time: 1, Type: 2, Action: [], Key: {}, eventType: "x", type: 7 }),
    '{"type":"EVENT","data":',
  ];
}

/** Random bytes sent as a binary frame (the relay decodes binary frames as UTF-8). */
function binaryFrame(server: SimServer): number {
  let n = 0;
  const bytes = new Uint8Array(1024).map((_, i) => (i * 31 + 7) % 256);
  for (const conn of server.connections) {
    conn.socket.send(bytes);
    n++;
  }
  return n;
}

interface Target {
  name: string;
  server: SimServer;
  sendRaw(text: string): number;
  emitValid(i: number): number;
}

Deno.test("malformed and oversized upstream frames are dropped and counted; valid ones flow", async () => {
  await using drp = createDrpSimulator();
  await using isym = createISymphonySimulator();
  await using web = createWebinateSimulator();
  await Promise.all([drp.start(), isym.start(), web.start()]);
  await using relay = await startRelay([
    drp.sourceConfig("drp"),
    isym.sourceConfig("isym"),
    web.sourceConfig("web"),
  ], { logLevel: "error" });
  const targets: Target[] = [
    {
      name: "drp",
      server: drp.server,
      sendRaw: (t) => drp.sendRaw(t),
      emitValid: (i) => drp.emit({ Type: "machines", Action: "save", Key: `k${i}` }),
    },
    {
      name: "isym",
      server: isym.server,
      sendRaw: (t) => isym.sendRaw(t),
      emitValid: (i) =>
        isym.emit({ type: "agentLogin", username: `u${i}`, queue: "Support" }).delivered,
    },
    {
      name: "web",
      server: web.server,
      sendRaw: (t) => web.sendRaw(t),
      emitValid: (i) => web.emit({ type: "Login", username: `user${i}` }).delivered,
    },
  ];
  await using client = connectClient(relay.wsUrl);
  const subs = new Map(
    targets.map((t) => [t.name, client.subscribe<Row>(EVENTS_SUB, { sources: [t.name] })]),
  );
  await waitForSource(relay.httpUrl, "drp", (s) => s.interest.includes("*.*.*"), "DRP register");
  await waitForSource(
    relay.httpUrl,
    "isym",
    (s) => s.interest.includes("(all events)"),
    "iSymphony filter",
  );
  await waitForSource(relay.httpUrl, "web", (s) => s.state === "READY", "Webinate READY");

  const garbage = garbageFrames();
  for (const t of targets) {
    const sub = subs.get(t.name)!;
    let valid = 0;
    let bad = 0;
    valid += t.emitValid(valid);
    for (const frame of garbage) {
      bad += t.sendRaw(frame);
      valid += t.emitValid(valid);
    }
    bad += binaryFrame(t.server);
    valid += t.emitValid(valid);
    assertEquals(bad, garbage.length + 1);
    const rows = await sub.waitForCount(valid, 10_000);
    const status = await waitForSource(
      relay.httpUrl,
      t.name,
      (s) => s.framesDropped >= bad,
      "every bad frame counted",
    );
    assertEquals(status.framesDropped, bad, `${t.name}: framesDropped`);
    assertEquals(status.eventsReceived, valid, `${t.name}: eventsReceived`);
    assertEquals(status.state, "READY", `${t.name}: still READY`);
    assertEquals(status.reconnects, 0, `${t.name}: never reconnected`);
    assertEquals(rows.length, valid);
    const offsets = rows.map((r) => Number(r.events.id.slice(r.events.id.lastIndexOf(":") + 1)));
    assertEquals(offsets, offsets.toSorted((a, b) => a - b), `${t.name}: in order`);
    assertEquals(sub.completed, false);
    figures.add("faultsInjected", bad);
    figures.delivered(rows.length, valid);
  }
  // Nothing leaked from one source's garbage into another's stream.
  for (const [name, sub] of subs) {
    assertEquals(new Set(sub.data.map((r) => r.events.source)), new Set([name]));
  }
  assertEquals((await sourceStatus(relay.httpUrl, "drp")).state, "READY");
});

Deno.test("a schema-valid event nested 20,000 deep is dropped instead of ending subscriptions", async () => {
  await using drp = createDrpSimulator();
  await drp.start();
  await using relay = await startRelay([drp.sourceConfig("drp")], { logLevel: "error" });
  await using client = connectClient(relay.wsUrl);
  const withObject = client.subscribe<{ drpEvents: { key: string; object: unknown } }>(
    `subscription { drpEvents { key object } }`,
  );
  await waitFor(() => relay.app.hub.subscriberCount("drp") === 1, "subscribed");
  const depth = 20_000;
  const deep = '{"a":'.repeat(depth) + "1" + "}".repeat(depth);
  drp.sendRaw(
    `{"Time":"2024-01-01T00:00:00Z","Type":"machines","Action":"save","Key":"deep",` +
      `"Object":${deep}}`,
  );
  drp.emit({ Type: "machines", Action: "save", Key: "after", Object: { Name: "ok" } });
  const rows = await withObject.waitForCount(1);
  assertEquals(rows.map((r) => r.drpEvents.key), ["after"]);
  assertEquals(withObject.completed, false, "the subscription survived");
  const status = await sourceStatus(relay.httpUrl, "drp");
  assertEquals(status.framesDropped, 1);
  figures.add("faultsInjected", 1);
  figures.delivered(rows.length, 1);
});

Deno.test("malformed_frames figures", () => figures.print());
