/**
 * Cluster mode end to end: relay nodes (app instances) sharing one real redis-server, against
 * the DRP simulator, with real graphql-ws clients.
 */
import { assert, assertEquals } from "@std/assert";
import { createDrpSimulator, type DrpSimulator } from "../../src/simulators/drp/simulator.ts";
import { holderOn, startNode, waitForHolder } from "../helpers/cluster.ts";
import { connectClient, refusal } from "../helpers/gql_client.ts";
import { redisAvailable, startRedis } from "../helpers/redis_server.ts";
import { httpQuery, waitFor } from "../helpers/relay.ts";

const ready = redisAvailable("tests/cluster/cluster_e2e_test.ts");

const SUB = `subscription($type: String, $after: ID) {
  drpEvents(type: $type, after: $after) { id key }
}`;
type Row = { drpEvents: { id: string; key: string } };

const FAST = { reconnect: { baseMs: 20, maxMs: 200 }, resumeWindowMs: 0 };

function commands(sim: DrpSimulator): string[] {
  return sim.server.frames().filter((f) => /^(de)?register /.test(f));
}

function emitKeys(sim: DrpSimulator, type: string, keys: string[]): void {
  for (const key of keys) sim.emit({ Type: type, Action: "create", Key: key });
}

Deno.test({
  name: "cluster: one upstream socket, cluster-wide interest, events and cursors on every node",
  ignore: !ready,
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async (t) => {
    await using redis = await startRedis();
    await using sim = createDrpSimulator();
    await sim.start();
    const src = () => ({ ...sim.sourceConfig("lab"), ...FAST });
    const a = await startNode(redis, "node-a", [src()]);
    const b = await startNode(redis, "node-b", [src()]);
    const c = await startNode(redis, "node-c", [src()]);
    const nodes = [a, b, c];
    try {
      const holder = await waitForHolder(nodes, "lab");
      assert(["node-a", "node-b", "node-c"].includes(holder));
      assertEquals(sim.server.connections.size, 1, "one upstream socket across three nodes");

      await t.step(
        "interest: first anywhere registers, same pattern adds none, last leave deregisters",
        async () => {
          await using cb = connectClient(b.wsUrl);
          await using ca = connectClient(a.wsUrl);
          const onB = cb.subscribe<Row>(SUB, { type: "machines" });
          await waitFor(
            () => commands(sim).includes("register machines.*.*"),
            "register on B's subscription",
          );
          const onA = ca.subscribe<Row>(SUB, { type: "machines" });
          await cb.connected();
          await ca.connected();
          await new Promise((r) => setTimeout(r, 700));
          assertEquals(commands(sim), ["register machines.*.*"], "A's identical pattern adds none");
          onB.stop();
          await new Promise((r) => setTimeout(r, 700));
          assertEquals(commands(sim), ["register machines.*.*"], "A still needs it");
          onA.stop();
          await waitFor(
            () => commands(sim).includes("deregister machines.*.*"),
            "deregister after the last leave",
          );
          assertEquals(commands(sim), ["register machines.*.*", "deregister machines.*.*"]);
        },
      );

      await t.step("events reach every node in order; a cursor from A resumes on B", async () => {
        await using ca = connectClient(a.wsUrl);
        await using cb = connectClient(b.wsUrl);
        await using cc = connectClient(c.wsUrl);
        const subs = [ca, cb, cc].map((cl) => cl.subscribe<Row>(SUB, { type: "leases" }));
        await waitFor(() => commands(sim).includes("register leases.*.*"), "register leases");
        await new Promise((r) => setTimeout(r, 200));
        const keys = Array.from({ length: 20 }, (_, i) => `k${i}`);
        emitKeys(sim, "leases", keys);
        for (const s of subs) {
          const got = await s.waitForCount(20, 10_000);
          assertEquals(got.map((r) => r.drpEvents.key), keys);
        }
        const ids = subs.map((s) => s.data.map((r) => r.drpEvents.id));
        assertEquals(ids[0], ids[1], "the same ids on every node");
        assertEquals(ids[1], ids[2]);
        const cursor = ids[0]![9]!;
        const resumed = cb.subscribe<Row>(SUB, { type: "leases", after: cursor });
        const replay = await resumed.waitForCount(10, 10_000);
        assertEquals(replay.map((r) => r.drpEvents.key), keys.slice(10));
        emitKeys(sim, "leases", ["live"]);
        const next = await resumed.waitForCount(11, 10_000);
        assertEquals(next.at(-1)?.drpEvents.key, "live", "then live, without a gap or duplicate");
        for (const s of subs) s.stop();
        resumed.stop();
      });

      await t.step(
        "restart every node: history survives, a cursor across the restart is CURSOR_EXPIRED " +
          "(no node held the upstream), a cursor after it replays; flush Redis: CURSOR_EXPIRED",
        async () => {
          const recent = await httpQuery<{ recentEvents: { id: string; key: string }[] }>(
            a.httpUrl,
            `{ recentEvents(limit: 5) { id key } }`,
          );
          const newest = recent.data!.recentEvents;
          assertEquals(newest[0]?.key, "live");
          const old = newest[3]!.id;
          for (const n of nodes.splice(0)) await n.close();
          const a2 = await startNode(redis, "node-a", [src()]);
          const b2 = await startNode(redis, "node-b", [src()]);
          nodes.push(a2, b2);
          await waitForHolder(nodes, "lab");
          // The restarted node loads the stream (recentEvents does not wait for it).
          await waitFor(async () => {
            const again = await httpQuery<{ recentEvents: { id: string }[] }>(
              b2.httpUrl,
              `{ recentEvents(limit: 5) { id } }`,
            );
            const ids = again.data!.recentEvents.map((e) => e.id);
            return ids.join() === newest.map((e) => e.id).join();
          }, "the same newest events on the restarted node");
          await using cl = connectClient(b2.wsUrl);
          const across = cl.subscribe<Row>(SUB, { type: "leases", after: old });
          await across.waitForEnd();
          const { code, message } = refusal(across);
          assertEquals(code, "CURSOR_EXPIRED", message);
          assert(/not registered upstream|no cluster node held/.test(message), message);
          await using live = connectClient(a2.wsUrl);
          const keep = live.subscribe<Row>(SUB, { type: "leases" });
          await waitFor(
            () => commands(sim).filter((c) => c === "register leases.*.*").length >= 2,
            "leases registered again",
          );
          await waitFor(async () => {
            const s = await holderOn(b2, "lab");
            return s.state === "READY";
          }, "READY");
          emitKeys(sim, "leases", ["r1", "r2", "r3"]);
          const got = await keep.waitForCount(3, 10_000);
          const cursor = got[0]!.drpEvents.id;
          const replay = cl.subscribe<Row>(SUB, { type: "leases", after: cursor });
          const replayed = await replay.waitForCount(2, 10_000);
          assertEquals(replayed.map((r) => r.drpEvents.key), ["r2", "r3"]);
          replay.stop();
          await redis.command("FLUSHALL");
          await waitFor(
            async () => {
              const probe = cl.subscribe<Row>(SUB, { type: "leases", after: cursor });
              await waitFor(
                () => probe.completed || probe.results.length > 0,
                "probe outcome",
                5000,
              );
              probe.stop();
              return probe.errorCodes.includes("CURSOR_EXPIRED");
            },
            "CURSOR_EXPIRED after the flush",
            10_000,
          );
          // The flush also lost every node's interest: until A puts its own again (next
          // heartbeat) the holder may deregister leases, a real hole. Once A's interest is back
          // and the cluster's records show no open gap, the new stream's cursors replay.
          await waitFor(
            async () =>
              (await redis.command("HEXISTS", "test:src:{lab}:interest", "node-a")).startsWith(
                ":1",
              ),
            "node-a's interest back in Redis",
          );
          await waitFor(async () => {
            const res = await httpQuery<{ source: { gaps: { to: string | null }[] } }>(
              b2.httpUrl,
              `{ source(name: "lab") { gaps { to } } }`,
            );
            const last = commands(sim).filter((c) => c.endsWith(" leases.*.*")).at(-1);
            return last === "register leases.*.*" &&
              (res.data?.source.gaps.every((g) => g.to !== null) ?? false);
          }, "leases registered and no open gap in the cluster's coverage");
          const seen = keep.data.length;
          await waitFor(() => {
            emitKeys(sim, "leases", [`f${keep.data.length}`]);
            return keep.data.length > seen;
          }, "an event of the new stream");
          // Earlier probes may still be on their way: a marker after them all gives the cursor.
          emitKeys(sim, "leases", ["f-mark"]);
          const fresh = (await waitFor(
            () => keep.data.find((r) => r.drpEvents.key === "f-mark"),
            "the marker",
          )).drpEvents.id;
          emitKeys(sim, "leases", ["f-next"]);
          const resumed = cl.subscribe<Row>(SUB, { type: "leases", after: fresh });
          const next = await resumed.waitForCount(1, 10_000);
          assertEquals(
            next.map((r) => r.drpEvents.key),
            ["f-next"],
            JSON.stringify(resumed.results),
          );
          resumed.stop();
          keep.stop();
        },
      );
    } finally {
      for (const n of nodes) await n.close();
    }
  },
});
