/**
 * Broken upstreams for fault tests: a TCP server that accepts and never answers the HTTP
 * upgrade (half-open), and a scripted WebSocket server that completes the upgrade and then
 * says only what the test tells it to (e.g. acknowledge DRP registers, then go silent).
 *
 * @module
 */

/** A TCP listener that accepts connections and never writes a byte. */
export interface BlackholeTcp extends AsyncDisposable {
  readonly port: number;
  /** Connections accepted so far. */
  readonly accepted: number;
  /** Bytes received so far (the upgrade requests, left unanswered). */
  readonly bytesReceived: number;
  close(): Promise<void>;
}

/** Starts a {@link BlackholeTcp} on a free loopback port. */
export function startBlackholeTcp(): BlackholeTcp {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const conns = new Set<Deno.Conn>();
  const readers: Promise<void>[] = [];
  let accepted = 0;
  let bytesReceived = 0;
  const drain = async (conn: Deno.Conn) => {
    // Reads (so the peer's request is consumed) but never replies.
    const buf = new Uint8Array(4096);
    try {
      while (true) {
        const n = await conn.read(buf);
        if (n === null) break;
        bytesReceived += n;
      }
    } catch {
      // closed by close() or reset by the peer
    }
    conns.delete(conn);
    try {
      conn.close();
    } catch {
      // already closed
    }
  };
  const acceptLoop = (async () => {
    try {
      for await (const conn of listener) {
        accepted++;
        conns.add(conn);
        readers.push(drain(conn));
      }
    } catch {
      // listener closed
    }
  })();
  let closing: Promise<void> | undefined;
  const close = () => {
    closing ??= (async () => {
      listener.close();
      await acceptLoop;
      for (const conn of conns) {
        try {
          conn.close();
        } catch {
          // already closed
        }
      }
      await Promise.all(readers);
    })();
    return closing;
  };
  return {
    port: (listener.addr as Deno.NetAddr).port,
    get accepted() {
      return accepted;
    },
    get bytesReceived() {
      return bytesReceived;
    },
    close,
    [Symbol.asyncDispose]: close,
  };
}

/** One connection of a {@link ScriptedWs}. */
export interface ScriptedConnection {
  readonly id: number;
  readonly socket: WebSocket;
  send(text: string): void;
}

/** What a {@link ScriptedWs} does with each inbound frame. */
export type ScriptedHandler = (conn: ScriptedConnection, text: string) => void;

/** A WebSocket server whose replies are scripted by the test. */
export interface ScriptedWs extends AsyncDisposable {
  /** `ws://127.0.0.1:<port>` (no path: any path is upgraded). */
  readonly origin: string;
  /** Open connections. */
  readonly connections: ReadonlySet<ScriptedConnection>;
  /** Upgrades accepted so far. */
  readonly accepted: number;
  /** Every frame received, in order, across connections. */
  readonly received: { connection: number; text: string }[];
  /** Replaces the handler (e.g. to go silent mid-test). */
  setHandler(handler: ScriptedHandler | undefined): void;
  close(): Promise<void>;
}

/** Starts a {@link ScriptedWs} on a free loopback port. */
export async function startScriptedWs(handler?: ScriptedHandler): Promise<ScriptedWs> {
  const abort = new AbortController();
  const connections = new Set<ScriptedConnection>();
  const received: { connection: number; text: string }[] = [];
  let current = handler;
  let accepted = 0;
  let nextId = 1;
  const { promise: listening, resolve } = Promise.withResolvers<void>();
  const server = Deno.serve(
    { port: 0, hostname: "127.0.0.1", signal: abort.signal, onListen: () => resolve() },
    (req) => {
      if (req.headers.get("upgrade")?.toLowerCase() !== "websocket") {
        return new Response("Expected a WebSocket upgrade", { status: 426 });
      }
      const { socket, response } = Deno.upgradeWebSocket(req);
      const conn: ScriptedConnection = {
        id: nextId++,
        socket,
        send: (text) => {
          if (socket.readyState === WebSocket.OPEN) socket.send(text);
        },
      };
      accepted++;
      socket.onopen = () => connections.add(conn);
      socket.onmessage = (e) => {
        const text = typeof e.data === "string" ? e.data : new TextDecoder().decode(e.data);
        received.push({ connection: conn.id, text });
        current?.(conn, text);
      };
      socket.onclose = () => connections.delete(conn);
      socket.onerror = () => {};
      return response;
    },
  );
  await listening;
  let closing: Promise<void> | undefined;
  const close = () => {
    closing ??= (async () => {
      for (const conn of connections) {
        try {
          conn.socket.close(1001, "going away");
        } catch {
          // already closing
        }
      }
      abort.abort();
      await server.finished;
      const deadline = Date.now() + 2000;
      while (connections.size > 0 && Date.now() < deadline) {
        await new Promise((r) => setTimeout(r, 5));
      }
    })();
    return closing;
  };
  return {
    origin: `ws://127.0.0.1:${server.addr.port}`,
    connections,
    get accepted() {
      return accepted;
    },
    received,
    setHandler: (h) => {
      current = h;
    },
    close,
    [Symbol.asyncDispose]: close,
  };
}
