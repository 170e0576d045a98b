/**
 * node-redis (the `redis` npm package) under this Deno: commands, Lua, a blocking XREAD on a
 * dedicated connection, and reconnecting after the server restarts. Runs on Deno 2.9 and,
 * in CI, again on Deno 2.5 (Deno Deploy's runtime).
 */
import { assertEquals } from "@std/assert";
import { closeRedis, createRedis } from "../../src/cluster/redis.ts";
import { createLogger } from "../../src/platform/log.ts";
import { redisAvailable, startRedis } from "../helpers/redis_server.ts";

const ready = redisAvailable("tests/cluster/redis_client_test.ts");

Deno.test({
  name: "node-redis: commands, Lua, blocking XREAD, reconnect after a restart",
  ignore: !ready,
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async () => {
    await using redis = await startRedis();
    // The relay's own client settings: no offline queue, bounded reconnect backoff.
    const log = createLogger({ level: "error", sink: () => {} });
    const client = createRedis({ url: redis.url, log, redact: (s) => s, name: "test" });
    await client.connect();
    const blocking = client.duplicate();
    blocking.on("error", () => {});
    await blocking.connect();
    try {
      assertEquals(await client.set("k", "v", { NX: true, PX: 5000 }), "OK");
      assertEquals(await client.set("k", "w", { NX: true, PX: 5000 }), null);
      assertEquals(await client.eval("return redis.call('GET', KEYS[1])", { keys: ["k"] }), "v");

      const read = blocking.xRead({ key: "s", id: "$" }, { BLOCK: 5000, COUNT: 10 });
      await new Promise((r) => setTimeout(r, 100));
      await client.xAdd("s", "1-0", { d: "hello" });
      const got = await read;
      assertEquals(JSON.stringify(got).includes("hello"), true);

      await redis.restart();
      const deadline = Date.now() + 10_000;
      let pong = "";
      while (Date.now() < deadline) {
        try {
          pong = await client.ping();
          break;
        } catch {
          await new Promise((r) => setTimeout(r, 50));
        }
      }
      assertEquals(pong, "PONG");
      assertEquals(await client.get("k"), null, "persistence is off: the restart starts empty");
    } finally {
      await closeRedis(blocking);
      await closeRedis(client);
    }
  },
});
