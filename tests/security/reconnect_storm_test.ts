/**
 * Issue 11's reconnect storm with the default config: thousands of clients without a key
 * connect and subscribe at once (what follows a relay restart) and none is refused, neither
 * by the rate limits nor by the bound on unauthenticated sockets per address. Clients are
 * lean raw sockets (a few hundred bytes each) so the storm fits in the test process.
 *
 * Size: 5,000 clients (STORM_CLIENTS overrides), fewer when the open-file limit cannot hold
 * both ends of each socket.
 */
import { assertEquals } from "@std/assert";
import { createDrpSimulator } from "../../src/simulators/drp/simulator.ts";
import { encodeClientFrame, Opcode } from "../helpers/raw_ws.ts";
import { startRelay, waitFor } from "../helpers/relay.ts";

async function openFileLimit(): Promise<number> {
  try {
    const out = await new Deno.Command("sh", { args: ["-c", "ulimit -n"], stdout: "piped" })
      .output();
    const n = Number(new TextDecoder().decode(out.stdout).trim());
    return Number.isFinite(n) ? n : 1024;
  } catch {
    return 1024;
  }
}

async function stormSize(): Promise<number> {
  const asked = Number(Deno.env.get("STORM_CLIENTS") ?? 5000);
  // Both ends of every socket live in this process, plus some for the runtime.
  return Math.max(100, Math.min(asked, Math.floor((await openFileLimit() - 400) / 2)));
}

const encoder = new TextEncoder();

/** Reads until `marker` appears in what the server sent; false if the socket ends first. */
async function readUntil(conn: Deno.TcpConn, marker: string, seen: { text: string }) {
  const buf = new Uint8Array(1024);
  while (!seen.text.includes(marker)) {
    const n = await conn.read(buf);
    if (n === null) return false;
    seen.text += String.fromCharCode(...buf.subarray(0, n));
  }
  return true;
}

/** One client: upgrade, connection_init, wait for the ack, subscribe. */
async function stormClient(port: number, path: string): Promise<Deno.TcpConn> {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  const key = btoa(String.fromCharCode(...crypto.getRandomValues(new Uint8Array(16))));
  const text = (v: unknown) => encodeClientFrame(Opcode.text, encoder.encode(JSON.stringify(v)));
  const upgrade = encoder.encode(
    `GET ${path} HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nUpgrade: websocket\r\n` +
      `Connection: Upgrade\r\nSec-WebSocket-Key: ${key}\r\nSec-WebSocket-Version: 13\r\n` +
      `Sec-WebSocket-Protocol: graphql-transport-ws\r\n\r\n`,
  );
  // connection_init goes in the same write as the upgrade: this process also runs the relay
  // and thousands of other clients, and must not be the reason an init arrives late.
  const init = text({ type: "connection_init" });
  const first = new Uint8Array(upgrade.length + init.length);
  first.set(upgrade);
  first.set(init, upgrade.length);
  await conn.write(first);
  const seen = { text: "" };
  if (!(await readUntil(conn, "\r\n\r\n", seen)) || !seen.text.startsWith("HTTP/1.1 101")) {
    conn.close();
    throw new Error(`upgrade refused: ${seen.text.split("\r\n")[0]}`);
  }
  const head = seen.text.length;
  if (!(await readUntil(conn, "connection_ack", seen))) {
    // The server's close frame (0x88, length, code) tells why.
    const close = seen.text.slice(head).indexOf("\x88");
    const code = close < 0
      ? "none"
      : (seen.text.charCodeAt(head + close + 2) << 8) | seen.text.charCodeAt(head + close + 3);
    conn.close();
    throw new Error(`closed before connection_ack (close code ${code})`);
  }
  await conn.write(text({
    id: "1",
    type: "subscribe",
    payload: { query: `subscription { drpEvents(type: "machines") { id key } }` },
  }));
  return conn;
}

Deno.test("reconnect storm, default config: every client connects and subscribes", async () => {
  const n = await stormSize();
  await using sim = createDrpSimulator();
  await sim.start();
  await using relay = await startRelay([sim.sourceConfig("lab")], { logLevel: "warn" });
  const url = new URL(relay.wsUrl);
  const conns: Deno.TcpConn[] = [];
  let failed = 0;
  const errors = new Set<string>();
  try {
    await Promise.all(Array.from({ length: n }, async () => {
      try {
        conns.push(await stormClient(Number(url.port), url.pathname));
      } catch (err) {
        failed++;
        errors.add(String(err));
      }
    }));
    await waitFor(
      () => relay.app.ws.shared.memberCount === n,
      `${n} subscribed (have ${relay.app.ws.shared.memberCount})`,
      60_000,
    );
    assertEquals(
      { failed, errors: [...errors].slice(0, 3), ...relay.app.admission.stats },
      {
        failed: 0,
        errors: [],
        rateLimited: 0,
        pendingRefused: 0,
        peakPending: relay.app.admission.stats.peakPending,
      },
    );
    assertEquals(relay.app.ws.stats.rateLimited, 0);
  } finally {
    for (const c of conns) {
      try {
        c.close();
      } catch {
        // already closed
      }
    }
  }
  await waitFor(() => relay.app.ws.stats.open === 0, "every socket closed", 30_000);
});
