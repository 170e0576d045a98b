/**
 * Fault: an upstream that sends a frame every millisecond for about two seconds. Every
 * event reaches a healthy subscriber, in order, and the relay keeps answering HTTP while
 * it fans the flood out (the slowest `/healthz` answer is measured and printed).
 */
import { assert, assertEquals } from "@std/assert";
import { createDrpSimulator } from "../../src/simulators/drp/simulator.ts";
import { connectClient } from "../helpers/gql_client.ts";
import {
  DRP_SUB,
  drpRegistered,
  type DrpRow,
  FaultFigures,
  keysOf,
  sampleHealthz,
  sourceStatus,
  tick,
} from "../helpers/fault_kit.ts";
import { startRelay, waitFor } from "../helpers/relay.ts";

const figures = new FaultFigures("flood");
const FLOOD_MS = 2000;

Deno.test("a frame every millisecond for 2 s: every event delivered in order, HTTP stays responsive", async () => {
  await using sim = createDrpSimulator();
  await sim.start();
  await using relay = await startRelay([sim.sourceConfig("lab")], { logLevel: "warn" });
  await using client = connectClient(relay.wsUrl);
  await using other = connectClient(relay.wsUrl);
  const healthy = client.subscribe<DrpRow>(DRP_SUB, {});
  const narrow = other.subscribe<DrpRow>(DRP_SUB, { action: "delete" });
  await waitFor(
    () =>
      drpRegistered(sim) && drpRegistered(sim, "*.delete.*") &&
      relay.app.hub.subscriberCount("lab") === 2,
    "registrations",
  );

  const sampler = sampleHealthz(relay.origin);
  const sent: string[] = [];
  const deletes: string[] = [];
  const t0 = performance.now();
  let elapsed = 0;
  while ((elapsed = performance.now() - t0) < FLOOD_MS) {
    // One frame per elapsed millisecond, whatever the timer granularity.
    while (sent.length < Math.floor(elapsed)) {
      const key = `e${sent.length}`;
      const action = sent.length % 10 === 0 ? "delete" : "update";
      assertEquals(sim.emit({ Type: "machines", Action: action, Key: key }), 1);
      sent.push(key);
      if (action === "delete") deletes.push(key);
    }
    await tick(1);
  }
  const floodMs = performance.now() - t0;
  await healthy.waitForCount(sent.length, 20_000);
  const drainedMs = performance.now() - t0;
  await narrow.waitForCount(deletes.length, 5000);
  const { maxMs, n } = await sampler.stop();

  assertEquals(keysOf(healthy.data), sent, "every event, in order");
  assertEquals(keysOf(narrow.data), deletes, "the filtered subscriber got exactly its share");
  const status = await sourceStatus(relay.httpUrl, "lab");
  assertEquals(status.eventsReceived, sent.length);
  assertEquals(status.framesDropped, 0);
  assertEquals(relay.app.ws.stats.slowConsumerCloses, 0);
  assert(n > 10, `only ${n} /healthz answers during the flood`);
  assert(maxMs < 1500, `/healthz took ${maxMs.toFixed(0)} ms during the flood`);

  figures.add("faultsInjected", sent.length);
  figures.delivered(healthy.data.length + narrow.data.length, sent.length + deletes.length);
  figures.set("floodMs", Math.round(floodMs));
  figures.set("allDeliveredAfterMs", Math.round(drainedMs));
  figures.set("eventsPerSecond", Math.round(sent.length / (floodMs / 1000)));
  figures.set("healthzSamples", n);
  figures.set("healthzMaxLatencyMs", Number(maxMs.toFixed(1)));
});

Deno.test("flood figures", () => figures.print());
