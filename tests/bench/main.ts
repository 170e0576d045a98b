/**
 * `deno task bench`: server-side CPU per delivery of the relay's fan-out, against a raw
 * WebSocket broadcast of the same event text, measured in one run, side by side.
 *
 * For each subscriber count N, three targets run in this process:
 *
 * - raw: `Deno.serve` + `Deno.upgradeWebSocket`, each event's DRP wire text sent to every
 *   socket (the floor: what any WebSocket fan-out costs);
 * - relay shared: DRP simulator -> relay (`startRelay`) -> N graphql-ws subscribers with one
 *   identical subscription, so they share one stream;
 * - relay distinct: the same, but every socket sends distinct variables, so nothing is shared.
 *
 * The N client sockets of each target live in a separate process (`clients.ts`, spawned
 * with `Deno.Command`), so only server work is counted. A round arms the client process
 * (`arm E*N`), reads `process.cpuUsage()`, emits E events (one macrotask apart) and stops
 * the clock when the client process reports that all E*N frames arrived. Rounds of the
 * three targets are interleaved (raw, shared, distinct, raw, ...) so drifting load on a
 * shared machine hits them alike; the table shows medians.
 *
 * Needs `--allow-run` (for the client process) besides net/env/read.
 *
 * Knobs (environment): BENCH_SIZES (default "500,2000"), BENCH_ROUNDS (5),
 * BENCH_DELIVERIES (deliveries per round, default 100000: E = that / N, capped at 200),
 * BENCH_EVENTS (fixed E, overrides), BENCH_DISTINCT ("0" skips the unshared target).
 *
 * @module
 */
import process from "node:process";
import { stringifyMessage } from "graphql-ws";
import { createDrpSimulator, type DrpSimulator } from "../../src/simulators/drp/simulator.ts";
import { startRelay, type TestRelay, waitFor } from "../helpers/relay.ts";
import { type BenchEvent, machineEvents } from "./events.ts";
import type { ClientsConfig } from "./clients.ts";

// deno-lint-ignore no-console
const print = (line = "") => console.log(line);

const QUERY = 'subscription { drpEvents(type: "machines") { id type action key subject time ' +
  "object } }";
// The distinct target sends the same document with per-socket variables (`{ client: i }`,
// not declared by the operation, so execution ignores them): the results are identical, but
// the share key differs, so every socket runs its own stream.
const QUERY_DISTINCT = QUERY;

function envInt(name: string, fallback: number): number {
  const v = Deno.env.get(name);
  const n = v === undefined || v === "" ? NaN : Number(v);
  return Number.isFinite(n) && n > 0 ? Math.floor(n) : fallback;
}

const SIZES = (Deno.env.get("BENCH_SIZES") ?? "500,2000").split(",").map(Number).filter((n) =>
  n > 0
);
const ROUNDS = envInt("BENCH_ROUNDS", 5);
const DELIVERIES = envInt("BENCH_DELIVERIES", 100_000);
const FIXED_EVENTS = envInt("BENCH_EVENTS", 0);
const WITH_DISTINCT = Deno.env.get("BENCH_DISTINCT") !== "0";
const ROUND_TIMEOUT_MS = 120_000;

// ---------------------------------------------------------------------------------------
// The client process

class ClientProcess {
  readonly #child: Deno.ChildProcess;
  readonly #writer: WritableStreamDefaultWriter<Uint8Array>;
  readonly #lines: string[] = [];
  #waiter: (() => void) | undefined;
  #failure: string | undefined;
  #ended = false;
  sample: string | undefined;
  readonly reading: Promise<void>;

  constructor(config: ClientsConfig) {
    const script = new URL("./clients.ts", import.meta.url).pathname;
    this.#child = new Deno.Command(Deno.execPath(), {
      args: ["run", "--quiet", "--allow-net=127.0.0.1", script, JSON.stringify(config)],
      stdin: "piped",
      stdout: "piped",
      stderr: "inherit",
    }).spawn();
    this.#writer = this.#child.stdin.getWriter();
    this.reading = this.#read();
  }

  async #read(): Promise<void> {
    const decoder = new TextDecoder();
    let buffered = "";
    for await (const chunk of this.#child.stdout) {
      buffered += decoder.decode(chunk, { stream: true });
      let nl: number;
      while ((nl = buffered.indexOf("\n")) >= 0) {
        const line = buffered.slice(0, nl);
        buffered = buffered.slice(nl + 1);
        if (line.startsWith("sample ")) this.sample ??= line.slice(7);
        else if (line.startsWith("fail ")) this.#failure ??= line.slice(5);
        else this.#lines.push(line);
        this.#wake();
      }
    }
    this.#ended = true;
    this.#wake();
  }

  #wake(): void {
    const w = this.#waiter;
    this.#waiter = undefined;
    w?.();
  }

  async send(line: string): Promise<void> {
    await this.#writer.write(new TextEncoder().encode(line + "\n"));
  }

  /** The next line starting with `word` (earlier lines are dropped). */
  async expect(word: string, timeoutMs: number): Promise<string> {
    const deadline = performance.now() + timeoutMs;
    while (true) {
      if (this.#failure) throw new Error(`client process: ${this.#failure}`);
      const line = this.#lines.shift();
      if (line !== undefined) {
        if (line === word || line.startsWith(word + " ")) return line;
        continue;
      }
      if (this.#ended) throw new Error(`client process exited while waiting for "${word}"`);
      const left = deadline - performance.now();
      if (left <= 0) throw new Error(`timed out after ${timeoutMs} ms waiting for "${word}"`);
      let timer: ReturnType<typeof setTimeout> | undefined;
      await new Promise<void>((resolve) => {
        this.#waiter = resolve;
        timer = setTimeout(resolve, Math.min(left, 1000));
      });
      clearTimeout(timer);
    }
  }

  async close(): Promise<void> {
    try {
      await this.send("quit");
      await this.#writer.close();
    } catch {
      // already gone
    }
    const killer = setTimeout(() => {
      try {
        this.#child.kill("SIGKILL");
      } catch {
        // exited meanwhile
      }
    }, 10_000);
    await this.#child.status;
    clearTimeout(killer);
    await this.reading.catch(() => {});
  }
}

// ---------------------------------------------------------------------------------------
// Targets

interface Target {
  readonly name: string;
  readonly clients: ClientProcess;
  emit(event: BenchEvent): void;
  close(): Promise<void>;
  /** Anything worth reporting after the run (e.g. slow-consumer closes). */
  notes(): string[];
}

async function startRaw(n: number): Promise<Target> {
  const sockets = new Set<WebSocket>();
  const { promise: listening, resolve } = Promise.withResolvers<void>();
  const server = Deno.serve(
    { port: 0, hostname: "127.0.0.1", onListen: () => resolve() },
    (req) => {
      const { socket, response } = Deno.upgradeWebSocket(req);
      socket.onopen = () => sockets.add(socket);
      socket.onclose = () => sockets.delete(socket);
      socket.onerror = () => {};
      return response;
    },
  );
  await listening;
  const clients = new ClientProcess({
    url: `ws://127.0.0.1:${server.addr.port}/`,
    mode: "raw",
    n,
  });
  await clients.expect("ready", 120_000);
  await waitFor(() => sockets.size === n, `${n} raw sockets open`, 30_000);
  return {
    name: "raw broadcast",
    clients,
    emit(event) {
      for (const s of sockets) s.send(event.text);
    },
    async close() {
      await clients.close();
      for (const s of sockets) {
        try {
          s.close(1001, "bench done");
        } catch {
          // closing already
        }
      }
      await server.shutdown();
    },
    notes: () => [],
  };
}

async function startRelayTarget(n: number, distinct: boolean): Promise<Target> {
  const sim: DrpSimulator = createDrpSimulator();
  await sim.start();
  const relay: TestRelay = await startRelay([sim.sourceConfig("drp")], {
    logLevel: "warn",
    config: { server: { limits: { subscriptionsPerMinute: 1_000_000 } } },
  });
  const clients = new ClientProcess({
    url: relay.wsUrl,
    mode: "gql",
    n,
    query: distinct ? QUERY_DISTINCT : QUERY,
    distinct,
  });
  const { app } = relay;
  try {
    await clients.expect("ready", 120_000);
    await waitFor(
      () =>
        app.ws.shared.memberCount === n &&
        app.ws.shared.groupCount === (distinct ? n : 1) &&
        sim.sessions().some((s) => s.filters.includes("machines.*.*")),
      `${n} ${distinct ? "distinct" : "shared"} subscriptions and the upstream registration`,
      60_000,
    );
  } catch (err) {
    await clients.close();
    await relay.close();
    await sim.stop();
    throw err;
  }
  return {
    name: distinct ? "relay, distinct subs" : "relay, shared stream",
    clients,
    emit(event) {
      sim.emit(event.init);
    },
    async close() {
      await clients.close();
      await relay.close();
      await sim.stop();
    },
    notes() {
      const s = app.ws.stats;
      const out: string[] = [];
      if (s.slowConsumerCloses > 0) out.push(`${s.slowConsumerCloses} slow-consumer closes`);
      const problems = relay.logs.filter((l) => !l.includes("no auth section"));
      if (problems.length > 0) out.push(`${problems.length} warn/error log lines`);
      return out;
    },
  };
}

// ---------------------------------------------------------------------------------------
// Measurement

interface Round {
  cpuUs: number;
  userUs: number;
  systemUs: number;
  wallMs: number;
  frameBytes: number;
}

const macrotask = () => new Promise<void>((resolve) => setTimeout(resolve, 0));

async function runRound(target: Target, events: BenchEvent[], n: number): Promise<Round> {
  const expected = events.length * n;
  await target.clients.send(`arm ${expected}`);
  await target.clients.expect("armed", 10_000);
  const t0 = performance.now();
  const cpu0 = process.cpuUsage();
  for (const event of events) {
    target.emit(event);
    await macrotask();
  }
  const done = await target.clients.expect("done", ROUND_TIMEOUT_MS);
  const cpu = process.cpuUsage(cpu0);
  const wallMs = performance.now() - t0;
  const [, count, , bytes] = done.split(" ");
  if (Number(count) !== expected) throw new Error(`expected ${expected} frames, got ${count}`);
  return {
    cpuUs: cpu.user + cpu.system,
    userUs: cpu.user,
    systemUs: cpu.system,
    wallMs,
    frameBytes: Number(bytes),
  };
}

function median(values: number[]): number {
  const s = [...values].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

interface Row {
  n: number;
  events: number;
  name: string;
  rounds: Round[];
  error?: string;
  notes: string[];
}

function summarize(row: Row) {
  const d = row.n * row.events;
  const perDelivery = row.rounds.map((r) => r.cpuUs / d);
  return {
    cpu: median(perDelivery),
    min: Math.min(...perDelivery),
    max: Math.max(...perDelivery),
    user: median(row.rounds.map((r) => r.userUs / d)),
    system: median(row.rounds.map((r) => r.systemUs / d)),
    wallMs: median(row.rounds.map((r) => r.wallMs)),
    rate: median(row.rounds.map((r) => d / (r.wallMs / 1000))),
    cpuShare: median(row.rounds.map((r) => r.cpuUs / 1000 / r.wallMs)),
    frame: row.rounds[0]?.frameBytes ?? 0,
  };
}

const pad = (s: string, w: number) => s.padEnd(w);
const lpad = (s: string, w: number) => s.padStart(w);

async function benchSize(n: number, rows: Row[]): Promise<string | undefined> {
  const e = FIXED_EVENTS || Math.max(10, Math.min(200, Math.round(DELIVERIES / n)));
  const events = machineEvents(e);
  const warm = machineEvents(Math.min(e, 50), 2);
  print(`N=${n}: ${e} events x ${n} sockets = ${e * n} deliveries per round; starting targets...`);
  const targets: Target[] = [];
  const sizeRows: Row[] = [];
  let sample: string | undefined;
  try {
    const starters: (() => Promise<Target>)[] = [
      () => startRaw(n),
      () => startRelayTarget(n, false),
      ...(WITH_DISTINCT ? [() => startRelayTarget(n, true)] : []),
    ];
    for (const start of starters) targets.push(await start());
    for (const t of targets) {
      sizeRows.push({ n, events: e, name: t.name, rounds: [], notes: [] });
    }
    // Warm-up (not counted): JIT, buffers, first-delivery paths.
    for (const t of targets) await runRound(t, warm, n);
    for (let r = 0; r < ROUNDS; r++) {
      const line: string[] = [];
      for (const [i, t] of targets.entries()) {
        const row = sizeRows[i]!;
        if (row.error) continue;
        try {
          const round = await runRound(t, events, n);
          row.rounds.push(round);
          line.push(`${t.name} ${(round.cpuUs / (e * n)).toFixed(1)}`);
        } catch (err) {
          row.error = err instanceof Error ? err.message : String(err);
          line.push(`${t.name} FAILED`);
        }
      }
      print(`  round ${r + 1}/${ROUNDS} (µs CPU/delivery): ${line.join(" | ")}`);
    }
    sample = targets[1]?.clients.sample;
  } finally {
    for (const [i, t] of targets.entries()) {
      sizeRows[i]?.notes.push(...t.notes());
      await t.close();
    }
    rows.push(...sizeRows);
  }
  return sample;
}

/** In isolation: what serialising one `next` frame costs, per socket, versus a splice. */
function stringifyCost(sample: string): { stringifyUs: number; spliceUs: number } {
  const msg = JSON.parse(sample) as { id: string; type: string; payload: unknown };
  const payload = msg.payload as Record<string, unknown>;
  const reps = 20_000;
  let sink = 0;
  // The same steps graphql-ws takes per socket: spread the result, validate, stringify.
  for (let i = 0; i < 2000; i++) {
    sink += stringifyMessage({ id: "1", type: "next" as never, payload: { ...payload } }).length;
  }
  let t0 = performance.now();
  for (let i = 0; i < reps; i++) {
    sink += stringifyMessage({ id: String(i & 7), type: "next" as never, payload: { ...payload } })
      .length;
  }
  const stringifyUs = (performance.now() - t0) * 1000 / reps;
  const text = JSON.stringify(payload);
  t0 = performance.now();
  for (let i = 0; i < reps; i++) {
    sink += `{"id":${JSON.stringify(String(i & 7))},"type":"next","payload":${text}}`.length;
  }
  const spliceUs = (performance.now() - t0) * 1000 / reps;
  if (sink < 0) print(String(sink));
  return { stringifyUs, spliceUs };
}

// ---------------------------------------------------------------------------------------

async function main(): Promise<number> {
  const run = await Deno.permissions.query({ name: "run", command: Deno.execPath() });
  if (run.state !== "granted") {
    print(
      "The benchmark runs its clients in a separate process and needs --allow-run:\n" +
        "  deno run --allow-net --allow-env --allow-read --allow-run tests/bench/main.ts",
    );
    return 2;
  }
  const started = performance.now();
  print(
    `relay fan-out benchmark: sizes ${SIZES.join(", ")}, ${ROUNDS} rounds each (+1 warm-up), ` +
      `server CPU = process.cpuUsage() user+system of this process; clients in a subprocess`,
  );
  const rows: Row[] = [];
  let sample: string | undefined;
  let failed = false;
  for (const n of SIZES) {
    try {
      sample = (await benchSize(n, rows)) ?? sample;
    } catch (err) {
      failed = true;
      print(`N=${n}: setup failed: ${err instanceof Error ? err.message : String(err)}`);
    }
  }

  print();
  print(
    `Medians over ${ROUNDS} rounds. cpu = server process CPU (user+system) per delivered frame; ` +
      "[min-max] across rounds; core% = server CPU / wall time.",
  );
  const header = [
    pad("N", 6),
    pad("E", 5),
    pad("target", 22),
    lpad("µs cpu/deliv", 13),
    lpad("[min-max]", 13),
    lpad("user", 6),
    lpad("sys", 6),
    lpad("wall ms", 9),
    lpad("deliv/s", 9),
    lpad("core%", 6),
    lpad("frame B", 8),
    lpad("vs raw", 7),
  ].join(" ");
  print(header);
  print("-".repeat(header.length));
  for (const n of SIZES) {
    const group = rows.filter((r) => r.n === n);
    const raw = group.find((r) => r.name === "raw broadcast");
    const rawCpu = raw && raw.rounds.length > 0 ? summarize(raw).cpu : undefined;
    for (const row of group) {
      if (row.rounds.length === 0) {
        print(
          `${pad(String(n), 6)} ${pad(String(row.events), 5)} ${pad(row.name, 22)} FAILED: ${
            row.error ?? "no rounds"
          }`,
        );
        failed = true;
        continue;
      }
      const s = summarize(row);
      print([
        pad(String(n), 6),
        pad(String(row.events), 5),
        pad(row.name, 22),
        lpad(s.cpu.toFixed(2), 13),
        lpad(`${s.min.toFixed(1)}-${s.max.toFixed(1)}`, 13),
        lpad(s.user.toFixed(1), 6),
        lpad(s.system.toFixed(1), 6),
        lpad(s.wallMs.toFixed(0), 9),
        lpad(Math.round(s.rate).toLocaleString("en-US"), 9),
        lpad((s.cpuShare * 100).toFixed(0), 6),
        lpad(String(s.frame), 8),
        lpad(rawCpu ? `${(s.cpu / rawCpu).toFixed(2)}x` : "-", 7),
      ].join(" "));
      if (row.error) print(`       (stopped after ${row.rounds.length} rounds: ${row.error})`);
      for (const note of row.notes) print(`       note: ${note}`);
    }
  }
  print();
  print(
    "Ratios (median relay CPU per delivery / median raw CPU per delivery; DESIGN target <= 1.25x):",
  );
  for (const n of SIZES) {
    const group = rows.filter((r) => r.n === n && r.rounds.length > 0);
    const raw = group.find((r) => r.name === "raw broadcast");
    const shared = group.find((r) => r.name === "relay, shared stream");
    const distinct = group.find((r) => r.name === "relay, distinct subs");
    if (!raw) continue;
    const rc = summarize(raw).cpu;
    const parts = [`  N=${n}:`];
    if (shared) parts.push(`shared/raw ${(summarize(shared).cpu / rc).toFixed(2)}x`);
    if (distinct) parts.push(`distinct/raw ${(summarize(distinct).cpu / rc).toFixed(2)}x`);
    if (shared && distinct) {
      parts.push(
        `distinct/shared ${(summarize(distinct).cpu / summarize(shared).cpu).toFixed(2)}x`,
      );
    }
    print(parts.join("  "));
  }
  if (sample) {
    const { stringifyUs, spliceUs } = stringifyCost(sample);
    print();
    print(
      `Per-socket frame building, in isolation (one ${sample.length}-byte next frame): ` +
        `graphql-ws stringifyMessage ${stringifyUs.toFixed(2)} µs vs splicing the id into a ` +
        `once-built payload ${spliceUs.toFixed(2)} µs.`,
    );
  }
  print();
  print(`total ${((performance.now() - started) / 1000).toFixed(1)} s`);
  return failed ? 1 : 0;
}

Deno.exitCode = await main();
// Everything is closed by now and the process exits on its own; should something still hold
// the event loop open (a leak), this unref'd timer says so and ends the run anyway.
Deno.unrefTimer(setTimeout(() => {
  print("bench: something kept the process alive after shutdown; exiting");
  Deno.exit(Deno.exitCode || 3);
}, 15_000));
