/**
 * `deno task bench`: the relay's fan-out against a raw Deno WebSocket broadcast, measured
 * in the same run, the way issue 11 describes.
 *
 * Processes: each target under test (`server.ts`: raw or relay) runs in its own process
 * pinned with `taskset` to CPU 0; the load generator (`loadgen.ts`: the DRP upstream and
 * every client socket, speaking graphql-transport-ws to the relay over real TCP) runs in
 * another pinned to CPU 1. This process only orchestrates. Without `taskset` or a second
 * CPU the processes run unpinned and the table says so.
 *
 * Cases:
 * - fanout: N clients all subscribed to `drpEvents(type: "machines")` (one shared stream),
 *   a burst of E events and E events at a fixed rate; per round: server CPU per delivery,
 *   deliveries/s (first emit to last delivery), p99 latency (emit to client), the longest
 *   gap between successive deliveries on any socket, lost and duplicated frames; idle RSS
 *   per subscribed connection (after a full GC, before any event).
 * - distinct: N clients with `drpEvents(key: "m-<i>")`, each event for one client; CPU per
 *   delivered event across N (flat means indexed matching).
 * - storm: N clients connecting and subscribing at once against the default config; how
 *   many were refused.
 * - soak (BENCH_SOAK=1, or the ci profile's short one): distinct subscribers and a long
 *   paced stream; RSS after warm-up, closed sockets, loss.
 *
 * Ratios are of medians within this run (the machine is shared and noisy). Results go to
 * tests/bench/results/<profile>.json, and the previous file's ratios are printed beside.
 *
 * Profiles (BENCH_PROFILE): `full` (default; N = 1,000 and 5,000, 200 events, 3 rounds;
 * distinct 100/1,000/10,000; storm 5,000) and `ci` (bounded: seconds, and it fails on
 * loss, duplicates, closed sockets, refusals or a relay stall). Knobs: BENCH_SIZES,
 * BENCH_EVENTS, BENCH_ROUNDS, BENCH_RATE, BENCH_DISTINCT_SIZES, BENCH_STORM,
 * BENCH_CASES (comma list of fanout,distinct,storm,soak), BENCH_SOAK=1, BENCH_SOAK_EVENTS,
 * BENCH_SOAK_RATE, BENCH_SOAK_SUBSCRIBERS, BENCH_MODES (burst,100), BENCH_OUT (the results file's name), BENCH_HEAP (a
 * directory for heap snapshots before and after connecting; `heap_diff.ts` compares them),
 * BENCH_CPU_PROF (a directory for V8 CPU profiles of
 * the targets, `--cpu-prof`).
 *
 * @module
 */
import { canPin, Child } from "./lines.ts";
import type { RoundResult } from "./loadgen.ts";
import type { ServerConfig, ServerStats } from "./server.ts";

// deno-lint-ignore no-console
const print = (line = "") => console.log(line);

const env = (name: string) => Deno.env.get(name) ?? "";
const ints = (text: string) => text.split(",").map(Number).filter((n) => n > 0);
const PROFILE = env("BENCH_PROFILE") || "full";
const CI = PROFILE === "ci";
const num = (name: string, full: number, ci: number) => Number(env(name)) || (CI ? ci : full);

const SIZES = ints(env("BENCH_SIZES") || (CI ? "200" : "1000,5000"));
const EVENTS = num("BENCH_EVENTS", 200, 50);
const ROUNDS = num("BENCH_ROUNDS", 3, 1);
const RATE = num("BENCH_RATE", 100, 100);
/** Which rounds: "burst", "100" (the paced ones), or both (default). */
const MODES = env("BENCH_MODES");
const DISTINCT_SIZES = ints(env("BENCH_DISTINCT_SIZES") || (CI ? "50,200" : "100,1000,10000"));
const DISTINCT_EVENTS = num("BENCH_DISTINCT_EVENTS", 2000, 400);
const STORM = num("BENCH_STORM", 5000, 500);
const SOAK_SUBSCRIBERS = num("BENCH_SOAK_SUBSCRIBERS", 2000, 200);
const SOAK_EVENTS = num("BENCH_SOAK_EVENTS", 500_000, 4000);
const SOAK_RATE = num("BENCH_SOAK_RATE", 500, 500);
const CASES = new Set(
  (env("BENCH_CASES") || "fanout,distinct,storm" + (CI || env("BENCH_SOAK") === "1" ? ",soak" : ""))
    .split(","),
);
const OPEN_LIMITS = { server: { limits: { subscriptionsPerMinute: 1_000_000 } } };

const here = (file: string) => new URL(file, import.meta.url).pathname;

interface Placed {
  server: number | undefined;
  loadgen: number | undefined;
}

async function placement(): Promise<Placed> {
  return (await canPin()) ? { server: 0, loadgen: 1 } : { server: undefined, loadgen: undefined };
}

/** One process under test; its clients live in the load generator. */
class Target {
  private constructor(
    readonly name: string,
    readonly server: Child,
    readonly port: number,
    readonly loadgen: Child,
  ) {}

  static async start(
    name: string,
    mode: "raw" | "relay",
    loadgen: Child,
    cpu: number | undefined,
    options: { relayConfig?: Record<string, unknown>; filter?: string } = {},
  ): Promise<Target> {
    const source = await loadgen.call<ServerConfig["source"]>("upstream", { target: name });
    const config: ServerConfig = { mode, source, ...options };
    const profile = env("BENCH_CPU_PROF"); // a directory: V8 CPU profiles of every target
    const server = new Child(here("./server.ts"), [JSON.stringify(config)], { cpu }, [
      "--allow-net",
      "--allow-env",
      "--allow-read",
      "--v8-flags=--expose-gc",
      ...(profile ? ["--allow-write", "--cpu-prof", `--cpu-prof-dir=${profile}`] : []),
      ...(env("BENCH_HEAP") ? [`--allow-write=${env("BENCH_HEAP")}`] : []),
    ]);
    const { port } = await server.reply<{ port: number }>(`${name} start`);
    return new Target(name, server, port, loadgen);
  }

  get url(): string {
    return `ws://127.0.0.1:${this.port}/graphql`;
  }

  stats(gc = false): Promise<ServerStats> {
    return this.server.call<ServerStats>("stats", { gc });
  }

  /** Opens and subscribes `n` clients; waits until the server counts them all. */
  async connect(n: number, distinct: boolean, concurrency: number, needAll = true) {
    const mode = this.name.startsWith("raw") ? "raw" : "gql";
    const result = await this.loadgen.call<{ ms: number; failed: number; firstError?: string }>(
      "connect",
      { target: this.name, url: this.url, mode, n, distinct, concurrency },
    );
    if (result.failed > 0 && needAll) {
      throw new Error(`${this.name}: ${result.failed} sockets failed: ${result.firstError}`);
    }
    const deadline = Date.now() + 120_000;
    let stats = await this.stats();
    while (stats.subscribers < n - result.failed && Date.now() < deadline) {
      const refused = await this.loadgen.call<string[]>("refused", { target: this.name });
      if (refused.length > 0 && stats.subscribers + refused.length >= n) break;
      await new Promise((resolve) => setTimeout(resolve, 200));
      stats = await this.stats();
    }
    return { ...result, subscribers: stats.subscribers };
  }

  round(events: number, rate: number, seed: number): Promise<RoundResult> {
    return this.loadgen.call<RoundResult>("round", {
      target: this.name,
      events,
      rate,
      seed,
      idleTimeoutMs: 20_000,
    });
  }

  #closed = false;

  /** Disconnects its clients and stops its process (once). */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.loadgen.call("disconnect", { target: this.name }).catch(() => {});
    await this.server.close();
  }
}

function startLoadgen(cpu: number | undefined): Child {
  return new Child(here("./loadgen.ts"), [], { cpu }, [
    "--allow-net",
    "--allow-env",
    "--allow-read",
  ]);
}

const median = (values: number[]) => {
  const s = values.filter((v) => Number.isFinite(v)).sort((a, b) => a - b);
  if (s.length === 0) return NaN;
  const mid = s.length >> 1;
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
};
const settle = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** A measured round: the loadgen's view plus the server's CPU. */
interface Measured extends RoundResult {
  cpuPerDeliveryUs: number;
  deliveriesPerS: number;
}

const TRACE = env("BENCH_TRACE") === "1";

/** BENCH_TRACE: the target's longest silence (no socket.send) in a round, and what it did. */
async function traced(target: Target, since: number): Promise<void> {
  type Bucket = { sends: number; cpuMs: number; lagMs: number };
  const { from, buckets } = await target.server.call<{ from: number; buckets: Bucket[] }>(
    "trace",
    { since },
  );
  let best = { start: 0, len: 0, cpu: 0, lag: 0 };
  let run = { start: 0, len: 0, cpu: 0, lag: 0 };
  // Only silences between sends count: the tail after the round is idle by design.
  const lastSend = buckets.findLastIndex((b) => b.sends > 0);
  buckets.slice(0, lastSend).forEach((b, i) => {
    if (b.sends > 0) run = { start: i + 1, len: 0, cpu: 0, lag: 0 };
    else {
      run.len++;
      run.cpu += b.cpuMs;
      run.lag = Math.max(run.lag, b.lagMs);
      if (run.len > best.len) best = { ...run };
    }
  });
  const sends = buckets.map((b) => b.sends);
  const cpu = buckets.reduce((a, b) => a + b.cpuMs, 0);
  print(
    `    trace ${target.name}: ${sends.reduce((a, b) => a + b, 0)} sends over ${
      buckets.length * 100
    } ms, cpu ${cpu.toFixed(0)} ms; longest silence ${best.len * 100} ms at +${
      (best.start) * 100
    } ms (cpu ${best.cpu.toFixed(0)} ms, max timer lag ${
      best.lag.toFixed(0)
    } ms) [t0 bucket ${from}]`,
  );
}

async function measured(target: Target, events: number, rate: number, seed: number) {
  const since = TRACE ? await target.server.call<number>("trace") : 0;
  const before = await target.stats();
  const r = await target.round(events, rate, seed);
  const after = await target.stats();
  if (TRACE) await traced(target, since);
  const slow = after.slowConsumerCloses - before.slowConsumerCloses;
  if (slow > 0) print(`  (${target.name}: ${slow} sockets closed as slow consumers)`);
  const m: Measured = {
    ...r,
    cpuPerDeliveryUs: (after.cpuUs - before.cpuUs) / Math.max(1, r.received),
    deliveriesPerS: r.received / (r.wallMs / 1000),
  };
  return m;
}

interface Summary {
  deliveriesPerS: number;
  cpuPerDeliveryUs: number;
  p99Ms: number;
  maxGapMs: number;
  lost: number;
  duplicated: number;
  closed: number;
  rounds: number;
}

function summarize(rounds: Measured[]): Summary {
  return {
    deliveriesPerS: median(rounds.map((r) => r.deliveriesPerS)),
    cpuPerDeliveryUs: median(rounds.map((r) => r.cpuPerDeliveryUs)),
    p99Ms: median(rounds.map((r) => r.p99Ms)),
    maxGapMs: Math.max(...rounds.map((r) => r.maxGapMs)),
    lost: rounds.reduce((a, r) => a + r.lost, 0),
    duplicated: rounds.reduce((a, r) => a + r.duplicated, 0),
    closed: rounds.reduce((a, r) => a + r.closed, 0),
    rounds: rounds.length,
  };
}

// ---------------------------------------------------------------------------------------
// Cases

interface FanoutRow {
  n: number;
  mode: string;
  raw: Summary;
  relay: Summary;
  idleKb: { raw: number; relay: number };
}

interface Results {
  profile: string;
  startedAt: string;
  pinned: boolean;
  deno: string;
  fanout: FanoutRow[];
  distinct: { n: number; events: number; relay: Summary; raw: Summary }[];
  storm?: { n: number; refused: number; failed: number; ms: number; firstRefusal?: string };
  soak?: Record<string, unknown>;
  failures: string[];
}

/** BENCH_HEAP: a directory for heap snapshots of each target before and after connecting. */
const HEAP = env("BENCH_HEAP");

async function idleKbPerConnection(t: Target, n: number, distinct: boolean): Promise<number> {
  const snapshot = (when: string) =>
    HEAP ? t.server.call("heap", { path: `${HEAP}/${t.name}-${n}-${when}.heapsnapshot` }) : 0;
  await snapshot("before");
  const before = await t.stats(true);
  await t.connect(n, distinct, 100);
  await settle(2000);
  const after = await t.stats(true);
  await snapshot("after");
  return (after.rss - before.rss) / n / 1024;
}

async function fanoutCase(n: number, place: Placed, results: Results): Promise<void> {
  const loadgen = startLoadgen(place.loadgen);
  const raw = await Target.start("raw", "raw", loadgen, place.server, { filter: "machines.*.*" });
  const relay = await Target.start("relay", "relay", loadgen, place.server, {
    relayConfig: OPEN_LIMITS,
  });
  try {
    print(`N=${n}: connecting ${n} clients to each target...`);
    const idleKb = {
      raw: await idleKbPerConnection(raw, n, false),
      relay: await idleKbPerConnection(relay, n, false),
    };
    print(
      `  idle KB per subscribed connection: raw ${idleKb.raw.toFixed(1)}, relay ${
        idleKb.relay.toFixed(1)
      }`,
    );
    for (const t of [raw, relay]) await t.round(Math.min(EVENTS, 50), 0, 9); // warm-up
    const modes = ([["burst", 0], [`${RATE} ev/s`, RATE]] as const).filter(([mode]) =>
      MODES === "" || MODES.split(",").some((m) => mode.startsWith(m))
    );
    for (const [mode, rate] of modes) {
      const rounds: Record<string, Measured[]> = { raw: [], relay: [] };
      for (let i = 0; i < ROUNDS; i++) {
        for (const t of [raw, relay]) {
          const m = await measured(t, EVENTS, rate, 10 + i);
          rounds[t.name]!.push(m);
          print(
            `  ${mode} round ${i + 1} ${t.name.padEnd(5)}: ${
              m.cpuPerDeliveryUs.toFixed(1)
            } µs/deliv, ` +
              `${Math.round(m.deliveriesPerS)} deliv/s, p99 ${m.p99Ms} ms, max gap ${
                m.maxGapMs.toFixed(0)
              } ms, lost ${m.lost}, dup ${m.duplicated}${m.timedOut ? " (timed out)" : ""}`,
          );
        }
      }
      results.fanout.push({
        n,
        mode,
        raw: summarize(rounds.raw!),
        relay: summarize(rounds.relay!),
        idleKb,
      });
    }
  } finally {
    await raw.close();
    await relay.close();
    await loadgen.close();
  }
}

async function distinctCase(n: number, place: Placed, results: Results): Promise<void> {
  const loadgen = startLoadgen(place.loadgen);
  const rounds: Record<string, Measured[]> = { "raw-distinct": [], "relay-distinct": [] };
  const start = (name: "raw-distinct" | "relay-distinct") =>
    name === "raw-distinct"
      ? Target.start(name, "raw", loadgen, place.server, { filter: "machines.*.*" })
      : Target.start(name, "relay", loadgen, place.server, { relayConfig: OPEN_LIMITS });
  const measure = async (targets: Target[]) => {
    for (const t of targets) await t.connect(n, true, 100);
    for (const t of targets) await t.round(Math.min(DISTINCT_EVENTS, 200), 0, 9);
    for (let i = 0; i < ROUNDS; i++) {
      for (const t of targets) {
        const m = await measured(t, DISTINCT_EVENTS, 0, 20 + i);
        rounds[t.name]!.push(m);
        print(
          `  round ${i + 1} ${t.name}: ${m.cpuPerDeliveryUs.toFixed(1)} µs per delivered event, ` +
            `lost ${m.lost}, dup ${m.duplicated}`,
        );
      }
    }
  };
  // Both fleets at once would need 2n sockets in the load generator: past 5,000 (open-file
  // limits of 20,000 here) the targets are measured one after the other, not interleaved.
  const together = n <= 5000;
  const targets: Target[] = [];
  try {
    print(`distinct N=${n}: connecting${together ? "" : " (targets one after the other)"}...`);
    if (together) {
      targets.push(await start("raw-distinct"), await start("relay-distinct"));
      await measure(targets);
    } else {
      for (const name of ["raw-distinct", "relay-distinct"] as const) {
        const t = await start(name);
        targets.push(t);
        await measure([t]);
        await t.close();
      }
    }
    results.distinct.push({
      n,
      events: DISTINCT_EVENTS,
      raw: summarize(rounds["raw-distinct"]!),
      relay: summarize(rounds["relay-distinct"]!),
    });
  } finally {
    for (const t of targets) await t.close();
    await loadgen.close();
  }
}

async function stormCase(place: Placed, results: Results): Promise<void> {
  const loadgen = startLoadgen(place.loadgen);
  // The default config: no limit raised.
  const relay = await Target.start("storm", "relay", loadgen, place.server, {});
  try {
    print(`storm: ${STORM} anonymous clients connect and subscribe at once (default config)...`);
    const r = await relay.connect(STORM, false, STORM, false);
    await settle(1000);
    const refusals = await loadgen.call<string[]>("refused", { target: "storm" });
    const stats = await relay.stats();
    results.storm = {
      n: STORM,
      refused: refusals.length,
      failed: r.failed,
      ms: r.ms,
      ...(refusals[0] ? { firstRefusal: refusals[0] } : {}),
    };
    print(
      `  ${stats.subscribers} subscribed, ${refusals.length} refused, ${r.failed} sockets failed, ` +
        `${r.ms.toFixed(0)} ms to connect all`,
    );
  } finally {
    await relay.close();
    await loadgen.close();
  }
}

async function soakCase(place: Placed, results: Results): Promise<void> {
  const loadgen = startLoadgen(place.loadgen);
  const relay = await Target.start("soak", "relay", loadgen, place.server, {
    relayConfig: OPEN_LIMITS,
  });
  try {
    const n = SOAK_SUBSCRIBERS;
    print(`soak: ${n} subscribers, ${SOAK_EVENTS} events at ${SOAK_RATE}/s...`);
    await relay.connect(n, true, 100);
    const samples: { atS: number; rss: number; heapUsed: number }[] = [];
    const t0 = Date.now();
    let sampling = true;
    const sampler = (async () => {
      while (sampling) {
        const s = await relay.stats();
        samples.push({ atS: (Date.now() - t0) / 1000, rss: s.rss, heapUsed: s.heapUsed });
        await settle(CI ? 1000 : 10_000);
      }
    })();
    const r = await relay.round(SOAK_EVENTS, SOAK_RATE, 30);
    sampling = false;
    await sampler;
    const open = await loadgen.call<number>("open", { target: "soak" });
    // Warm-up: the first fifth of the run (JIT, buffers, history filling up).
    const warm = samples.filter((s) => s.atS >= samples.at(-1)!.atS / 5);
    const rss = warm.map((s) => s.rss);
    const base = rss[0] ?? NaN;
    const drift = Math.max(...rss.map((v) => Math.abs(v - base) / base));
    // Growth (a leak) shows as a trend: the median of the last fifth against the median of
    // the fifth after warm-up. V8 grows its old generation in a sawtooth before it settles,
    // which the single-sample drift above also counts.
    const fifth = (i: number) =>
      median(
        samples.filter((s) =>
          s.atS >= (i * samples.at(-1)!.atS) / 5 &&
          s.atS < ((i + 1) * samples.at(-1)!.atS) / 5 + 1e-9
        ).map((s) => s.rss),
      );
    const trend = (fifth(4) - fifth(1)) / fifth(1);
    results.soak = {
      subscribers: n,
      events: SOAK_EVENTS,
      rate: SOAK_RATE,
      seconds: (Date.now() - t0) / 1000,
      received: r.received,
      lost: r.lost,
      duplicated: r.duplicated,
      closed: r.closed,
      stillOpen: open,
      rssAfterWarmupMb: base / 1e6,
      rssMaxDriftPct: drift * 100,
      rssTrendPct: trend * 100,
      rssSamplesMb: samples.map((s) => Math.round(s.rss / 1e5) / 10),
    };
    print(
      `  received ${r.received}/${r.expected}, lost ${r.lost}, dup ${r.duplicated}, closed ${r.closed}, ` +
        `RSS after warm-up ${(base / 1e6).toFixed(0)} MB, max drift ${
          (drift * 100).toFixed(1)
        }%, ` +
        `trend (last fifth vs second) ${(trend * 100).toFixed(1)}%`,
    );
  } finally {
    await relay.close();
    await loadgen.close();
  }
}

// ---------------------------------------------------------------------------------------
// Report

const x = (a: number, b: number) => `${(a / b).toFixed(2)}×`;
const k = (v: number) => v >= 10_000 ? `${(v / 1000).toFixed(1)}k` : v.toFixed(0);
const ms = (v: number) => v >= 1000 ? `${(v / 1000).toFixed(2)} s` : `${v.toFixed(0)} ms`;

function table(results: Results, previous: Results | undefined): void {
  if (results.fanout.length > 0) fanoutTable(results, previous);
  if (results.distinct.length > 0) distinctTable(results);
  if (results.storm) {
    const s = results.storm;
    print();
    print(
      `storm: ${s.n} clients at once, default config: ${s.refused} refused, ${s.failed} failed, ` +
        ms(s.ms),
    );
    if (s.firstRefusal) print(`  first refusal: ${s.firstRefusal}`);
  }
  if (results.soak) print(`soak: ${JSON.stringify({ ...results.soak, rssSamplesMb: undefined })}`);
}

function fanoutTable(results: Results, previous: Results | undefined): void {
  print();
  print(
    `| N clients, offered rate | deliveries/s relay / raw | CPU per delivery relay / raw | ` +
      `p99 relay / raw | longest gap relay / raw | KB per idle subscribed connection ` +
      `relay / raw | lost, dup |`,
  );
  print("| --- | --- | --- | --- | --- | --- | --- |");
  for (const row of results.fanout) {
    const { raw, relay } = row;
    const prev = previous?.fanout.find((p) => p.n === row.n && p.mode === row.mode);
    const was = prev
      ? ` (last run ${x(prev.relay.cpuPerDeliveryUs, prev.raw.cpuPerDeliveryUs)})`
      : "";
    const cells = [
      `${row.n.toLocaleString("en-US")}, ${row.mode}`,
      `${k(relay.deliveriesPerS)} / ${k(raw.deliveriesPerS)} ` +
      `(${x(relay.deliveriesPerS, raw.deliveriesPerS)})`,
      `${relay.cpuPerDeliveryUs.toFixed(1)} / ${raw.cpuPerDeliveryUs.toFixed(1)} µs ` +
      `(${x(relay.cpuPerDeliveryUs, raw.cpuPerDeliveryUs)})${was}`,
      `${ms(relay.p99Ms)} / ${ms(raw.p99Ms)} (${x(relay.p99Ms, raw.p99Ms)})`,
      `${ms(relay.maxGapMs)} / ${ms(raw.maxGapMs)}`,
      `${row.idleKb.relay.toFixed(0)} / ${row.idleKb.raw.toFixed(0)} ` +
      `(${x(row.idleKb.relay, row.idleKb.raw)})`,
      `${relay.lost + raw.lost}, ${relay.duplicated + raw.duplicated}`,
    ];
    print(`| ${cells.join(" | ")} |`);
  }
}

function distinctTable(results: Results): void {
  print();
  print(
    "| distinct subscriptions N | µs CPU per delivered event relay / raw | " +
      "vs shared stream (relay) | lost, dup |",
  );
  print("| --- | --- | --- | --- |");
  const shared = results.fanout.find((r) => r.mode === "burst")?.relay.cpuPerDeliveryUs;
  for (const d of results.distinct) {
    const cells = [
      d.n.toLocaleString("en-US"),
      `${d.relay.cpuPerDeliveryUs.toFixed(1)} / ${d.raw.cpuPerDeliveryUs.toFixed(1)} ` +
      `(${x(d.relay.cpuPerDeliveryUs, d.raw.cpuPerDeliveryUs)})`,
      shared ? x(d.relay.cpuPerDeliveryUs, shared) : "-",
      `${d.relay.lost}, ${d.relay.duplicated}`,
    ];
    print(`| ${cells.join(" | ")} |`);
  }
}

/** The ci profile's pass/fail rules: correctness, not speed (the machine is shared). */
function check(results: Results): string[] {
  const out: string[] = [];
  for (const row of results.fanout) {
    for (const [name, s] of [["raw", row.raw], ["relay", row.relay]] as const) {
      if (s.lost || s.duplicated || s.closed) {
        out.push(
          `fanout N=${row.n} ${row.mode} ${name}: lost ${s.lost}, dup ${s.duplicated}, closed ${s.closed}`,
        );
      }
    }
    // A stall shows as one long silence on a socket while raw streams on.
    if (row.relay.maxGapMs > Math.max(1000, 3 * row.raw.maxGapMs)) {
      out.push(
        `fanout N=${row.n} ${row.mode}: relay stalled ${ms(row.relay.maxGapMs)} (raw ${
          ms(row.raw.maxGapMs)
        })`,
      );
    }
  }
  for (const d of results.distinct) {
    if (d.relay.lost || d.relay.duplicated) {
      out.push(`distinct N=${d.n}: lost ${d.relay.lost}, dup ${d.relay.duplicated}`);
    }
  }
  if (results.storm && (results.storm.refused > 0 || results.storm.failed > 0)) {
    out.push(`storm: ${results.storm.refused} refused, ${results.storm.failed} failed`);
  }
  const soak = results.soak as { lost: number; duplicated: number; closed: number } | undefined;
  if (soak && (soak.lost || soak.duplicated || soak.closed)) {
    out.push(`soak: ${JSON.stringify(soak)}`);
  }
  return out;
}

async function main(): Promise<number> {
  const run = await Deno.permissions.query({ name: "run" });
  if (run.state !== "granted") {
    print(
      "The benchmark runs its targets and clients in separate processes: it needs --allow-run.",
    );
    return 2;
  }
  const place = await placement();
  const started = performance.now();
  print(
    `relay fan-out benchmark (${PROFILE}): cases ${[...CASES].join(", ")}; ` +
      (place.server === undefined
        ? "NOT pinned (no taskset or a single CPU)"
        : "targets on CPU 0, load generator on CPU 1"),
  );
  const results: Results = {
    profile: PROFILE,
    startedAt: new Date().toISOString(),
    pinned: place.server !== undefined,
    deno: Deno.version.deno,
    fanout: [],
    distinct: [],
    failures: [],
  };
  const file = here(
    `./results/${env("BENCH_OUT") || (PROFILE === "full" ? "last" : PROFILE)}.json`,
  );
  let previous: Results | undefined;
  try {
    previous = JSON.parse(await Deno.readTextFile(file)) as Results;
  } catch {
    previous = undefined;
  }
  await Deno.mkdir(here("./results"), { recursive: true });
  // Written after every case too, so a run cut short keeps what it measured.
  const save = () => Deno.writeTextFile(file, JSON.stringify(results, null, 2) + "\n");
  const attempt = async (what: string, run: () => Promise<void>) => {
    try {
      await run();
    } catch (err) {
      const message = `${what}: ${err instanceof Error ? err.message : String(err)}`;
      results.failures.push(message);
      print(`FAILED ${message}`);
    }
    await save();
  };
  if (CASES.has("fanout")) {
    for (const n of SIZES) {
      await attempt(`fanout N=${n}`, () => fanoutCase(n, place, results));
    }
  }
  if (CASES.has("distinct")) {
    for (const n of DISTINCT_SIZES) {
      await attempt(`distinct N=${n}`, () => distinctCase(n, place, results));
    }
  }
  if (CASES.has("storm")) await attempt("storm", () => stormCase(place, results));
  if (CASES.has("soak")) await attempt("soak", () => soakCase(place, results));

  table(results, previous);
  if (CI) results.failures.push(...check(results));
  await save();
  print();
  print(`numbers written to ${file}; total ${((performance.now() - started) / 1000).toFixed(0)} s`);
  for (const f of results.failures) print(`FAIL ${f}`);
  return results.failures.length > 0 ? 1 : 0;
}

Deno.exitCode = await main();
