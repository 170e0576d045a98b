/**
 * Fault: a client that subscribes and then never reads, while the upstream emits many large
 * events. The relay must close that socket with 1013 (try again later) once its unsent data
 * passes `server.maxBufferedBytes` / `maxQueuedMessages`, count it, keep a healthy client
 * served without loss, and keep memory bounded (sampled and printed).
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
  tick,
} from "../helpers/fault_kit.ts";
import { RawWsClient } from "../helpers/raw_ws.ts";
import { startRelay, waitFor } from "../helpers/relay.ts";

const figures = new FaultFigures("slow_client");
const MB = 1024 * 1024;
const BLOB = "x".repeat(32 * 1024);

function memory(): { rss: number; heapUsed: number } {
  const m = Deno.memoryUsage();
  return { rss: m.rss, heapUsed: m.heapUsed };
}

Deno.test("a client that never reads is closed with 1013; others unaffected; memory bounded", async () => {
  await using sim = createDrpSimulator();
  await sim.start();
  await using relay = await startRelay([sim.sourceConfig("lab")], {
    logLevel: "warn",
    config: { server: { maxBufferedBytes: 512 * 1024, maxQueuedMessages: 500 } },
  });
  await using client = connectClient(relay.wsUrl);
  const healthy = client.subscribe<DrpRow>(DRP_SUB, {});

  await using raw = await RawWsClient.connect(relay.wsUrl);
  assertEquals(raw.protocol, "graphql-transport-ws");
  await raw.sendJson({ type: "connection_init" });
  assertEquals((await raw.readJson()).type, "connection_ack");
  await raw.sendJson({
    id: "stuck",
    type: "subscribe",
    payload: { query: "subscription { drpEvents { key object } }" },
  });
  await waitFor(
    () => drpRegistered(sim) && relay.app.hub.subscriberCount("lab") === 2,
    "both subscribed",
  );
  // From here on the raw client reads nothing.

  const before = memory();
  let peak = { ...before };
  const sampler = setInterval(() => {
    const m = memory();
    peak = { rss: Math.max(peak.rss, m.rss), heapUsed: Math.max(peak.heapUsed, m.heapUsed) };
  }, 10);
  const sent: string[] = [];
  try {
    // Up to ~64 MB of events; the slow socket should be cut long before.
    while (relay.app.ws.stats.slowConsumerCloses === 0 && sent.length < 2000) {
      const key = `big${sent.length}`;
      assert(sim.emit({ Type: "machines", Action: "save", Key: key, Object: { blob: BLOB } }) > 0);
      sent.push(key);
      if (sent.length % 4 === 0) await tick(1);
    }
    const closedAfter = sent.length;
    // Keep going for a while: the relay must not buffer anything more for the dead socket.
    for (let i = 0; i < 200; i++) {
      const key = `more${i}`;
      sim.emit({ Type: "machines", Action: "save", Key: key, Object: { blob: BLOB } });
      sent.push(key);
      if (i % 4 === 0) await tick(1);
    }
    await healthy.waitForCount(sent.length, 10_000);
    figures.set("eventsUntilSlowClose", closedAfter);
  } finally {
    clearInterval(sampler);
  }
  const during = { ...peak };

  assert(relay.app.ws.stats.slowConsumerCloses >= 1, "the slow socket was closed");
  assertEquals(keysOf(healthy.data), sent, "the healthy client got every event, in order");
  assertEquals(healthy.completed, false);
  assert(relay.logs.some((l) => l.includes("closing slow client socket")), "logged");

  // Now read what the relay managed to send: data, then its close frame with 1013.
  const close = await raw.readUntilClose(15_000);
  assertEquals(close.code, 1013, `close: ${JSON.stringify(close)}`);
  assert(close.framesBefore < sent.length, "the slow client did not get everything queued");
  raw.close();
  await waitFor(
    () => relay.app.hub.subscriberCount("lab") === 1 && relay.app.ws.stats.open === 1,
    "the slow client's subscription released",
  );
  const after = memory();
  const heapGrowth = during.heapUsed - before.heapUsed;
  assert(heapGrowth < 96 * MB, `heap grew by ${(heapGrowth / MB).toFixed(1)} MB`);

  figures.add("faultsInjected", 1);
  figures.set("slowConsumerCloses", relay.app.ws.stats.slowConsumerCloses);
  figures.set("closeCode", close.code ?? "none");
  figures.set("framesReadBySlowClientBeforeClose", close.framesBefore);
  figures.delivered(healthy.data.length, sent.length);
  figures.set("bytesEmitted(MB)", Number((sent.length * BLOB.length / MB).toFixed(1)));
  figures.set("rssBefore(MB)", Number((before.rss / MB).toFixed(1)));
  figures.set("rssPeak(MB)", Number((during.rss / MB).toFixed(1)));
  figures.set("rssAfter(MB)", Number((after.rss / MB).toFixed(1)));
  figures.set("heapBefore(MB)", Number((before.heapUsed / MB).toFixed(1)));
  figures.set("heapPeak(MB)", Number((during.heapUsed / MB).toFixed(1)));
  figures.set("heapAfter(MB)", Number((after.heapUsed / MB).toFixed(1)));
});

Deno.test("slow_client figures", () => figures.print());
