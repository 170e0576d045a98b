/**
 * The cluster's Redis modules against a real redis-server: lease and fencing, the stream log
 * script (offsets, trim, epoch, dedupe, gap), the interest registry and the node registry.
 */
import { assert, assertEquals } from "@std/assert";
import { Appender } from "../../src/cluster/appender.ts";
import { ClusterKeys } from "../../src/cluster/keys.ts";
import { holderOf, Lease } from "../../src/cluster/lease.ts";
import { InterestRegistry } from "../../src/cluster/interest_registry.ts";
import { NodeRegistry } from "../../src/cluster/node_registry.ts";
import { StreamLog } from "../../src/cluster/stream_log.ts";
import { closeRedis, createRedis } from "../../src/cluster/redis.ts";
import { systemClock } from "../../src/platform/clock.ts";
import { createLogger } from "../../src/platform/log.ts";
import { redisAvailable, startRedis } from "../helpers/redis_server.ts";

const ready = redisAvailable("tests/cluster/modules_test.ts");
const log = createLogger({ level: "error", sink: () => {} });

Deno.test({
  name: "cluster Redis modules",
  ignore: !ready,
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async (t) => {
    await using redis = await startRedis();
    const client = createRedis({ url: redis.url, log, redact: (s) => s, name: "test" });
    await client.connect();
    const keys = new ClusterKeys("t");
    try {
      await t.step("lease: one holder, fencing tokens grow, renew and release", async () => {
        const k = keys.source("lease");
        const a = new Lease(client, k, "node-a", 300);
        const b = new Lease(client, k, "node-b", 300);
        const ga = (await a.acquire())!;
        assert(ga.token > 0);
        assertEquals(await b.acquire(), undefined);
        assertEquals(await a.holder(), "node-a");
        assert(await a.renew(ga));
        await new Promise((r) => setTimeout(r, 400));
        assertEquals(await a.holder(), undefined, "expired without renewal");
        const gb = (await b.acquire())!;
        assert(gb.token > ga.token);
        assertEquals(await a.renew(ga), false, "a lapsed grant cannot be renewed");
        assertEquals(await a.release(ga), false, "nor released");
        assert(await b.release(gb));
        assertEquals(await b.holder(), undefined);
        assertEquals(holderOf("x.y-1/42"), "x.y-1");
      });

      await t.step("stream log: offsets, trim to history, epoch, dedupe, fencing", async () => {
        const k = keys.source("log");
        const lease = new Lease(client, k, "n1", 5000);
        const grant = (await lease.acquire())!;
        const log = new StreamLog(client, k);
        assertEquals((await log.meta()).epoch, undefined);
        const r1 = await log.append(grant.value, "ep1", 3, 100, [
          { data: '{"n":1}', vendorId: "v1" },
          { data: '{"n":2}' },
          { data: '{"n":3}', vendorId: "v1" },
          { data: '{"n":4}', vendorId: "v2" },
        ]);
        assertEquals(r1, { ok: true, epoch: "ep1", offsets: [1, 2, null, 3] });
        const r2 = await log.append(grant.value, "other", 3, 100, [{ data: '{"n":5}' }]);
        assertEquals(r2, { ok: true, epoch: "ep1", offsets: [4] });
        assertEquals((await log.newest(10)).map((e) => e.offset), [2, 3, 4], "trimmed to 3");
        assertEquals((await log.readAfter(2, 10)).map((e) => e.data), ['{"n":4}', '{"n":5}']);
        assertEquals(await log.meta(), { epoch: "ep1", top: 4, gap: 0 });
        assertEquals(
          await log.append("n1/999", "ep1", 3, 100, [{ data: "{}" }]),
          { ok: false, reason: "fenced" },
        );
        assertEquals((await log.meta()).top, 4, "a fenced append changes nothing");
        assertEquals(await log.recordGap(grant.value, "ep1"), "ok");
        assertEquals((await log.meta()).gap, 4);
        const blocking = client.duplicate();
        await blocking.connect();
        try {
          const waiting = log.waitAfter(blocking, 4, 3000);
          await new Promise((r) => setTimeout(r, 50));
          await log.append(grant.value, "ep1", 3, 100, [{ data: '{"n":6}' }]);
          assertEquals(await waiting, [{ offset: 5, epoch: "ep1", coverage: 0, data: '{"n":6}' }]);
          assertEquals(await log.waitAfter(blocking, 5, 50), []);
        } finally {
          await closeRedis(blocking);
        }
        await client.flushAll();
        assertEquals((await log.meta()).epoch, undefined, "a flushed stream has no epoch");
      });

      await t.step("interest registry: union, nudge, expiry, removal", async () => {
        const k = keys.source("interest");
        const reg = new InterestRegistry(client, k);
        const sub = client.duplicate();
        await sub.connect();
        const nudges: string[] = [];
        await sub.subscribe(reg.channel, (message: string) => nudges.push(message));
        try {
          await reg.put("a", [{ key: "x" }, { key: "y" }], 10_000);
          await reg.put("b", [{ key: "y" }], 200);
          await reg.put("a", [{ key: "y" }, { key: "x" }], 10_000); // same set: no nudge
          const { union, byNode } = await reg.union();
          assertEquals([...union.keys()].sort(), ["x", "y"]);
          assertEquals(byNode.size, 2);
          await new Promise((r) => setTimeout(r, 300));
          assertEquals([...(await reg.union()).byNode.keys()], ["a"], "b's entry expired");
          await reg.remove("a");
          assertEquals((await reg.union()).union.size, 0);
          const deadline = Date.now() + 2000;
          while (nudges.length < 3 && Date.now() < deadline) {
            await new Promise((r) => setTimeout(r, 10));
          }
          assertEquals(nudges, ["a", "b", "a"]);
        } finally {
          await closeRedis(sub);
        }
      });

      await t.step("node registry: heartbeat, expiry, removal", async () => {
        const nodes = new NodeRegistry(client, keys.nodes);
        await nodes.beat("n2", "edge", 10_000);
        await nodes.beat("n1", "ingest", 150);
        const listed = await nodes.list();
        assertEquals(listed.map((n) => [n.id, n.role]), [["n1", "ingest"], ["n2", "edge"]]);
        assert(Math.abs(listed[0]!.lastSeenAt - Date.now()) < 5000);
        await new Promise((r) => setTimeout(r, 250));
        assertEquals((await nodes.list()).map((n) => n.id), ["n2"]);
        await nodes.remove("n2");
        assertEquals(await nodes.list(), []);
      });
      await t.step(
        "appender: bounded buffer across an outage, in order, then the gap",
        async () => {
          const k = keys.source("outage");
          let grant = (await new Lease(client, k, "h", 60_000).acquire())!;
          const log = new StreamLog(client, k);
          const health: (string | undefined)[] = [];
          let fenced = 0;
          const appender = new Appender({
            log,
            history: 100,
            dedupeWindow: 100,
            bufferEvents: 3,
            clock: systemClock,
            random: Math.random,
            lease: () => grant.value,
            onFenced: () => fenced++,
            onNoLease: () => {},
            onHealth: (e) => health.push(e),
          });
          const event = (key: string) => ({
            source: "outage",
            vendor: "WEBINATE" as const,
            type: "Login",
            action: null,
            key,
            subject: null,
            actor: null,
            time: new Date().toISOString(),
            receivedAt: new Date().toISOString(),
            payload: {},
            detail: {
              vendor: "WEBINATE" as const,
              eventType: 1,
              username: null,
              file: null,
              bucket: null,
              message: null,
              val: null,
              error: null,
            },
          });
          appender.append(event("a"));
          await waitUntil(async () => (await log.meta()).top === 1);
          await redis.stop();
          for (const key of ["b", "c", "d", "e", "f"]) appender.append(event(key));
          assertEquals([appender.buffered, appender.lost], [3, 2]);
          await redis.start();
          await waitUntil(() => client.isReady);
          // Redis came back empty; the holder takes its lease again.
          grant = (await new Lease(client, k, "h", 60_000).acquire())!;
          appender.resume();
          await waitUntil(async () => (await log.meta()).gap === 3);
          const entries = await log.readAfter(0, 10);
          assertEquals(entries.map((e) => JSON.parse(e.data).key), ["b", "c", "d"]);
          assertEquals(appender.lost, 0);
          assertEquals(fenced, 0);
          assert(health.some((h) => h !== undefined) && health.at(-1) === undefined);
          appender.close();
        },
      );
    } finally {
      await closeRedis(client);
    }
  },
});

async function waitUntil(check: () => boolean | Promise<boolean>, timeoutMs = 10_000) {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error("timed out");
    await new Promise((r) => setTimeout(r, 20));
  }
}
