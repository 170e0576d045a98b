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
import { encodeClientFrame, Opcode, RawWsClient } from "../helpers/raw_ws.ts";

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
  conn: Deno.TcpConn | undefined;
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

const MARK_BYTES = new TextEncoder().encode(MARK);
const decoder = new TextDecoder();

/** Where `MARK` starts in `buf[start, end)`, or -1. */
function findMark(buf: Uint8Array, start: number, end: number): number {
  const first = MARK_BYTES[0]!;
  outer: for (let i = start; i <= end - MARK_BYTES.length; i++) {
    if (buf[i] !== first) continue;
    for (let j = 1; j < MARK_BYTES.length; j++) {
      if (buf[i + j] !== MARK_BYTES[j]) continue outer;
    }
    return i;
  }
  return -1;
}

function onText(fleet: Fleet, sock: Sock, buf: Uint8Array, start: number, end: number): void {
  const now = performance.now();
  const at = findMark(buf, start, end);
  if (at < 0) {
    // Not an event: a refusal or an error worth reporting.
    if (fleet.refused.length < 1000) {
      fleet.refused.push(decoder.decode(buf.subarray(start, Math.min(end, start + 300))));
    }
    return;
  }
  fleet.sample ??= decoder.decode(buf.subarray(start, end));
  const r = round;
  if (!r) return;
  let seq = 0;
  for (let i = at + MARK_BYTES.length; i < end; i++) {
    const d = buf[i]! - 48;
    if (d < 0 || d > 9) break;
    seq = seq * 10 + d;
  }
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

/**
 * Reads server frames straight off TCP: no message events and no strings per frame, so
 * one core of load generator keeps up with what the targets send (server frames are
 * unmasked and, from Deno, never fragmented).
 */
async function readLoop(fleet: Fleet, sock: Sock, conn: Deno.TcpConn, leftover: Uint8Array) {
  let buf = new Uint8Array(Math.max(64 * 1024, leftover.length * 2));
  buf.set(leftover);
  let len = leftover.length;
  try {
    while (true) {
      let at = 0;
      while (len - at >= 2) {
        const b1 = buf[at + 1]!;
        let size = b1 & 0x7f;
        let head = 2;
        if (size === 126) {
          if (len - at < 4) break;
          size = (buf[at + 2]! << 8) | buf[at + 3]!;
          head = 4;
        } else if (size === 127) {
          if (len - at < 10) break;
          size = Number(new DataView(buf.buffer, buf.byteOffset + at + 2, 8).getBigUint64(0));
          head = 10;
        }
        if (len - at < head + size) break;
        const opcode = buf[at]! & 0x0f;
        const start = at + head;
        if (opcode === Opcode.text) onText(fleet, sock, buf, start, start + size);
        else if (opcode === Opcode.ping) {
          void conn.write(encodeClientFrame(Opcode.pong, buf.slice(start, start + size)))
            .catch(() => {});
        } else if (opcode === Opcode.close) throw new Error("closed by the server");
        at = start + size;
      }
      if (at > 0) {
        buf.copyWithin(0, at, len);
        len -= at;
      }
      if (len === buf.length) {
        const bigger = new Uint8Array(buf.length * 2);
        bigger.set(buf);
        buf = bigger;
      }
      const n = await conn.read(buf.subarray(len));
      if (n === null) break;
      len += n;
    }
  } catch {
    // closed by either side
  }
  if (!sock.closed) {
    sock.closed = true;
    if (round && !quitting) round.closed++;
  }
}

let quitting = false;

function percentile(hist: Uint32Array, total: number, p: number): number {
  const rank = Math.ceil(total * p);
  let seen = 0;
  for (let ms = 0; ms < hist.length; ms++) {
    seen += hist[ms]!;
    if (seen >= rank) return ms + 1;
  }
  return hist.length;
}

async function openOne(fleet: Fleet, url: string, mode: "raw" | "gql", i: number) {
  const sock: Sock = { conn: undefined, index: i, nextSeq: 0, lastAt: 0, closed: false };
  const client = await RawWsClient.connect(url, {
    protocol: mode === "gql" ? "graphql-transport-ws" : null,
  });
  try {
    if (mode === "raw") {
      await client.sendText(fleet.distinct ? `m-${i}` : "*");
      const frame = await client.readFrame(60_000);
      const text = frame ? decoder.decode(frame.payload) : "(nothing)";
      if (text !== "ack") throw new Error(`socket ${i}: expected ack, got ${text.slice(0, 200)}`);
    } else {
      await client.sendJson({ type: "connection_init", payload: {} });
      const ack = await client.readJson(60_000);
      if (ack.type !== "connection_ack") {
        throw new Error(`socket ${i}: expected connection_ack, got ${JSON.stringify(ack)}`);
      }
      const filter = fleet.distinct ? `key: "m-${i}"` : 'type: "machines"';
      await client.sendJson({
        id: "1",
        type: "subscribe",
        payload: { query: `subscription { drpEvents(${filter}) ${QUERY_FIELDS} }` },
      });
    }
  } catch (err) {
    client.close();
    throw err;
  }
  const { conn, leftover } = await client.detach();
  sock.conn = conn;
  fleet.socks.push(sock);
  void readLoop(fleet, sock, conn, leftover);
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
  quitting = true;
  const bye = encodeClientFrame(Opcode.close, new Uint8Array([0x03, 0xe8])); // 1000
  for (const s of fleet.socks) {
    s.closed = true;
    try {
      await s.conn?.write(bye);
    } catch {
      // gone already
    }
    try {
      s.conn?.close();
    } catch {
      // closed by the reader
    }
  }
  quitting = false;
  await fleet.sim.stop();
}
