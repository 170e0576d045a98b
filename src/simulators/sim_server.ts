/**
 * The listening half every vendor simulator shares: a `Deno.serve` on loopback that
 * upgrades WebSockets, records what clients send, and can drop every connection, stop and
 * restart on the same port, so tests can play outages against the relay.
 *
 * Vendor files supply only the protocol: how the upgrade is authorised, what a frame
 * means, and what to send.
 *
 * @module
 */

/** One accepted client socket. */
export interface SimConnection {
  /** Increasing per simulator, starting at 1. */
  readonly id: number;
  readonly socket: WebSocket;
  /** The upgrade request (URL with query). Deno closes it once upgraded: read `headers`. */
  readonly request: Request;
  /** A copy of the upgrade request's headers, readable after the upgrade. */
  readonly headers: Headers;
  /** The client's address. */
  readonly remote: Deno.NetAddr;
  /** Per-connection protocol state the vendor file keeps. */
  state: Record<string, unknown>;
}

/** A frame a client sent, kept in arrival order for assertions. */
export interface ReceivedFrame {
  connection: number;
  data: string;
  at: number;
}

/** What a vendor simulator plugs into {@link SimServer}. */
export interface SimHandlers {
  /**
   * Called for every request before anything else. Return a response to answer it
   * (e.g. 401/403 refusals, REST endpoints); return `undefined` to go on to the upgrade.
   */
  request?(
    req: Request,
    info: Deno.ServeHandlerInfo<Deno.NetAddr>,
  ): Response | undefined | Promise<Response | undefined>;
  /** The subprotocol to answer with, if the vendor negotiates one. */
  protocol?(req: Request): string | undefined;
  onOpen?(conn: SimConnection): void;
  onMessage?(conn: SimConnection, data: string): void;
  onClose?(conn: SimConnection, code: number): void;
}

/** Where and how the simulator listens. */
export interface SimServerOptions {
  /** 0 (the default) picks a free port; restarts keep the port first chosen. */
  port?: number;
  hostname?: string;
  /** PEM certificate and key for `wss://`. */
  tls?: { cert: string; key: string };
}

/** A loopback WebSocket server with outage controls. */
export class SimServer {
  readonly #handlers: SimHandlers;
  readonly #options: SimServerOptions;
  #server: Deno.HttpServer<Deno.NetAddr> | undefined;
  #abort: AbortController | undefined;
  #port: number;
  #nextId = 1;
  /** Open connections. */
  readonly connections: Set<SimConnection> = new Set();
  /** Every frame received, across connections and restarts. */
  readonly received: ReceivedFrame[] = [];
  /** How many upgrades were accepted, across restarts. */
  accepted = 0;
  /** How many upgrade attempts were refused by `request`. */
  refused = 0;

  constructor(handlers: SimHandlers, options: SimServerOptions = {}) {
    this.#handlers = handlers;
    this.#options = options;
    this.#port = options.port ?? 0;
  }

  /** The bound port (after {@link start}). */
  get port(): number {
    return this.#port;
  }

  /** `ws://host:port` or `wss://…`, without a path. */
  get origin(): string {
    const scheme = this.#options.tls ? "wss" : "ws";
    return `${scheme}://${this.#options.hostname ?? "127.0.0.1"}:${this.#port}`;
  }

  /** `http://host:port` or `https://…`, for the vendor's REST endpoints. */
  get httpOrigin(): string {
    return this.origin.replace(/^ws/, "http");
  }

  /** True while listening. */
  get listening(): boolean {
    return this.#server !== undefined;
  }

  /** Starts listening (on the remembered port after a restart). */
  start(): Promise<void> {
    if (this.#server) return Promise.resolve();
    const abort = new AbortController();
    const { promise, resolve } = Promise.withResolvers<void>();
    const base = {
      port: this.#port,
      hostname: this.#options.hostname ?? "127.0.0.1",
      signal: abort.signal,
      onListen: () => resolve(),
    };
    const handler = (req: Request, info: Deno.ServeHandlerInfo<Deno.NetAddr>) =>
      this.#handle(req, info);
    this.#server = this.#options.tls
      ? Deno.serve({ ...base, cert: this.#options.tls.cert, key: this.#options.tls.key }, handler)
      : Deno.serve(base, handler);
    this.#abort = abort;
    this.#port = this.#server.addr.port;
    return promise;
  }

  /** Closes every client socket with `code` but keeps listening. */
  dropConnections(code = 1011, reason = "simulated failure"): void {
    for (const conn of this.connections) {
      try {
        conn.socket.close(code, reason);
      } catch {
        // already closing
      }
    }
  }

  /** Stops listening and drops every connection. */
  async stop(): Promise<void> {
    const server = this.#server;
    if (!server) return;
    this.#server = undefined;
    this.dropConnections(1001, "server going away");
    this.#abort?.abort();
    await server.finished;
    // Wait until the sockets have reported their close so no handler runs after stop().
    const deadline = Date.now() + 2000;
    while (this.connections.size > 0 && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 5));
    }
    // A socket whose close never surfaced still gets its protocol state (and timers) cleared.
    for (const conn of [...this.connections]) {
      this.connections.delete(conn);
      this.#handlers.onClose?.(conn, 1006);
    }
  }

  /** Stops, then starts again on the same port. */
  async restart(): Promise<void> {
    await this.stop();
    await this.start();
  }

  /** Sends `data` to one connection if it is open; reports whether it was sent. */
  send(conn: SimConnection, data: string): boolean {
    if (conn.socket.readyState !== WebSocket.OPEN) return false;
    conn.socket.send(data);
    return true;
  }

  /** Sends `data` to every open connection; returns how many got it. */
  broadcast(data: string): number {
    let n = 0;
    for (const conn of this.connections) if (this.send(conn, data)) n++;
    return n;
  }

  /** Frames received, as text, optionally from one connection. */
  frames(connection?: number): string[] {
    return this.received
      .filter((f) => connection === undefined || f.connection === connection)
      .map((f) => f.data);
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.stop();
  }

  async #handle(req: Request, info: Deno.ServeHandlerInfo<Deno.NetAddr>): Promise<Response> {
    const early = await this.#handlers.request?.(req, info);
    if (early) {
      if (req.headers.get("upgrade")?.toLowerCase() === "websocket") this.refused++;
      return early;
    }
    if (req.headers.get("upgrade")?.toLowerCase() !== "websocket") {
      return new Response("Expected a WebSocket upgrade", { status: 426 });
    }
    const protocol = this.#handlers.protocol?.(req);
    // Deno closes the request once upgraded, so keep what later handlers need first.
    const headers = new Headers(req.headers);
    const remote = info.remoteAddr;
    const { socket, response } = Deno.upgradeWebSocket(req, protocol ? { protocol } : {});
    const conn: SimConnection = {
      id: this.#nextId++,
      socket,
      request: req,
      headers,
      remote,
      state: {},
    };
    this.accepted++;
    socket.onopen = () => {
      this.connections.add(conn);
      this.#handlers.onOpen?.(conn);
    };
    socket.onmessage = (e) => {
      const data = typeof e.data === "string" ? e.data : new TextDecoder().decode(e.data);
      this.received.push({ connection: conn.id, data, at: Date.now() });
      this.#handlers.onMessage?.(conn, data);
    };
    socket.onclose = (e) => {
      this.connections.delete(conn);
      this.#handlers.onClose?.(conn, e.code);
    };
    socket.onerror = () => {
      // A reset by the peer; onclose follows.
    };
    return response;
  }
}
