/**
 * The coverage store contract: the Redis implementation (Lua against a real redis-server) and
 * the in-memory one go through one sequence of writes and must hold the same records, which a
 * mirror then judges replays by.
 */
import { assertEquals } from "@std/assert";
import { CoverageMirror } from "../../src/cluster/coverage_mirror.ts";
import {
  type CoverageStore,
  MemoryCoverageStore,
  RedisCoverageStore,
  type StoredCoverage,
} from "../../src/cluster/coverage_store.ts";
import { ClusterKeys } from "../../src/cluster/keys.ts";
import { closeRedis, createRedis, type RedisClient } from "../../src/cluster/redis.ts";
import { createLogger } from "../../src/platform/log.ts";
import { redisAvailable, startRedis } from "../helpers/redis_server.ts";

const ready = redisAvailable("tests/cluster/coverage_store_test.ts");
const log = createLogger({ level: "error", sink: () => {} });

/** The stream as both stores see it; the Redis one reads it from Redis. */
interface Stream {
  lease: string | undefined;
  epoch: string;
  top: number;
}

function plain(s: StoredCoverage) {
  const byKey = (a: string | undefined, b: string | undefined) => ((a ?? "") < (b ?? "") ? -1 : 1);
  return {
    ...s,
    keys: [...s.keys].sort(([a], [b]) => byKey(a, b)),
    listedOpen: [...s.listedOpen].sort((a, b) => byKey(a.key, b.key)),
  };
}

/** Runs the sequence on `store`; `sync` makes Redis hold `stream` first. */
async function run(
  store: CoverageStore,
  stream: Stream,
  sync: () => Promise<void>,
  at: number,
) {
  const seen: unknown[] = [];
  const mirror = new CoverageMirror({
    store,
    streamEpoch: () => stream.epoch,
    holderlessSince: () => undefined,
    now: () => 0,
  });
  const step = async (write: () => Promise<unknown>) => {
    await sync();
    seen.push(await write());
  };
  await step(() => store.apply("L1", "E9", [{ t: "open", r: "NO_HOLDER", at, q: 1, w: 1 }]));
  await step(() =>
    store.replace("L1", "E9", at, {
      source: { reason: "NO_HOLDER", at },
      keys: [{ key: "a", wanted: true, open: { reason: "NOT_REGISTERED", at, listed: false } }],
    })
  );
  stream.top = 5;
  await step(() =>
    store.apply("L1", "E9", [
      { t: "close", at: at + 1, off: -1 },
      { t: "close", k: "a", at: at + 1, off: 4 },
      { t: "open", k: "b", r: "NOT_REGISTERED", at: at + 1, q: 1, w: 1 },
    ])
  );
  await mirror.load();
  seen.push(mirror.breakAfter(["a"], 4)?.to, mirror.breakAfter(["a"], 6), mirror.gaps().length);
  stream.top = 7;
  await step(() =>
    store.apply("L1", "E9", [
      { t: "close", k: "b", at: at + 2, off: 6 },
      { t: "open", k: "a", r: "NOT_REGISTERED", at: at + 2, q: 1, w: 0 },
    ])
  );
  await mirror.load();
  seen.push(mirror.breakAfter(["a"], 8)?.reason, mirror.breakAfter(["b"], 7));
  stream.lease = "L2";
  await step(() => store.apply("L1", "E9", []));
  await step(() => store.apply("L2", "E9", [{ t: "takeover", at: at + 3, from: at + 2 }]));
  await mirror.load();
  seen.push(mirror.breakAfter(["b"], 8)?.reason, mirror.breakAfter(["b"], 8)?.from.at);
  stream.lease = undefined;
  await step(() => store.apply("L2", "E9", []));
  const records = plain(await store.load());
  // Redis lost the stream: a new epoch, the records are stale.
  stream.lease = "L2";
  stream.epoch = "E2";
  await step(() => store.apply("L2", "E9", []));
  await mirror.load();
  seen.push(mirror.breakAfter([], 1)?.reason);
  return { seen, records };
}

Deno.test({
  name: "coverage store: Redis and memory hold the same records after the same writes",
  ignore: !ready,
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async () => {
    await using redis = await startRedis();
    const client: RedisClient = createRedis({ url: redis.url, log, redact: (s) => s, name: "t" });
    await client.connect();
    try {
      const keys = new ClusterKeys("c").source("lab");
      const at = Date.now() + 60_000; // later than Redis's own clock, so `wrote` never wins
      const onRedis: Stream = { lease: "L1", epoch: "E1", top: 0 };
      const fromRedis = await run(new RedisCoverageStore(client, keys), onRedis, async () => {
        if (onRedis.lease) await client.set(keys.lease, onRedis.lease);
        else await client.del(keys.lease);
        await client.hSet(keys.meta, { epoch: onRedis.epoch, top: String(onRedis.top) });
      }, at);
      const inMemory: Stream = { lease: "L1", epoch: "E1", top: 0 };
      const memory = new MemoryCoverageStore({
        lease: () => inMemory.lease,
        head: () => ({ epoch: inMemory.epoch, top: inMemory.top }),
      });
      const fromMemory = await run(memory, inMemory, () => Promise.resolve(), at);
      assertEquals(fromMemory, fromRedis);
      assertEquals(fromRedis.seen, [
        "resync",
        { ok: true, epoch: "E1" },
        { ok: true, epoch: "E1" },
        { at: at + 1, offset: 5 }, // the source's gap ended after offset 5: a cursor at 4 breaks
        undefined, // a cursor after both gaps resumes
        2, // b's open gap and the source's closed one (a's initial one is not listed)
        { ok: true, epoch: "E1" },
        "NOT_REGISTERED", // a is wanted by nobody now: open
        undefined, // b ended at 6, before the cursor
        "fenced",
        { ok: true, epoch: "E1" },
        "NO_HOLDER", // after a takeover the source is open from the old holder's end
        at + 2,
        "nolease",
        "resync",
        "NO_HOLDER", // records of another epoch say nothing for this stream
      ]);
    } finally {
      await closeRedis(client);
    }
  },
});
