/**
 * The benchmark's client side, run as a separate process so that its CPU is not counted
 * against the server being measured.
 *
 * Argument: one JSON document ({@link ClientsConfig}). It opens `n` sockets to `url`,
 * either plain WebSockets (`raw`) or graphql-transport-ws spoken by hand (`gql`:
 * `connection_init`, then one `subscribe` per socket once acknowledged), and counts the
 * frames that arrive.
 *
 * It talks to the parent in lines. On stdout: `ready`, `armed`, `done <count> <ms>
 * <sampleBytes>`, `sample <frame>` (the first frame of a round, once), `fail <reason>`.
 * On stdin: `arm <expected>` (reset the counter; answer `done` when `expected` frames have
 * arrived across all sockets) and `quit` (close every socket and exit).
 *
 * @module
 */

/** What the parent passes in argv[0]. */
export interface ClientsConfig {
  url: string;
  mode: "raw" | "gql";
  n: number;
  /** gql: the subscription document. */
  query?: string;
  /** gql: give each socket distinct variables (`{ client: i }`), so nothing is shared. */
  distinct?: boolean;
  /** Sockets connecting at once. */
  concurrency?: number;
}

const encoder = new TextEncoder();
const out = (line: string) => Deno.stdout.writeSync(encoder.encode(line + "\n"));

const config = JSON.parse(Deno.args[0] ?? "{}") as ClientsConfig;
const sockets: WebSocket[] = [];
let count = 0;
let expected = Number.POSITIVE_INFINITY;
let armedAt = 0;
let sampled = false;
let failed = false;

function fail(reason: string): void {
  if (failed) return;
  failed = true;
  out(`fail ${reason}`);
}

function onFrame(data: unknown): void {
  if (typeof data !== "string") return;
  if (config.mode === "gql") {
    // Cheap classification: only `next` frames count; anything else after the ack is a
    // problem (error, complete) worth reporting.
    const head = data.slice(0, 48);
    if (!head.includes('"next"')) {
      fail(`unexpected frame ${data.slice(0, 300)}`);
      return;
    }
  }
  if (!sampled) {
    sampled = true;
    out(`sample ${data}`);
  }
  if (++count === expected) {
    out(`done ${count} ${(performance.now() - armedAt).toFixed(1)} ${encoder.encode(data).length}`);
    expected = Number.POSITIVE_INFINITY;
  }
}

function open(i: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const ws = config.mode === "gql"
      ? new WebSocket(config.url, "graphql-transport-ws")
      : new WebSocket(config.url);
    sockets.push(ws);
    let settled = false;
    const settle = (err?: Error) => {
      if (settled) return;
      settled = true;
      if (err) reject(err);
      else resolve();
    };
    ws.onerror = () => settle(new Error(`socket ${i} failed to open`));
    ws.onclose = (e) => {
      settle(new Error(`socket ${i} closed early (${e.code})`));
      if (!quitting) fail(`socket ${i} closed (${e.code} ${e.reason})`);
    };
    if (config.mode === "raw") {
      ws.onopen = () => settle();
      ws.onmessage = (e) => onFrame(e.data);
      return;
    }
    ws.onopen = () => ws.send(JSON.stringify({ type: "connection_init", payload: {} }));
    ws.onmessage = (e) => {
      const msg = JSON.parse(String(e.data)) as { type?: string };
      if (msg.type !== "connection_ack") {
        settle(new Error(`socket ${i}: expected connection_ack, got ${String(e.data)}`));
        return;
      }
      ws.send(JSON.stringify({
        id: "1",
        type: "subscribe",
        payload: { query: config.query, variables: config.distinct ? { client: i } : {} },
      }));
      ws.onmessage = (ev) => onFrame(ev.data);
      settle();
    };
  });
}

let quitting = false;

async function connectAll(): Promise<void> {
  const width = config.concurrency ?? 100;
  let next = 0;
  const worker = async () => {
    while (next < config.n) await open(next++);
  };
  await Promise.all(Array.from({ length: Math.min(width, config.n) }, worker));
}

async function quit(): Promise<void> {
  quitting = true;
  const closing = sockets.map((ws) =>
    ws.readyState === WebSocket.CLOSED ? Promise.resolve() : new Promise<void>((resolve) => {
      ws.addEventListener("close", () => resolve(), { once: true });
      try {
        ws.close(1000, "bench done");
      } catch {
        resolve();
      }
    })
  );
  const timer = new Promise<void>((r) => setTimeout(r, 5000));
  await Promise.race([Promise.all(closing), timer]);
  Deno.exit(0);
}

async function commands(): Promise<void> {
  const decoder = new TextDecoder();
  let buffered = "";
  for await (const chunk of Deno.stdin.readable) {
    buffered += decoder.decode(chunk, { stream: true });
    let nl: number;
    while ((nl = buffered.indexOf("\n")) >= 0) {
      const line = buffered.slice(0, nl).trim();
      buffered = buffered.slice(nl + 1);
      const [cmd, arg] = line.split(" ");
      if (cmd === "arm") {
        count = 0;
        expected = Number(arg);
        armedAt = performance.now();
        out("armed");
      } else if (cmd === "quit") {
        await quit();
      }
    }
  }
  // The parent went away: leave too.
  await quit();
}

try {
  await connectAll();
  out("ready");
} catch (err) {
  fail(err instanceof Error ? err.message : String(err));
}
await commands();
