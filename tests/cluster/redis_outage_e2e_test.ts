/**
 * Redis stopped for a few seconds mid-stream, then back (empty: the test server keeps no
 * data): client sockets stay open, Source.state/lastError and /readyz say so, the holder
 * buffers and then appends in order, nothing is registered twice and no lease is stuck.
 */
import { assert, assertEquals, assertStringIncludes } from "@std/assert";
import { createDrpSimulator } from "../../src/simulators/drp/simulator.ts";
import { startNode, waitForHolder } from "../helpers/cluster.ts";
import { connectClient } from "../helpers/gql_client.ts";
import { redisAvailable, startRedis } from "../helpers/redis_server.ts";
import { sourceStatus, waitFor } from "../helpers/relay.ts";

const ready = redisAvailable("tests/cluster/redis_outage_e2e_test.ts");

const SUB = `subscription { drpEvents(type: "machines") { id key } }`;
type Row = { drpEvents: { id: string; key: string } };
const LEASE_MS = 9000;

async function readyz(origin: string): Promise<number> {
  const res = await fetch(`${origin}/readyz`);
  await res.body?.cancel();
  return res.status;
}

Deno.test({
  name: "cluster: Redis stopped mid-stream and back: no crash, no duplicate, buffered in order",
  ignore: !ready,
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async () => {
    await using redis = await startRedis();
    await using sim = createDrpSimulator();
    await sim.start();
    const source = { ...sim.sourceConfig("lab"), reconnect: { baseMs: 20, maxMs: 200 } };
    const opts = { leaseMs: LEASE_MS, keyPrefix: "o" };
    await using a = await startNode(redis, "node-a", [source], opts);
    assertEquals(await waitForHolder([a], "lab"), "node-a");
    await using b = await startNode(redis, "node-b", [source], { ...opts, role: "edge" });
    await waitForHolder([a, b], "lab");
    await using cb = connectClient(b.wsUrl);
    await using ca = connectClient(a.wsUrl);
    const onB = cb.subscribe<Row>(SUB);
    const onA = ca.subscribe<Row>(SUB);
    await waitFor(() => sim.sessions().some((s) => s.filters.includes("machines.*.*")), "register");
    await waitFor(async () => (await readyz(b.origin)) === 200, "ready before the outage");

    const sent: string[] = [];
    let n = 0;
    const emit = setInterval(() => {
      const key = `m${n++}`;
      if (sim.emit({ Type: "machines", Action: "create", Key: key }) > 0) sent.push(key);
    }, 25);
    try {
      await onB.waitForCount(5, 10_000);
      await redis.stop();
      await waitFor(
        async () => (await readyz(b.origin)) === 503,
        "/readyz fails on the edge",
        10_000,
      );
      await waitFor(
        async () => (await readyz(a.origin)) === 503,
        "/readyz fails on the holder",
        10_000,
      );
      const onHolder = await sourceStatus(a.httpUrl, "lab");
      assertEquals(onHolder.state, "BACKOFF");
      assertStringIncludes(onHolder.lastError ?? "", "Redis unreachable");
      assertStringIncludes(onHolder.lastError ?? "", "events buffered");
      assertStringIncludes((await sourceStatus(b.httpUrl, "lab")).lastError ?? "", "Redis");
      await new Promise((r) => setTimeout(r, 1500));
      assertEquals(onB.completed, false, "client sockets stay open");
      await redis.start();
      await waitFor(async () => (await readyz(b.origin)) === 200, "ready again", 15_000);
      await new Promise((r) => setTimeout(r, 500));
      clearInterval(emit);
      const last = sent.at(-1)!;
      for (const s of [onA, onB]) {
        await waitFor(() => s.data.some((r) => r.drpEvents.key === last), "the last event", 15_000);
      }
      const keys = onB.data.map((r) => r.drpEvents.key);
      assertEquals(keys.length, new Set(keys).size, "no duplicate");
      assertEquals(keys, sent.slice(sent.indexOf(keys[0]!)), "every event, in order");
      assertEquals(onA.data.map((r) => r.drpEvents.key), keys);
      const registers = sim.server.frames().filter((f) => f.startsWith("register "));
      assertEquals(registers, ["register machines.*.*"], "no duplicate registration");
      assertEquals(sim.server.connections.size, 1, "still one upstream socket");
      assertEquals(await waitForHolder([a, b], "lab"), "node-a", "no stuck lease");
      assert(!onB.completed && !onA.completed);
    } finally {
      clearInterval(emit);
      onA.stop();
      onB.stop();
    }
  },
});
