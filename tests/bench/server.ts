/**
 * The process under test, one per target, pinned to its own CPU by the parent.
 *
 * - `raw`: the floor. `Deno.serve` + `Deno.upgradeWebSocket`; it reads the same DRP
 *   upstream as the relay, parses each event once, serialises it once, and sends that text
 *   to every socket that asked for `*` (shared), or to the one socket that asked for the
 *   event's key (distinct); each client's request is answered with one `ack` frame.
 * - `relay`: the real relay (`createApp`, the `Deno.serve` handler `main.ts` uses) with one
 *   DRP source pointing at the load generator's simulator.
 *
 * Argument: one JSON {@link ServerConfig}. Commands (JSON lines, see lines.ts): `stats`
 * (memory after a full GC when `--v8-flags=--expose-gc` is on, CPU so far, sockets and
 * subscribers) and `quit`. The first answer line is `{ port }` once listening.
 *
 * @module
 */
// First: graphql-js reads NODE_ENV when it loads.
import "../../src/platform/production.ts";
import process from "node:process";
import v8 from "node:v8";
import { createApp } from "../../src/app.ts";
import { parseConfig } from "../../src/config.ts";
import { createLogger } from "../../src/platform/log.ts";
import { nextTurn } from "../../src/platform/next_turn.ts";
import { createRedactor } from "../../src/platform/redact.ts";
import { announce, serveCommands } from "./lines.ts";

/** What the parent passes in argv[0]. */
export interface ServerConfig {
  mode: "raw" | "relay";
  /** The DRP source entry (`url`, `username`, `password`, ...). */
  source: { url: string; username: string; password: string } & Record<string, unknown>;
  /** relay: extra top-level config (`server.limits`, ...); absent means the defaults. */
  relayConfig?: Record<string, unknown>;
  /** raw: the DRP filter to register (`machines.*.*`). */
  filter?: string;
}

/** What `stats` answers. */
export interface ServerStats {
  rss: number;
  heapUsed: number;
  heapTotal: number;
  /** Process CPU so far, µs (user + system). */
  cpuUs: number;
  sockets: number;
  subscribers: number;
  slowConsumerCloses: number;
  rateLimited: number;
  warnings: number;
}

const config = JSON.parse(Deno.args[0] ?? "{}") as ServerConfig;
const gc = (globalThis as { gc?: () => void }).gc;

interface Target {
  port: number;
  sockets(): number;
  subscribers(): number;
  counters(): { slowConsumerCloses: number; rateLimited: number };
  close(): Promise<void>;
}

async function listen(handler: Deno.ServeHandler): Promise<Deno.HttpServer<Deno.NetAddr>> {
  const { promise, resolve } = Promise.withResolvers<void>();
  const server = Deno.serve({ port: 0, hostname: "127.0.0.1", onListen: () => resolve() }, handler);
  await promise;
  return server;
}

let warnings = 0;

async function startRaw(): Promise<Target> {
  const all = new Set<WebSocket>();
  const byKey = new Map<string, WebSocket>();
  const server = await listen((req) => {
    const { socket, response } = Deno.upgradeWebSocket(req);
    // Like a subscribe: every client names what it wants (`*` or its key) and is answered
    // once, so both targets' idle sockets have read and written a frame.
    socket.onmessage = (e) => {
      const wanted = String(e.data);
      if (wanted === "*") all.add(socket);
      else byKey.set(wanted, socket);
      socket.send("ack");
    };
    socket.onclose = () => all.delete(socket);
    socket.onerror = () => {};
    return response;
  });
  const { url, username, password } = config.source;
  let closing = false;
  let upstream: WebSocket;
  // Re-dials like a real consumer would; a drop is reported, since it costs the round.
  const dial = () => {
    upstream = new WebSocket(url, {
      headers: { authorization: `Basic ${btoa(`${username}:${password}`)}` },
    } as unknown as string[]);
    const register = () => upstream.send(`register ${config.filter ?? "*.*.*"}`);
    upstream.onopen = () => {
      register();
      // Something every 20 s (an idempotent re-register), like the relay's DRP probe: the
      // upstream's server side closes a socket it has heard nothing from for too long.
      const keepalive = setInterval(() => {
        if (upstream.readyState === WebSocket.OPEN) register();
        else clearInterval(keepalive);
      }, 20_000);
      Deno.unrefTimer(keepalive);
    };
    upstream.onmessage = (e) => {
      backlog.push(String(e.data));
      if (!pumping) void pump();
    };
    upstream.onclose = (e) => {
      if (closing) return;
      warnings++;
      Deno.stderr.writeSync(
        new TextEncoder().encode(`raw: upstream closed (${e.code} ${e.reason}); re-dialing\n`),
      );
      setTimeout(dial, 100);
    };
  };
  // Frames that arrive back to back are handled from promise continuations, so a plain
  // onmessage broadcast would queue a whole burst before Deno writes a byte of it (the
  // stall of issue 11, which hits any fan-out). The floor therefore sends one event to
  // every socket, then gives the event loop a turn while more are waiting.
  const backlog: string[] = [];
  let pumping = false;
  const sendTo = (socket: WebSocket, text: string) => {
    if (socket.readyState === WebSocket.OPEN) socket.send(text);
  };
  const pump = async () => {
    pumping = true;
    try {
      while (backlog.length > 0) {
        const event = JSON.parse(backlog.shift()!) as { Type?: string; Key?: string };
        if (event.Type === "websocket") continue; // a register acknowledgement
        const text = JSON.stringify(event); // once per event, like any broadcaster must
        const target = event.Key === undefined ? undefined : byKey.get(event.Key);
        if (target) sendTo(target, text);
        else for (const s of all) sendTo(s, text);
        if (backlog.length > 0 && all.size > 0) await nextTurn();
      }
    } finally {
      pumping = false;
    }
  };
  dial();
  await new Promise((resolve) => upstream.addEventListener("message", resolve, { once: true }));
  return {
    port: server.addr.port,
    sockets: () => all.size + byKey.size,
    subscribers: () => all.size + byKey.size,
    counters: () => ({ slowConsumerCloses: 0, rateLimited: 0 }),
    async close() {
      closing = true;
      upstream.close();
      await server.shutdown();
    },
  };
}

async function startRelay(): Promise<Target> {
  const { config: parsed, secrets } = parseConfig(
    { ...config.relayConfig, logLevel: "warn", sources: [{ name: "drp", ...config.source }] },
    () => undefined,
  );
  const log = createLogger({
    level: "warn",
    redact: createRedactor(secrets),
    sink: (_level, line) => {
      if (line.includes("no auth section") || line.includes("going away")) return;
      if (warnings++ < 5) {
        Deno.stderr.writeSync(new TextEncoder().encode(`relay: ${line.slice(0, 300)}\n`));
      }
    },
  });
  const app = createApp({ config: parsed, secrets, log });
  app.start();
  const server = await listen(app.fetch);
  return {
    port: server.addr.port,
    sockets: () => app.ws.stats.open,
    subscribers: () => app.ws.shared.memberCount,
    counters: () => ({
      slowConsumerCloses: app.ws.stats.slowConsumerCloses,
      rateLimited: app.ws.stats.rateLimited,
    }),
    async close() {
      await app.close();
      await server.shutdown();
    },
  };
}

/**
 * BENCH_TRACE=1: a timeline of this process in 100 ms buckets (socket.send calls, CPU ms,
 * the longest timer lateness), answered by the `trace` command: where a stall comes from.
 */
const trace = Deno.env.get("BENCH_TRACE") === "1" ? startTrace() : undefined;

function startTrace() {
  const t0 = performance.now();
  const buckets: { sends: number; cpuMs: number; lagMs: number }[] = [];
  const at = () => {
    const i = Math.floor((performance.now() - t0) / 100);
    while (buckets.length <= i) buckets.push({ sends: 0, cpuMs: 0, lagMs: 0 });
    return buckets[i]!;
  };
  const send = WebSocket.prototype.send;
  WebSocket.prototype.send = function (this: WebSocket, data) {
    at().sends++;
    return send.call(this, data);
  };
  let last = performance.now();
  let cpu = process.cpuUsage();
  const timer = setInterval(() => {
    const now = performance.now();
    const b = at();
    b.lagMs = Math.max(b.lagMs, now - last - 10);
    const c = process.cpuUsage();
    b.cpuMs += (c.user + c.system - cpu.user - cpu.system) / 1000;
    cpu = c;
    last = now;
  }, 10);
  Deno.unrefTimer(timer);
  return {
    take(sinceMs: number) {
      const from = Math.floor(sinceMs / 100);
      return { from, buckets: buckets.slice(from) };
    },
    now: () => performance.now() - t0,
  };
}

const target = config.mode === "raw" ? await startRaw() : await startRelay();
announce({ port: target.port });

await serveCommands(async (command) => {
  if (command.cmd === "stats") {
    if (command.gc && gc) {
      // Several passes with turns between them, so weak and finalised objects go too.
      for (let i = 0; i < 3; i++) {
        gc();
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
    }
    const m = Deno.memoryUsage();
    const cpu = process.cpuUsage();
    const stats: ServerStats = {
      rss: m.rss,
      heapUsed: m.heapUsed,
      heapTotal: m.heapTotal,
      cpuUs: cpu.user + cpu.system,
      sockets: target.sockets(),
      subscribers: target.subscribers(),
      ...target.counters(),
      warnings,
    };
    return stats;
  }
  if (command.cmd === "trace") {
    if (!trace) throw new Error("start with BENCH_TRACE=1");
    return command.since === undefined ? trace.now() : trace.take(Number(command.since));
  }
  if (command.cmd === "heap") {
    // A V8 heap snapshot (after a full GC) to the given path: where per-connection memory goes.
    for (let i = 0; i < 3 && gc; i++) {
      gc();
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    return v8.writeHeapSnapshot(String(command.path));
  }
  if (command.cmd === "quit") {
    await target.close();
    return true;
  }
  throw new Error(`unknown command ${command.cmd}`);
});
// Anything left (a socket mid-close) must not keep the process alive.
Deno.exit(0);
