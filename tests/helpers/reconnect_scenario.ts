/**
 * The reconnect scenario every client transport is held to: a relay with a DRP source, a
 * client subscribed to `machines` events through a TCP proxy, a steady stream of events
 * with known keys, and the client cut off twice mid-stream: by default both cuts drop the
 * connection (no close frame); with `restart`, the second cut restarts the relay the client
 * is connected to. The figures say how many events were sent, received, duplicated and
 * missing, and whether they arrived in order.
 *
 * A restart can only lose nothing if the events outlive the process, so `restart` runs the
 * relay as a cluster on a real redis-server: an ingest node holds the vendor socket and
 * appends to the source's stream, the client's edge node serves from it and is the one
 * restarted (SIGTERM-style close, then a new process-equivalent app on a new port).
 *
 * @module
 */
import { createDrpSimulator } from "../../src/simulators/drp/simulator.ts";
import { startNode } from "./cluster.ts";
import type { TestRedis } from "./redis_server.ts";
import { sourceStatus, startRelay, type TestRelay, waitFor } from "./relay.ts";
import { startTcpProxy, type TcpProxy } from "./tcp_proxy.ts";

/** A client under test: it records the `key` of each event it receives. */
export interface ScenarioClient {
  readonly keys: readonly string[];
  close(): Promise<void>;
}

/** Where a client connects (through the proxy). */
export interface ScenarioUrls {
  wsUrl: string;
  httpUrl: string;
}

/** What a run measured. */
export interface ReconnectFigures {
  sent: number;
  received: number;
  duplicated: number;
  missing: number;
  inOrder: boolean;
  /** Connections the proxy accepted (first connect plus reconnects). */
  connections: number;
  /** Relay restarts during the run. */
  restarts: number;
}

/** Options for {@link runReconnectScenario}. */
export interface ScenarioOptions {
  /** Events to send (default 90). */
  total?: number;
  /** Gap between events (default 10 ms). */
  gapMs?: number;
  /** How long to wait for the last event (default 30 s: the machine is shared). */
  timeoutMs?: number;
  /** Extra relay config. */
  config?: Record<string, unknown>;
  /** The two cuts, at a third and two thirds of the stream (default: both cut the proxy). */
  drops?: [Drop | "restart", Drop | "restart"];
  /** Make the second cut a restart of the client's relay node, in a cluster on this Redis. */
  restart?: TestRedis;
}

/** One way to cut the client off mid-stream. */
export type Drop = (relay: TestRelay, proxy: TcpProxy) => void;

/** Runs the scenario against the client `start` creates. */
export async function runReconnectScenario(
  start: (urls: ScenarioUrls, relay: TestRelay) => Promise<ScenarioClient>,
  options: ScenarioOptions = {},
): Promise<ReconnectFigures> {
  const total = options.total ?? 90;
  const gapMs = options.gapMs ?? 10;
  await using sim = createDrpSimulator();
  await sim.start();
  // Standing interest: upstream events reach the history even while no client is connected.
  const sources = [{ ...sim.sourceConfig("lab"), standing: ["*.*.*"] }];
  const redis = options.restart;
  const ingest = redis ? await startNode(redis, "ingest", sources, { role: "ingest" }) : undefined;
  const startEdge = () =>
    redis ? startNode(redis, "edge", sources, { role: "edge" }) : startRelay(sources, {
      ...(options.config ? { config: options.config } : {}),
      logLevel: "warn",
    });
  let relay = await startEdge();
  await waitFor(() => sim.sessions().some((s) => s.filters.includes("*.*.*")), "standing register");
  await using proxy: TcpProxy = startTcpProxy(Number(new URL(relay.httpUrl).port));
  const base = `127.0.0.1:${proxy.port}${new URL(relay.httpUrl).pathname}`;
  const before = (await sourceStatus(relay.httpUrl, "lab")).subscribers;
  const client = await start({ wsUrl: `ws://${base}`, httpUrl: `http://${base}` }, relay);
  let restarting: Promise<void> = Promise.resolve();
  let restarts = 0;
  const restartEdge: Drop = () => {
    restarting = (async () => {
      restarts++;
      await relay.close();
      relay = await startEdge();
      proxy.retarget(Number(new URL(relay.httpUrl).port));
    })();
  };
  try {
    await waitFor(
      async () => (await sourceStatus(relay.httpUrl, "lab")).subscribers > before,
      "the client's subscription",
      20_000,
    );
    const expected: string[] = [];
    const cut: Drop = (_, p) => p.dropAll();
    const pick = (d: Drop | "restart") => (d === "restart" ? restartEdge : d);
    const [first, second] = (options.drops ?? [cut, redis ? "restart" : cut]).map(pick) as [
      Drop,
      Drop,
    ];
    for (let i = 0; i < total; i++) {
      if (i === Math.floor(total / 3)) first(relay, proxy);
      if (i === Math.floor((2 * total) / 3)) second(relay, proxy);
      const key = `e-${i}`;
      expected.push(key);
      sim.emit({ Type: "machines", Action: "update", Key: key, Object: { Name: key } });
      await new Promise((r) => setTimeout(r, gapMs));
    }
    await restarting;
    await waitFor(
      () => new Set(client.keys).size >= total || undefined,
      `all ${total} events (got ${new Set(client.keys).size})`,
      options.timeoutMs ?? 30_000,
    ).catch(() => {});
    // Anything repeated after the last event would show up now.
    await new Promise((r) => setTimeout(r, 300));
    const keys = [...client.keys];
    const unique = new Set(keys);
    return {
      sent: total,
      received: keys.length,
      duplicated: keys.length - unique.size,
      missing: expected.filter((k) => !unique.has(k)).length,
      inOrder: keys.every((k, i) => k === expected[i]),
      connections: proxy.accepted,
      restarts,
    };
  } finally {
    await client.close();
    await restarting.catch(() => {});
    await relay.close();
    await ingest?.close();
  }
}

/** Runs an example program (examples/<name>.ts) and collects the events it prints. */
export function runExample(name: string, urls: ScenarioUrls): ScenarioClient & {
  lines: unknown[];
} {
  const script = new URL(`../../examples/${name}.ts`, import.meta.url).pathname;
  return runProgram([
    "run",
    "--allow-net",
    "--allow-env",
    script,
    urls.wsUrl,
    "--type",
    "machines",
  ]);
}

/**
 * Runs `deno <args>` and collects what it prints, one JSON object a line; `{"event":{"key"}}`
 * lines are the events received. `close()` stops it (SIGTERM) unless it has exited.
 */
export function runProgram(args: string[]): ScenarioClient & {
  lines: unknown[];
  exited: Promise<Deno.CommandStatus>;
} {
  const child = new Deno.Command(Deno.execPath(), {
    args,
    stdout: "piped",
    stderr: "piped",
    env: { NO_COLOR: "1" },
  }).spawn();
  const keys: string[] = [];
  const lines: unknown[] = [];
  const reading = (async () => {
    let buffer = "";
    const decoder = new TextDecoder();
    for await (const chunk of child.stdout) {
      buffer += decoder.decode(chunk, { stream: true });
      let nl: number;
      while ((nl = buffer.indexOf("\n")) >= 0) {
        const text = buffer.slice(0, nl);
        buffer = buffer.slice(nl + 1);
        let line;
        try {
          line = JSON.parse(text);
        } catch {
          line = { text };
        }
        lines.push(line);
        if (line.event?.key) keys.push(line.event.key);
      }
    }
  })();
  const stderr = new Response(child.stderr).text();
  let done = false;
  const exited = child.status.then((s) => {
    done = true;
    return s;
  });
  return {
    keys,
    lines,
    exited,
    close: async () => {
      if (!done) {
        try {
          child.kill("SIGTERM");
        } catch {
          // already exited
        }
      }
      await exited;
      await reading.catch(() => {});
      const err = await stderr;
      if (err.trim()) lines.push({ stderr: err.slice(0, 2000) });
    },
  };
}
