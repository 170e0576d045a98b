/**
 * `deno task bench`, cluster case: two relay nodes on one Redis against single-node mode, in
 * the same run. The ingest node (holding the DRP socket) runs in its own process; the edge
 * node and the single node run in this process, one after the other, with their subscribers
 * in a client process (`clients.ts`), so this process's CPU is the serving node's.
 *
 * - CPU per delivery: N subscribers sharing one stream; E events per round; medians.
 * - Latency at 100 events/s: one subscriber in this process, emit time to receive time.
 *
 * Knobs: BENCH_CLUSTER ("0" skips it), BENCH_CLUSTER_N (default 500), BENCH_ROUNDS (3 here).
 *
 * @module
 */
import process from "node:process";
import { createDrpSimulator, type DrpSimulator } from "../../src/simulators/drp/simulator.ts";
import { spawnNode, startNode, waitForHolder } from "../helpers/cluster.ts";
import { connectClient } from "../helpers/gql_client.ts";
import { startRedis } from "../helpers/redis_server.ts";
import { findBinary } from "../helpers/services.ts";
import { startRelay, type TestRelay, waitFor } from "../helpers/relay.ts";
import { machineEvents } from "./events.ts";

// deno-lint-ignore no-console
const print = (line = "") => console.log(line);

const QUERY = 'subscription { drpEvents(type: "machines") { id type action key subject time ' +
  "object } }";
const N = Number(Deno.env.get("BENCH_CLUSTER_N") ?? 500) || 500;
const ROUNDS = Number(Deno.env.get("BENCH_ROUNDS") ?? 3) || 3;
const EVENTS = 100;
const RATE = 100;
const LATENCY_SECONDS = 3;

/** The client process: `arm <n>` → `armed`, then `done <count> …` once n frames arrived. */
class Subscribers {
  readonly #child: Deno.ChildProcess;
  readonly #writer: WritableStreamDefaultWriter<Uint8Array>;
  readonly #lines: string[] = [];
  #wake: (() => void) | undefined;

  constructor(url: string, n: number) {
    const script = new URL("./clients.ts", import.meta.url).pathname;
    const config = { url, mode: "gql", n, query: QUERY };
    const child = new Deno.Command(Deno.execPath(), {
      args: ["run", "--quiet", "--allow-net=127.0.0.1", script, JSON.stringify(config)],
      stdin: "piped",
      stdout: "piped",
      stderr: "inherit",
    }).spawn();
    this.#child = child;
    this.#writer = child.stdin.getWriter();
    (async () => {
      const decoder = new TextDecoder();
      let buf = "";
      for await (const chunk of child.stdout) {
        buf += decoder.decode(chunk, { stream: true });
        for (let nl; (nl = buf.indexOf("\n")) >= 0; buf = buf.slice(nl + 1)) {
          this.#lines.push(buf.slice(0, nl));
        }
        this.#wake?.();
      }
    })().catch(() => {});
  }

  async line(word: string, timeoutMs: number): Promise<string> {
    const deadline = Date.now() + timeoutMs;
    while (true) {
      const i = this.#lines.findIndex((l) => l === word || l.startsWith(word + " "));
      const failure = this.#lines.find((l) => l.startsWith("fail "));
      if (failure) throw new Error(`client process: ${failure}`);
      if (i >= 0) return this.#lines.splice(0, i + 1).at(-1)!;
      if (Date.now() > deadline) throw new Error(`timed out waiting for "${word}"`);
      await new Promise<void>((r) => {
        this.#wake = r;
        setTimeout(r, 200);
      });
    }
  }

  async send(line: string): Promise<void> {
    await this.#writer.write(new TextEncoder().encode(line + "\n"));
  }

  async close(): Promise<void> {
    await this.send("quit").catch(() => {});
    await this.#writer.close().catch(() => {});
    const killer = setTimeout(() => this.#child.kill("SIGKILL"), 10_000);
    await this.#child.status;
    clearTimeout(killer);
  }
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[s.length >> 1]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};
const pct = (xs: number[], p: number) =>
  [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(xs.length * p))]!;

/** CPU per delivery of the serving node (this process) over `ROUNDS` rounds. */
async function cpuRounds(node: TestRelay, sim: DrpSimulator): Promise<number[]> {
  const subs = new Subscribers(node.wsUrl, N);
  try {
    await subs.line("ready", 120_000);
    await waitFor(() => node.app.ws.shared.memberCount === N, `${N} subscribers`, 60_000);
    await waitFor(
      () => sim.sessions().some((s) => s.filters.includes("machines.*.*")),
      "the upstream registration",
      20_000,
    );
    const out: number[] = [];
    for (let r = 0; r <= ROUNDS; r++) {
      const events = machineEvents(EVENTS, r + 1);
      await subs.send(`arm ${EVENTS * N}`);
      await subs.line("armed", 10_000);
      const cpu0 = process.cpuUsage();
      for (const e of events) {
        sim.emit(e.init);
        await new Promise((res) => setTimeout(res, 0));
      }
      await subs.line("done", 120_000);
      const cpu = process.cpuUsage(cpu0);
      if (r > 0) out.push((cpu.user + cpu.system) / (EVENTS * N)); // round 0 warms up
    }
    return out;
  } finally {
    await subs.close();
  }
}

/** Emit-to-receive latency (ms) of one subscriber at `RATE` events/s. */
async function latency(node: TestRelay, sim: DrpSimulator): Promise<number[]> {
  await using client = connectClient(node.wsUrl);
  const sentAt = new Map<string, number>();
  const got: number[] = [];
  const sub = client.subscribe<{ drpEvents: { key: string } }>(
    'subscription { drpEvents(type: "latency") { key } }',
  );
  const collect = setInterval(() => {
    for (const r of sub.data.slice(got.length)) {
      const t = sentAt.get(r.drpEvents.key);
      if (t !== undefined) got.push(performance.now() - t);
    }
  }, 1);
  try {
    await waitFor(
      () => sim.sessions().some((s) => s.filters.includes("latency.*.*")),
      "latency registration",
      20_000,
    );
    const total = RATE * LATENCY_SECONDS;
    for (let i = 0; i < total; i++) {
      const key = `l${i}`;
      sentAt.set(key, performance.now());
      sim.emit({ Type: "latency", Action: "update", Key: key });
      await new Promise((r) => setTimeout(r, 1000 / RATE));
    }
    await sub.waitForCount(total, 20_000);
    await new Promise((r) => setTimeout(r, 20));
    return got;
  } finally {
    clearInterval(collect);
    sub.stop();
  }
}

/** Runs the cluster case; false when it failed. */
export async function runClusterBench(): Promise<boolean> {
  if (Deno.env.get("BENCH_CLUSTER") === "0") return true;
  if (!findBinary("redis-server")) {
    print("cluster case: SKIPPED, redis-server is not installed");
    return true;
  }
  print(
    `cluster case: N=${N} shared subscribers, ${EVENTS} events x ${ROUNDS} rounds (+1 warm-up); ` +
      `latency at ${RATE} events/s for ${LATENCY_SECONDS} s`,
  );
  await using redis = await startRedis();
  await using sim = createDrpSimulator();
  await sim.start();
  const source = { ...sim.sourceConfig("drp"), resumeWindowMs: 0 };
  const server = { limits: { subscriptionsPerMinute: 1_000_000 } };
  const result: Record<string, { cpu: number[]; lat: number[] }> = {};

  // Single-node mode: the connector and the fan-out in this process.
  {
    await using node = await startRelay([source], { logLevel: "warn", config: { server } });
    result.single = { cpu: await cpuRounds(node, sim), lat: await latency(node, sim) };
  }
  // Cluster: the ingest node in its own process, the edge node in this one.
  {
    await using ingest = await spawnNode({
      server: { port: 0, hostname: "127.0.0.1" },
      logLevel: "info",
      cluster: { redis: redis.url, nodeId: "ingest", role: "ingest", keyPrefix: "bench" },
      sources: [source],
    });
    await using edge = await startNode(redis, "edge", [source], {
      role: "edge",
      keyPrefix: "bench",
      leaseMs: 10_000,
    });
    await waitForHolder([ingest, edge], "drp", 20_000);
    result.edge = { cpu: await cpuRounds(edge, sim), lat: await latency(edge, sim) };
  }
  print();
  print("mode                    µs cpu/deliv  [min-max]     latency p50   p99    vs single");
  const modes = [["single", "single node"], ["edge", "edge node (Redis)"]] as const;
  for (const [name, label] of modes) {
    const r = result[name]!;
    const base = median(result.single!.cpu);
    print(
      `${label.padEnd(22)} ${median(r.cpu).toFixed(2).padStart(12)}  ${
        `${Math.min(...r.cpu).toFixed(1)}-${Math.max(...r.cpu).toFixed(1)}`.padEnd(12)
      } ${median(r.lat).toFixed(2).padStart(9)} ms ${pct(r.lat, 0.99).toFixed(2).padStart(6)}  ${
        (median(r.cpu) / base).toFixed(2)
      }x`,
    );
  }
  print(
    `Redis adds ${(median(result.edge!.lat) - median(result.single!.lat)).toFixed(2)} ms ` +
      "median latency (emit -> subscriber, append + tail round trip)",
  );
  return true;
}

if (import.meta.main) Deno.exitCode = (await runClusterBench()) ? 0 : 1;
