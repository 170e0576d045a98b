/**
 * Fault: an upstream killed mid-stream (connections dropped, then the server stopped and
 * started again) while a healthy client on another source keeps receiving every event.
 * The affected subscription stays open and resumes after the reconnect; it receives
 * exactly the events its upstream sent while it was up.
 */
import { assert, assertEquals } from "@std/assert";
import { createDrpSimulator, type DrpSimulator } from "../../src/simulators/drp/simulator.ts";
import { connectClient } from "../helpers/gql_client.ts";
import {
  DRP_SUB,
  type DrpRow,
  FaultFigures,
  keysOf,
  steadyEmitter,
  tick,
  waitForSource,
} from "../helpers/fault_kit.ts";
import { startRelay, waitFor } from "../helpers/relay.ts";

const figures = new FaultFigures("upstream_outage");
const FAST = { reconnect: { baseMs: 20, maxMs: 100 } };

function registered(sim: DrpSimulator, filter = "*.*.*"): boolean {
  return sim.sessions().some((s) => s.filters.includes(filter));
}

Deno.test("an upstream killed mid-stream: other sources unaffected, the subscription resumes", async () => {
  await using simA = createDrpSimulator();
  await using simB = createDrpSimulator();
  await simA.start();
  await simB.start();
  await using relay = await startRelay([
    { ...simA.sourceConfig("a"), ...FAST },
    { ...simB.sourceConfig("b"), ...FAST },
  ]);
  await using healthyClient = connectClient(relay.wsUrl);
  await using affectedClient = connectClient(relay.wsUrl);
  const healthy = healthyClient.subscribe<DrpRow>(DRP_SUB, { source: "b" });
  const affected = affectedClient.subscribe<DrpRow>(DRP_SUB, { source: "a" });
  await waitFor(() => registered(simA) && registered(simB), "both registrations");

  const emitter = steadyEmitter(simB, "b");
  const expectedA: string[] = [];
  let attemptedA = 0;
  const emitA = (label: string, n: number) => {
    for (let i = 0; i < n; i++) {
      const key = `${label}-${i}`;
      attemptedA++;
      if (simA.emit({ Type: "machines", Action: "save", Key: key }) > 0) expectedA.push(key);
    }
  };

  emitA("up1", 25);
  await affected.waitForCount(expectedA.length);

  // Fault 1: every socket dropped (1011), the server keeps listening.
  simA.server.dropConnections();
  emitA("dropped", 10);
  await waitForSource(relay.httpUrl, "a", (s) => s.reconnects >= 1, "a reconnect");
  await waitFor(() => registered(simA), "re-registered after the drop");
  emitA("up2", 25);
  await affected.waitForCount(expectedA.length);

  // Fault 2: the server goes away entirely, then comes back on the same port.
  await simA.stop();
  await waitForSource(relay.httpUrl, "a", (s) => s.state === "BACKOFF", "BACKOFF while down");
  emitA("down", 10);
  await tick(150); // a few failed reconnect attempts while the healthy source keeps flowing
  await simA.start();
  await waitFor(() => registered(simA), "re-registered after the restart");
  await waitForSource(relay.httpUrl, "a", (s) => s.state === "READY", "READY again");
  emitA("up3", 25);
  await affected.waitForCount(expectedA.length);

  await emitter.stop();
  await healthy.waitForCount(emitter.sent.length, 10_000);

  assertEquals(keysOf(healthy.data), emitter.sent, "healthy client got every event, in order");
  assertEquals(healthy.completed, false);
  assertEquals(keysOf(affected.data), expectedA, "affected client got exactly what was sent");
  assertEquals(affected.completed, false, "the affected subscription stayed open");
  assertEquals(expectedA.length, 75);
  const statusA = await waitForSource(relay.httpUrl, "a", (s) => s.state === "READY", "READY");
  assert(statusA.reconnects >= 2, `reconnects: ${statusA.reconnects}`);
  assertEquals(statusA.interest, ["*.*.*"]);
  const statusB = await waitForSource(relay.httpUrl, "b", (s) => s.state === "READY", "READY");
  assertEquals(statusB.reconnects, 0, "the healthy source never reconnected");

  figures.add("faultsInjected", 2);
  figures.delivered(healthy.data.length, emitter.sent.length);
  figures.add("affectedDelivered", affected.data.length);
  figures.add("affectedExpected", expectedA.length);
  figures.add("affectedEmittedWhileDown", attemptedA - expectedA.length);
});

Deno.test("upstream_outage figures", () => figures.print());
