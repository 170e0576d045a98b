/**
 * A fake Webinate "users" server socket API (PROTOCOLS.md §3; seeds/webinate-users-websocket.txt).
 *
 * The protocol: a bare `ws` server on `ws://<host>:<websocket.port>` (any path). Auth is the
 * upgrade's `Origin` header, searched by every `approvedSocketDomains` regex; a mismatch is
 * refused *after* the upgrade by terminating the socket. A `SID=<id>` cookie names the
 * login session. There is no subscription: the server pushes user/file/bucket events.
 *
 * - Gen A (default, what the seed documents): numeric `eventType`; everything is broadcast
 *   to every socket; clients may send Echo (10) and MetaRequest (9, no permission check);
 *   an Origin matching N entries attaches N handlers, so each frame is answered N times.
 * - Gen B (`generation: "B"`): string `type`; a `users-api-key` header makes an authorised
 *   third party, which alone gets every event and may use MetaRequest; Echo is gone.
 *
 * Both attach their message handlers only after an async session lookup, so frames sent
 * right after `open` are lost; `sessionLookupMs` plays that window.
 *
 * @module
 */
import type { Logger } from "../../platform/log.ts";
import { type SimConnection, SimServer } from "../sim_server.ts";
import { pick, ServedSimulator, type SimulatorOptions } from "../vendor_simulator.ts";
import {
  applyMetaRequest,
  buildServerEvent,
  DEMO_USERS,
  genAClientFrame,
  type GenBClientFrame,
  genBClientFrame,
  randomEventInput,
  WEBINATE_EVENT_TYPE,
  type WebinateBucket,
  type WebinateEventInput,
  type WebinateFile,
} from "./messages.ts";
import { reshapeWebinate, WEBINATE_VARIANTS } from "./variants.ts";

/** Options for {@link createWebinateSimulator}. */
export interface WebinateSimulatorOptions extends SimulatorOptions {
  /** Protocol generation (PROTOCOLS.md §3); default "A". */
  generation?: "A" | "B";
  /** `websocket.approvedSocketDomains`: regex sources searched in `Origin`. */
  approvedSocketDomains?: string[];
  /** Login sessions: `SID` cookie value → username. */
  sessions?: Record<string, string>;
  /** Known users and their meta data (for MetaRequest); default alice, bjones, carol88. */
  users?: Record<string, unknown>;
  /** How long the per-connection session lookup takes; frames before it are lost. Default 50. */
  sessionLookupMs?: number;
  /** Gen B `websocket.socketApiKey`, expected in the `users-api-key` header. */
  apiKey?: string;
  /** The `Origin` that {@link WebinateSimulator.sourceConfig} hands the relay. */
  origin?: string;
  /**
   * Close code for refused sockets. Default: none, i.e. a close frame without a status,
   * which a Deno client reports as 1005; the real `ws.terminate()` yields 1006, which a
   * Deno server cannot produce.
   */
  rejectCloseCode?: number;
  /** Receives the server's own log lines (parse errors, refusals). */
  logger?: Logger;
  /** Timestamps for `created` fields. */
  now?: () => number;
  /** Randomness for default ids and usernames in {@link WebinateSimulator.emit}. */
  random?: () => number;
}

/** What the server knows about one accepted socket. */
export interface WebinateClient {
  id: number;
  origin: string | null;
  /** `SID` parsed from the Cookie header, if any. */
  sessionId: string | null;
  /** Handlers attached to the socket: the number of matching domain regexes (Gen A), else 1. */
  handlers: number;
  /** True once the session lookup finished and frames are processed. */
  ready: boolean;
  /** Session user, resolved when the lookup finishes; null for anonymous. */
  username: string | null;
  /** Gen B: connected with the right `users-api-key`. */
  authorizedThirdParty: boolean;
}

/** The frame {@link WebinateSimulator.emit} sent and how many sockets got it. */
export interface WebinateEmitResult {
  frame: Record<string, unknown>;
  delivered: number;
}

/** A Webinate users socket server on loopback. */
export class WebinateSimulator extends ServedSimulator {
  readonly variants = WEBINATE_VARIANTS;
  protected readonly reshape = reshapeWebinate;
  /** The listening server (connections, received frames, drop/stop/restart). */
  readonly server: SimServer;
  /** Which protocol generation this server speaks. */
  readonly generation: "A" | "B";
  /** Mutable: takes effect for the next connection. */
  approvedSocketDomains: string[];
  /** Mutable: takes effect for the next connection. */
  sessionLookupMs: number;
  /** The server's log lines, oldest first (what the real server writes to winston). */
  readonly logs: string[] = [];
  /** Sockets accepted by the upgrade but then refused by the Origin/key check. */
  rejected = 0;
  readonly #sessions: Map<string, string>;
  readonly #users: Map<string, unknown>;
  readonly #clients = new Map<number, WebinateClient>();
  readonly #timers = new Map<number, ReturnType<typeof setTimeout>>();
  readonly #apiKey: string;
  readonly #origin: string;
  readonly #rejectCode: number | undefined;
  readonly #logger: Logger | undefined;
  readonly #now: () => number;
  readonly #random: () => number;
  readonly #recentFiles: WebinateFile[] = [];
  readonly #recentBuckets: WebinateBucket[] = [];
  // Deno closes the Request once upgraded, so `conn.request.headers` throws by `onOpen`;
  // the upgrade's headers are copied here first.
  readonly #headers = new WeakMap<Request, Headers>();

  constructor(options: WebinateSimulatorOptions = {}) {
    super();
    this.variant = options.variant ?? "current";
    this.generation = options.generation ?? "A";
    this.approvedSocketDomains = options.approvedSocketDomains ??
      ["localhost", "relay\\.example\\.com"];
    // The real server compiles each entry per connection and would throw there; fail early.
    for (const d of this.approvedSocketDomains) new RegExp(d);
    this.sessionLookupMs = options.sessionLookupMs ?? 50;
    this.#sessions = new Map(Object.entries(options.sessions ?? { "sim-session-1": "alice" }));
    this.#users = new Map(Object.entries(
      options.users ?? { alice: { theme: "dark" }, bjones: {}, carol88: { plan: "pro" } },
    ));
    this.#apiKey = options.apiKey ?? "sim-users-api-key";
    this.#origin = options.origin ?? "http://localhost";
    this.#rejectCode = options.rejectCloseCode;
    this.#logger = options.logger;
    this.#now = options.now ?? Date.now;
    this.#random = options.random ?? Math.random;
    const serverOptions: SimulatorOptions = {};
    if (options.port !== undefined) serverOptions.port = options.port;
    if (options.hostname !== undefined) serverOptions.hostname = options.hostname;
    this.server = new SimServer({
      request: (req) => {
        this.#headers.set(req, new Headers(req.headers));
        return undefined;
      },
      // A ws@1 server without handleProtocols answers with the first offered subprotocol.
      protocol: (req) => req.headers.get("sec-websocket-protocol")?.split(/, */)[0],
      onOpen: (conn) => this.#onOpen(conn),
      onMessage: (conn, data) => this.#onMessage(conn, data),
      onClose: (conn) => this.#forget(conn.id),
    }, serverOptions);
  }

  /** `ws://127.0.0.1:<port>`; any path works (bare `ws` server, §3.1). */
  get url(): string {
    return this.server.origin;
  }

  /** Every accepted socket still open, in connection order. */
  clients(): WebinateClient[] {
    return [...this.#clients.values()].map((c) => ({ ...c }));
  }

  /** Adds or replaces a login session (`SID` → username). */
  addSession(sid: string, username: string): void {
    this.#sessions.set(sid, username);
  }

  /**
   * Removes a session as the session reaper does and, like `onSessionRemoved`, announces a
   * Logout for its user. Open sockets keep the user resolved at connect time.
   */
  expireSession(sid: string): WebinateEmitResult | undefined {
    const username = this.#sessions.get(sid);
    if (username === undefined) return undefined;
    this.#sessions.delete(sid);
    return this.emit({ type: "Logout", username });
  }

  /** Sets a user's whole meta object (creating the user). */
  setUser(username: string, meta: unknown = {}): void {
    this.#users.set(username, meta);
  }

  /** A user's meta as MetaRequests left it; undefined for unknown users. */
  userMeta(username: string): unknown {
    return this.#users.get(username);
  }

  /**
   * Sends a server event. Gen A: `{eventType, …}` to every open socket (§3.4). Gen B:
   * `{type, …, username}` only to third-party sockets and the user's own sessions.
   */
  emit(event: WebinateEventInput): WebinateEmitResult {
    const built = buildServerEvent(this.generation, event, {
      username: event.username ?? pick(this.#random, DEMO_USERS),
      random: this.#random,
      now: this.#now(),
    });
    if (built.file && event.type === "FileUploaded") this.#remember(this.#recentFiles, built.file);
    if (built.bucket && event.type === "BucketUploaded") {
      this.#remember(this.#recentBuckets, built.bucket);
    }
    const text = this.shaped(JSON.stringify(built.frame));
    // §3.4: Gen A broadcasts to `_server.clients`, i.e. every open socket, even one still in
    // its session lookup; Gen B targets by username.
    const delivered = this.generation === "A"
      ? this.server.broadcast(text)
      : this.#deliverB(text, built.username);
    return { frame: built.frame, delivered };
  }

  /** Sends `text` verbatim to every open socket (malformed-frame tests); returns the count. */
  sendRaw(text: string): number {
    return this.server.broadcast(text);
  }

  /** Emits one plausible event: logins/logouts, file and bucket uploads/removals. */
  emitRandom(random: () => number): void {
    this.emit(randomEventInput(random, { files: this.#recentFiles, buckets: this.#recentBuckets }));
  }

  /**
   * `{ name, kind: "webinate", url, origin }` (DESIGN.md "Config"), plus `apiKey` (sent as
   * the `users-api-key` header) and `generation: "B"` (so the relay probes with a
   * MetaRequest) for Gen B, which delivers nothing useful without the key (§3.4).
   */
  sourceConfig(name: string): Record<string, unknown> {
    const config: Record<string, unknown> = { name, kind: "webinate", url: this.url };
    config.origin = this.#origin;
    if (this.generation === "B") {
      config.apiKey = this.#apiKey;
      config.generation = "B";
    }
    return config;
  }

  #onOpen(conn: SimConnection): void {
    const headers = this.#headers.get(conn.request) ?? new Headers();
    const origin = headers.get("origin");
    let handlers = 0;
    let thirdParty = false;
    for (const domain of this.approvedSocketDomains) {
      // §3.1: `origin.match(new RegExp(entry))` — a search, anchored only if the entry is.
      const matches = origin !== null && new RegExp(domain).test(origin);
      if (this.generation === "A") {
        // §3.1 Gen A quirk: no `break`, one ClientConnection (handler) per matching entry.
        if (matches) handlers++;
        continue;
      }
      // §3.1 Gen B: the key is only checked inside this loop, so an empty list refuses all.
      const key = headers.get("users-api-key");
      thirdParty = key !== null && key === this.#apiKey;
      if (thirdParty || matches) {
        handlers = 1;
        break;
      }
    }
    if (handlers === 0) {
      // §3.1: refused after the upgrade (`ws.terminate()`), not with an HTTP 403.
      this.rejected++;
      this.#log(
        "error",
        `A connection was made by ${origin} but it is not on the approved domain list. Make sure the host is on the approvedSocketDomains parameter in the config file.`,
      );
      if (this.#rejectCode === undefined) conn.socket.close();
      else conn.socket.close(this.#rejectCode, "origin not approved");
      return;
    }
    // session.ts getIDFromRequest: an unanchored `/SID=([^ ,;]*)/` over the Cookie header.
    const sid = /SID=([^ ,;]*)/.exec(headers.get("cookie") ?? "")?.[1] ?? null;
    const client: WebinateClient = {
      id: conn.id,
      origin,
      sessionId: sid,
      handlers,
      ready: false,
      username: null,
      authorizedThirdParty: thirdParty,
    };
    this.#clients.set(conn.id, client);
    conn.state.webinate = client;
    // §3.1 edge case: handlers attach when `loggedIn(upgradeReq)` resolves; until then
    // frames have no listener and vanish.
    this.#timers.set(
      conn.id,
      setTimeout(() => {
        this.#timers.delete(conn.id);
        client.ready = true;
        client.username = (sid !== null ? this.#sessions.get(sid) : undefined) ?? null;
      }, this.sessionLookupMs),
    );
  }

  #forget(id: number): void {
    const timer = this.#timers.get(id);
    if (timer !== undefined) clearTimeout(timer);
    this.#timers.delete(id);
    this.#clients.delete(id);
  }

  #onMessage(conn: SimConnection, data: string): void {
    const client = this.#clients.get(conn.id);
    if (!client?.ready) {
      this.#log("debug", `Frame lost before the session lookup finished: '${data}'`);
      return;
    }
    // §3.1 Gen A quirk: each attached handler processes the frame on its own.
    for (let i = 0; i < client.handlers; i++) {
      if (this.generation === "A") this.#handleA(conn, data);
      else this.#handleB(conn, client, data);
    }
  }

  #handleA(conn: SimConnection, data: string): void {
    this.#log("info", `Received message from client: '${data}'`);
    const event = this.#parse(data);
    if (event === undefined) return;
    // CommsController.alertMessage: a falsy event is logged, nothing else happens.
    if (!event) return this.#log("error", "Websocket alert error: No ClientEvent set");
    // §3.2: event types without a listener (1–8, unknown) get no reply.
    const parsed = genAClientFrame.safeParse(event);
    if (!parsed.success) return;
    const frame = parsed.data;
    switch (frame.eventType) {
      case 10:
      case "10": {
        // §3.2 Echo: reply with eventType 10 (the enum value) to the sender or to everyone.
        const reply = JSON.stringify({
          eventType: WEBINATE_EVENT_TYPE.Echo,
          message: frame.message,
        });
        if (frame.broadcast) this.server.broadcast(reply);
        else this.server.send(conn, reply);
        return;
      }
      default: {
        // §3.2 MetaRequest: the reply repeats the client's eventType; Gen A checks no permission.
        const out = applyMetaRequest(this.#users, frame, { generation: "A", thirdParty: false });
        const reply = out.ok
          ? { eventType: frame.eventType, val: out.val }
          : { error: out.error, eventType: frame.eventType };
        this.server.send(conn, JSON.stringify(reply));
      }
    }
  }

  #handleB(conn: SimConnection, client: WebinateClient, data: string): void {
    this.#log("info", `Received message from client: '${data}'`);
    const token = this.#parse(data);
    if (token === undefined) return;
    const from = client.origin ?? "AUTHORIZED-ACCESS";
    if (!token) {
      return this.#log(
        "error",
        `Websocket error: An instruction was sent from '${from}' without a token`,
      );
    }
    // §3.2 Gen B: only `MetaRequest` has a listener; anything else is logged, no reply.
    const parsed = genBClientFrame.safeParse(token);
    if (!parsed.success) {
      return this.#log(
        "error",
        `Websocket error: An instruction was sent from '${from}' with a type that is not recognised`,
      );
    }
    const frame: GenBClientFrame = parsed.data;
    const out = applyMetaRequest(this.#users, frame, {
      generation: "B",
      thirdParty: client.authorizedThirdParty,
    });
    const reply = out.ok
      ? { type: "MetaRequest", val: out.val, property: frame.property, username: frame.username }
      : { type: "MetaRequest", error: out.error };
    this.server.send(conn, JSON.stringify(reply));
  }

  #parse(data: string): unknown {
    try {
      return JSON.parse(data);
    } catch (err) {
      // §3.2: invalid JSON is logged, never answered.
      this.#log("error", `Could not parse socket message: '${err}'`);
      return undefined;
    }
  }

  #deliverB(text: string, username: string): number {
    // comms-controller.ts processClientInstruction: third parties and the user's own
    // sessions; connections still in their session lookup have no `ws` yet and get nothing.
    let n = 0;
    for (const conn of this.server.connections) {
      const client = this.#clients.get(conn.id);
      if (!client?.ready) continue;
      if (!client.authorizedThirdParty && client.username !== username) continue;
      if (this.server.send(conn, text)) n++;
    }
    return n;
  }

  #remember<T>(list: T[], item: T): void {
    list.push(item);
    if (list.length > 20) list.shift();
  }

  #log(level: "debug" | "info" | "error", msg: string): void {
    this.logs.push(msg);
    if (this.logs.length > 1000) this.logs.shift();
    this.#logger?.[level](msg, { component: "webinate-simulator" });
  }
}

/** Creates (but does not start) a Webinate users socket simulator. */
export function createWebinateSimulator(
  options: WebinateSimulatorOptions = {},
): WebinateSimulator {
  return new WebinateSimulator(options);
}
