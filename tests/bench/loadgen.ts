/**
 * The load generator, a process of its own pinned to the other CPU: it plays the DRP
 * upstream (one simulator per target, so a target only sees its own events) and the
 * clients (N sockets per target over real TCP: graphql-transport-ws spoken by hand to the
 * relay, plain WebSockets to the raw broadcaster), and measures what the clients get.
 *
 * Every event carries its sequence number in the machine's Name (`bench#<seq>`), so each
 * frame is attributed without a full parse. Frames on one socket arrive in order, so a
 * socket expecting seq s that sees a lower one counts a duplicate and a higher one counts
 * the skipped ones as lost; what never came is lost too.
 *
 * Commands (JSON lines, see lines.ts): `upstream` (start a simulator for a target; answers
 * its source config), `connect` (open and subscribe N sockets), `round` (emit events,
 * wait for them, answer the measurements), `sample` (the first frame a target got),
 * `disconnect`, `quit`.
 *
 * @module
 */
import { createDrpSimulator, type DrpSimulator } from "../../src/simulators/drp/simulator.ts";
import { machineEvent } from "./events.ts";
import { serveCommands } from "./lines.ts";

/** What `round` answers. */
export interface RoundResult {
  expected: number;
  received: number;
  lost: number;
  duplicated: number;
  /** Sockets that closed during the round. */
  closed: number;
  /** First emit to last delivery. */
  wallMs: number;
  p50Ms: number;
  p99Ms: number;
  maxLatencyMs: number;
  /** Longest time between two successive deliveries on any one socket. */
  maxGapMs: number;
  /** The round ended on its idle timeout instead of on the last expected frame. */
  timedOut: boolean;
}

interface Sock {
  ws: WebSocket;
  /** The subscription's key (distinct) or undefined (every event). */
  index: number;
  nextSeq: number;
  lastAt: number;
  closed: boolean;
}

interface Fleet {
  sim: DrpSimulator;
  socks: Sock[];
  distinct: boolean;
  sample: string | undefined;
  /** Error frames (refusals) seen while subscribing. */
  refused: string[];
}

const fleets = new Map<string, Fleet>();
const QUERY_FIELDS = "{ id type action key subject time object }";
const MARK = "bench#";

// Per-round state, shared by every socket's onmessage.
let emitAt = new Float64Array(0);
let latencyHist = new Uint32Array(1);
let round: {
  expected: number;
  received: number;
  duplicated: number;
  lost: number;
  maxGap: number;
  maxLatency: number;
  firstEmit: number;
  lastDelivery: number;
  closed: number;
  total: number;
  distinct: boolean;
  n: number;
  done: () => void;
} | undefined;

function onFrame(fleet: Fleet, sock: Sock, data: unknown): void {
  if (typeof data !== "string") return;
  const now = performance.now();
  const at = data.indexOf(MARK);
  if (at < 0) {
    // Not an event: during subscribing that is a refusal or an error worth reporting.
    if (fleet.refused.length < 1000) fleet.refused.push(data.slice(0, 300));
    return;
  }
  fleet.sample ??= data;
  const r = round;
  if (!r) return;
  const seq = parseInt(data.slice(at + MARK.length, at + MARK.length + 12), 10);
  if (seq < sock.nextSeq) {
    r.duplicated++;
    return;
  }
  const step = r.distinct ? r.n : 1;
  if (seq > sock.nextSeq) r.lost += Math.round((seq - sock.nextSeq) / step);
  sock.nextSeq = seq + step;
  if (sock.lastAt > 0) {
    const gap = now - sock.lastAt;
    if (gap > r.maxGap) r.maxGap = gap;
  }
  sock.lastAt = now;
  const latency = now - emitAt[seq]!;
  if (latency > r.maxLatency) r.maxLatency = latency;
  latencyHist[Math.min(latencyHist.length - 1, Math.max(0, Math.floor(latency)))]!++;
  r.lastDelivery = now;
  if (++r.received === r.expected) r.done();
}

function percentile(hist: Uint32Array, total: number, p: number): number {
  const rank = Math.ceil(total * p);
  let seen = 0;
  for (let ms = 0; ms < hist.length; ms++) {
    seen += hist[ms]!;
    if (seen >= rank) return ms + 1;
  }
  return hist.length;
}

function openOne(fleet: Fleet, url: string, mode: "raw" | "gql", i: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const ws = mode === "gql" ? new WebSocket(url, "graphql-transport-ws") : new WebSocket(url);
    const sock: Sock = { ws, index: i, nextSeq: 0, lastAt: 0, closed: false };
    fleet.socks.push(sock);
    let settled = false;
    const settle = (err?: Error) => {
      if (settled) return;
      settled = true;
      if (err) reject(err);
      else resolve();
    };
    ws.onerror = () => settle(new Error(`socket ${i} failed`));
    ws.onclose = (e) => {
      sock.closed = true;
      if (round) round.closed++;
      settle(new Error(`socket ${i} closed early (${e.code} ${e.reason})`));
    };
    if (mode === "raw") {
      ws.onopen = () => ws.send(fleet.distinct ? `m-${i}` : "*");
      ws.onmessage = (e) => {
        if (e.data !== "ack") {
          settle(new Error(`socket ${i}: expected ack, got ${String(e.data).slice(0, 200)}`));
          return;
        }
        ws.onmessage = (ev) => onFrame(fleet, sock, ev.data);
        settle();
      };
      return;
    }
    ws.onopen = () => ws.send(JSON.stringify({ type: "connection_init", payload: {} }));
    ws.onmessage = (e) => {
      const text = String(e.data);
      if (!text.includes('"connection_ack"')) {
        settle(new Error(`socket ${i}: expected connection_ack, got ${text.slice(0, 200)}`));
        return;
      }
      const filter = fleet.distinct ? `key: "m-${i}"` : 'type: "machines"';
      ws.onmessage = (ev) => onFrame(fleet, sock, ev.data);
      ws.send(JSON.stringify({
        id: "1",
        type: "subscribe",
        payload: { query: `subscription { drpEvents(${filter}) ${QUERY_FIELDS} }` },
      }));
      settle();
    };
  });
}

async function connect(args: {
  target: string;
  url: string;
  mode: "raw" | "gql";
  n: number;
  distinct: boolean;
  concurrency: number;
}): Promise<{ ms: number; failed: number; firstError?: string }> {
  const fleet = fleets.get(args.target);
  if (!fleet) throw new Error(`no upstream for ${args.target}`);
  fleet.distinct = args.distinct;
  const t0 = performance.now();
  let next = 0;
  let failed = 0;
  let firstError: string | undefined;
  const worker = async () => {
    while (next < args.n) {
      const i = next++;
      try {
        await openOne(fleet, args.url, args.mode, i);
      } catch (err) {
        failed++;
        firstError ??= err instanceof Error ? err.message : String(err);
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(args.concurrency, args.n) }, worker));
  return { ms: performance.now() - t0, failed, ...(firstError ? { firstError } : {}) };
}

const nextTick = () => new Promise<void>((resolve) => setTimeout(resolve, 1));

async function runRound(args: {
  target: string;
  events: number;
  /** Events per second; 0 emits them all at once (a burst). */
  rate: number;
  seed: number;
  /** Give up this long after the last delivery (or the last emit). */
  idleTimeoutMs: number;
}): Promise<RoundResult> {
  const fleet = fleets.get(args.target);
  if (!fleet) throw new Error(`no target ${args.target}`);
  const n = fleet.socks.length;
  // Built as they are emitted: a soak's half a million events would not fit up front.
  const eventAt = (seq: number) => {
    const e = machineEvent(seq, args.seed);
    (e.init.Object as Record<string, unknown>).Name = `${MARK}${seq}`;
    if (fleet.distinct) e.init.Key = `m-${seq % n}`;
    return e.init;
  };
  const active = fleet.socks.filter((s) => !s.closed);
  for (const s of active) {
    s.nextSeq = fleet.distinct ? s.index : 0;
    s.lastAt = 0;
  }
  emitAt = new Float64Array(args.events);
  latencyHist = new Uint32Array(600_000);
  const expected = fleet.distinct ? args.events : args.events * active.length;
  const finished = Promise.withResolvers<void>();
  const r = {
    expected,
    received: 0,
    duplicated: 0,
    lost: 0,
    maxGap: 0,
    maxLatency: 0,
    firstEmit: performance.now(),
    lastDelivery: 0,
    closed: 0,
    total: 0,
    distinct: fleet.distinct,
    n,
    done: () => finished.resolve(),
  };
  round = r;
  let emitted = 0;
  const emitUpTo = (count: number) => {
    while (emitted < count) {
      const init = eventAt(emitted);
      emitAt[emitted] = performance.now();
      fleet.sim.emit(init);
      emitted++;
    }
  };
  if (args.rate <= 0) emitUpTo(args.events);
  else {
    // Paced from the start time, so a late timer catches up instead of drifting.
    while (emitted < args.events) {
      const due = Math.min(
        args.events,
        1 + Math.floor((performance.now() - r.firstEmit) * args.rate / 1000),
      );
      emitUpTo(due);
      if (emitted < args.events) await nextTick();
    }
  }
  // Wait for the last frame, or give up after a quiet spell.
  let timedOut = false;
  while (r.received < r.expected) {
    const quietFor = performance.now() - Math.max(r.lastDelivery, emitAt[emitted - 1] ?? 0);
    if (quietFor > args.idleTimeoutMs) {
      timedOut = true;
      break;
    }
    let timer: ReturnType<typeof setTimeout> | undefined;
    await Promise.race([
      finished.promise,
      new Promise((resolve) => timer = setTimeout(resolve, 100)),
    ]);
    clearTimeout(timer);
  }
  round = undefined;
  // Whatever a socket still expected at the end never came.
  let tailLost = 0;
  for (const s of active) {
    if (fleet.distinct) {
      for (let seq = s.nextSeq; seq < args.events; seq += n) tailLost++;
    } else tailLost += Math.max(0, args.events - s.nextSeq);
  }
  const total = r.received;
  return {
    expected: r.expected,
    received: r.received,
    lost: r.lost + tailLost,
    duplicated: r.duplicated,
    closed: r.closed,
    wallMs: (r.lastDelivery || performance.now()) - r.firstEmit,
    p50Ms: percentile(latencyHist, total, 0.5),
    p99Ms: percentile(latencyHist, total, 0.99),
    maxLatencyMs: r.maxLatency,
    maxGapMs: r.maxGap,
    timedOut,
  };
}

await serveCommands(async (command) => {
  switch (command.cmd) {
    case "upstream": {
      const sim = createDrpSimulator();
      await sim.start();
      fleets.set(String(command.target), {
        sim,
        socks: [],
        distinct: false,
        sample: undefined,
        refused: [],
      });
      return sim.sourceConfig("drp");
    }
    case "connect":
      return await connect(command as never);
    case "refused": {
      const fleet = fleets.get(String(command.target));
      return fleet?.refused ?? [];
    }
    case "open": {
      const fleet = fleets.get(String(command.target));
      return fleet ? fleet.socks.filter((s) => !s.closed).length : 0;
    }
    case "round":
      return await runRound(command as never);
    case "sample":
      return fleets.get(String(command.target))?.sample ?? null;
    case "disconnect": {
      const fleet = fleets.get(String(command.target));
      if (!fleet) return 0;
      await closeFleet(fleet);
      fleets.delete(String(command.target));
      return fleet.socks.length;
    }
    case "quit":
      for (const fleet of fleets.values()) await closeFleet(fleet);
      return true;
  }
  throw new Error(`unknown command ${command.cmd}`);
});
Deno.exit(0);

async function closeFleet(fleet: Fleet): Promise<void> {
  const closing = fleet.socks.map((s) =>
    s.ws.readyState === WebSocket.CLOSED ? Promise.resolve() : new Promise<void>((resolve) => {
      s.ws.onclose = () => resolve();
      try {
        s.ws.close(1000, "bench done");
      } catch {
        resolve();
      }
    })
  );
  let timer: ReturnType<typeof setTimeout> | undefined;
  await Promise.race([
    Promise.all(closing),
    new Promise((resolve) => timer = setTimeout(resolve, 10_000)),
  ]);
  clearTimeout(timer);
  await fleet.sim.stop();
}
