/**
 * Fault: a client that opens and closes sockets in a loop (300 connect/subscribe/close
 * cycles, in several styles: close at once, close after the ack, complete then close,
 * close before the ack). Nothing may leak: hub subscribers, shared streams and upstream
 * registrations return to the standing set, and a healthy client misses nothing.
 */
import { assertEquals } from "@std/assert";
import { createDrpSimulator } from "../../src/simulators/drp/simulator.ts";
import { connectClient } from "../helpers/gql_client.ts";
import {
  DRP_SUB,
  drpRegistered,
  type DrpRow,
  FaultFigures,
  keysOf,
  sourceStatus,
  steadyEmitter,
} from "../helpers/fault_kit.ts";
import { startRelay, waitFor } from "../helpers/relay.ts";

const figures = new FaultFigures("socket_churn");
const CYCLES = 300;
const PARALLEL = 10;

/** One connect/subscribe/close cycle in one of four styles; resolves once closed. */
function cycle(url: string, i: number): Promise<void> {
  const { promise, resolve } = Promise.withResolvers<void>();
  const ws = new WebSocket(url, "graphql-transport-ws");
  const style = i % 4;
  const subscribe = () =>
    ws.send(JSON.stringify({
      id: `s${i}`,
      type: "subscribe",
      payload: { query: DRP_SUB, variables: { type: "jobs", key: `k${i % 7}` } },
    }));
  ws.onopen = () => {
    ws.send(JSON.stringify({ type: "connection_init" }));
    if (style === 0) {
      // Subscribe before the ack arrives, then vanish.
      subscribe();
      ws.close();
    } else if (style === 3) {
      ws.close();
    }
  };
  ws.onmessage = (e) => {
    const msg = JSON.parse(String(e.data));
    if (msg.type !== "connection_ack") return;
    subscribe();
    if (style === 2) ws.send(JSON.stringify({ id: `s${i}`, type: "complete" }));
    // Give the relay a moment to attach the subscription before the socket goes.
    setTimeout(() => ws.close(), style === 1 ? 5 : 0);
  };
  ws.onerror = () => {};
  ws.onclose = () => resolve();
  return promise;
}

Deno.test("300 connect/subscribe/close cycles leak no registrations; a healthy client is unaffected", async () => {
  await using sim = createDrpSimulator();
  await sim.start();
  await using relay = await startRelay([
    { ...sim.sourceConfig("lab"), standing: ["machines.*.*"], resumeWindowMs: 0 },
  ], { logLevel: "warn" });
  await using client = connectClient(relay.wsUrl);
  const healthy = client.subscribe<DrpRow>(DRP_SUB, { type: "machines" });
  await waitFor(
    () => drpRegistered(sim, "machines.*.*") && relay.app.hub.subscriberCount("lab") === 1,
    "healthy subscribed",
  );
  const standing = relay.app.hub.interestKeys("lab");
  assertEquals(standing, ["machines.*.*"]);
  const emitter = steadyEmitter(sim, "m");

  let peakSubscribers = 0;
  let peakInterest = 0;
  let next = 0;
  const worker = async () => {
    while (next < CYCLES) {
      await cycle(relay.wsUrl, next++);
      peakSubscribers = Math.max(peakSubscribers, relay.app.hub.subscriberCount("lab"));
      peakInterest = Math.max(peakInterest, relay.app.hub.interestKeys("lab").length);
    }
  };
  await Promise.all(Array.from({ length: PARALLEL }, worker));
  await emitter.stop();

  await waitFor(
    () =>
      relay.app.hub.subscriberCount("lab") === 1 && relay.app.ws.stats.open === 1 &&
      relay.app.ws.shared.memberCount === 1,
    "every churned subscription released",
  );
  assertEquals(relay.app.hub.interestKeys("lab"), standing);
  await waitFor(
    () => JSON.stringify(sim.sessions()[0]?.filters) === JSON.stringify(standing),
    "upstream deregistrations",
  );
  const status = await sourceStatus(relay.httpUrl, "lab");
  assertEquals(status.interest, standing);
  assertEquals(status.subscribers, 1);
  assertEquals(status.reconnects, 0);

  await healthy.waitForCount(emitter.sent.length);
  assertEquals(keysOf(healthy.data), emitter.sent);
  assertEquals(healthy.completed, false);

  figures.add("faultsInjected", CYCLES);
  figures.set("peakHubSubscribers", peakSubscribers);
  figures.set("peakInterestKeys", peakInterest);
  figures.set("registersSent", sim.server.frames().filter((f) => f.startsWith("register ")).length);
  figures.delivered(healthy.data.length, emitter.sent.length);
});

Deno.test("socket_churn figures", () => figures.print());
