/**
 * `deno task bench`, cluster case: two relay nodes on one Redis beside single-node mode, in
 * the same run, on the processes main.ts uses: every node is a `server.ts` process, the
 * load generator (`loadgen.ts`: the DRP upstream and the client sockets) another.
 *
 * - single: one relay process holding the DRP socket and serving N subscribers;
 * - edge: an `ingest` node process holds the DRP socket and appends to Redis; the measured
 *   `edge` node process tails Redis and serves the same N subscribers.
 *
 * The measured process is pinned to CPU 0 and the load generator to CPU 1 (when `taskset`
 * and two CPUs exist; the ingest node and redis-server share CPU 1). Per mode: CPU per
 * delivery of the serving process in bursts to N subscribers, and emit-to-client latency at
 * 100 events/s to a few subscribers;
 * medians of rounds. Knobs: BENCH_CLUSTER=0 skips it, BENCH_CLUSTER_N (default 500),
 * BENCH_CLUSTER_ROUNDS (3), BENCH_CLUSTER_EVENTS (100).
 *
 * @module
 */
import { waitForHolder } from "../helpers/cluster.ts";
import { startRedis } from "../helpers/redis_server.ts";
import { findBinary } from "../helpers/services.ts";
import { canPin, Child } from "./lines.ts";
import type { RoundResult } from "./loadgen.ts";
import type { ServerConfig, ServerStats } from "./server.ts";

// deno-lint-ignore no-console
const print = (line = "") => console.log(line);

const num = (name: string, fallback: number) => Number(Deno.env.get(name)) || fallback;
const N = num("BENCH_CLUSTER_N", 500);
const ROUNDS = num("BENCH_CLUSTER_ROUNDS", 3);
const EVENTS = num("BENCH_CLUSTER_EVENTS", 100);
const RATE = 100;
/** Subscribers during the latency rounds (few, so the serving node never queues). */
const LATENCY_N = 20;
const here = (file: string) => new URL(file, import.meta.url).pathname;
const OPEN_LIMITS = { server: { limits: { subscriptionsPerMinute: 1_000_000 } } };

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
};

/** A relay node process; resolves once it listens. */
async function node(
  name: string,
  source: ServerConfig["source"],
  relayConfig: Record<string, unknown>,
  cpu: number | undefined,
): Promise<{ child: Child; port: number }> {
  const config: ServerConfig = { mode: "relay", source, relayConfig };
  const child = new Child(here("./server.ts"), [JSON.stringify(config)], { cpu }, [
    "--allow-net",
    "--allow-env",
    "--allow-read",
  ]);
  const { port } = await child.reply<{ port: number }>(`${name} start`);
  return { child, port };
}

interface ModeResult {
  cpuUs: number[];
  p50: number[];
  p99: number[];
  lost: number;
  duplicated: number;
}

/** Opens `n` more subscribers through the load generator and waits until all are counted. */
async function connect(
  loadgen: Child,
  target: string,
  served: { child: Child; port: number },
  n: number,
  total: number,
): Promise<void> {
  const connected = await loadgen.call<{ failed: number; firstError?: string }>("connect", {
    target,
    url: `ws://127.0.0.1:${served.port}/graphql`,
    mode: "gql",
    n,
    distinct: false,
    concurrency: 50,
  });
  if (connected.failed > 0) throw new Error(`${target}: ${connected.firstError}`);
  const deadline = Date.now() + 60_000;
  while ((await served.child.call<ServerStats>("stats")).subscribers < total) {
    if (Date.now() > deadline) throw new Error(`${target}: subscribers did not all arrive`);
    await new Promise((r) => setTimeout(r, 200));
  }
  // In cluster mode the upstream registration travels through Redis: give it a moment.
  await new Promise((r) => setTimeout(r, 1000));
}

/**
 * Latency first, with LATENCY_N subscribers at RATE events/s (light enough not to queue),
 * then N subscribers in bursts for CPU per delivery.
 */
async function measure(
  loadgen: Child,
  target: string,
  served: { child: Child; port: number },
): Promise<ModeResult> {
  const round = (rate: number, seed: number) =>
    loadgen.call<RoundResult>("round", {
      target,
      events: EVENTS,
      rate,
      seed,
      idleTimeoutMs: 20_000,
    });
  const out: ModeResult = { cpuUs: [], p50: [], p99: [], lost: 0, duplicated: 0 };
  await connect(loadgen, target, served, LATENCY_N, LATENCY_N);
  await round(RATE, 99); // warm-up
  for (let i = 0; i < ROUNDS; i++) {
    const paced = await round(RATE, i + 101);
    out.p50.push(paced.p50Ms);
    out.p99.push(paced.p99Ms);
    out.lost += paced.lost;
    out.duplicated += paced.duplicated;
  }
  await connect(loadgen, target, served, N - LATENCY_N, N);
  await round(0, 98); // warm-up
  for (let i = 0; i < ROUNDS; i++) {
    const before = await served.child.call<ServerStats>("stats");
    const burst = await round(0, i + 1);
    const after = await served.child.call<ServerStats>("stats");
    out.cpuUs.push((after.cpuUs - before.cpuUs) / Math.max(1, burst.received));
    out.lost += burst.lost;
    out.duplicated += burst.duplicated;
  }
  await loadgen.call("disconnect", { target });
  return out;
}

/** Runs the cluster case; false when it failed. */
export async function runClusterBench(): Promise<boolean> {
  if (Deno.env.get("BENCH_CLUSTER") === "0") return true;
  if (!findBinary("redis-server")) {
    print("cluster case: SKIPPED, redis-server is not installed");
    return true;
  }
  const pinned = await canPin();
  print(
    `cluster case: ${EVENTS} events per round, ${ROUNDS} rounds each: ${RATE} events/s to ` +
      `${LATENCY_N} subscribers (latency), bursts to ${N} sharing one stream (CPU/delivery); ` +
      (pinned ? "serving node on CPU 0, load generator on CPU 1" : "processes not pinned"),
  );
  await using redis = await startRedis();
  const loadgen = new Child(here("./loadgen.ts"), [], { cpu: pinned ? 1 : undefined }, [
    "--allow-net",
    "--allow-env",
    "--allow-read",
  ]);
  const results: Record<string, ModeResult> = {};
  const cpu0 = pinned ? 0 : undefined;
  try {
    {
      const source = await loadgen.call<ServerConfig["source"]>("upstream", { target: "single" });
      const single = await node("single", source, OPEN_LIMITS, cpu0);
      try {
        results.single = await measure(loadgen, "single", single);
      } finally {
        await single.child.close();
      }
    }
    {
      const source = await loadgen.call<ServerConfig["source"]>("upstream", { target: "edge" });
      const cluster = (nodeId: string, role: string) => ({
        ...OPEN_LIMITS,
        cluster: { redis: redis.url, nodeId, role, keyPrefix: "bench" },
      });
      const ingest = await node(
        "ingest",
        source,
        cluster("ingest", "ingest"),
        pinned ? 1 : undefined,
      );
      const edge = await node("edge", source, cluster("edge", "edge"), cpu0);
      try {
        const http = (port: number) => ({ httpUrl: `http://127.0.0.1:${port}/graphql` });
        await waitForHolder([http(ingest.port), http(edge.port)], "drp", 30_000);
        results.edge = await measure(loadgen, "edge", edge);
      } finally {
        await edge.child.close();
        await ingest.child.close();
      }
    }
  } finally {
    await loadgen.close();
  }
  const single = results.single!;
  const edge = results.edge!;
  print();
  print("mode                 µs cpu/deliv  latency p50  p99 (ms)  lost  dup");
  for (const [label, r] of [["single node", single], ["edge node (Redis)", edge]] as const) {
    print(
      `${label.padEnd(20)} ${median(r.cpuUs).toFixed(2).padStart(11)}  ${
        median(r.p50).toFixed(1).padStart(11)
      }  ${median(r.p99).toFixed(1).padStart(8)}  ${String(r.lost).padStart(4)}  ${
        String(r.duplicated).padStart(3)
      }`,
    );
  }
  print(
    `edge/single CPU per delivery ${(median(edge.cpuUs) / median(single.cpuUs)).toFixed(2)}x; ` +
      `Redis adds ${(median(edge.p50) - median(single.p50)).toFixed(1)} ms median latency ` +
      `at ${RATE} events/s (append on the ingest node + tail on the edge; 1 ms resolution)`,
  );
  return edge.lost + edge.duplicated + single.lost + single.duplicated === 0;
}

if (import.meta.main) Deno.exitCode = (await runClusterBench()) ? 0 : 1;
