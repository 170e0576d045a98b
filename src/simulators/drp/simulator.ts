/**
 * A fake Digital Rebar Provision (DRP) API endpoint serving the event websocket
 * `GET /api/v3/ws` the way the v3 server does (`shared/PROTOCOLS.md` §2; seed
 * `digital-rebar-provision-websocket.txt`, DRP docs §13.4):
 *
 * - Auth on the upgrade request (`userAuth` middleware): `Authorization: Bearer <token>`,
 *   `Authorization: Basic base64(user:pass)`, or, only without an Authorization header,
 *   query `?token=` (`user:pass` when it holds a `:`, else a token). Missing or garbled
 *   credentials -> 401 `WWW-Authenticate: dr-provision`; unknown user, wrong password,
 *   unknown/expired token -> 403; a token whose secrets no longer validate -> 403 JSON.
 * - Client text frames `register T.A.K` / `deregister T.A.K`, each answered with a
 *   `websocket` acknowledgement event; anything else is ignored without a reply; frames
 *   over 512 bytes drop the connection (1009).
 * - Events `{Time, Type, Action, Key, Principal, Object, Original}` go to every session
 *   with a matching filter (`*` or exact per field; the key is everything after the
 *   second dot). A session with no filters receives nothing.
 *
 * Docs: https://docs.rackn.io/stable/developers/integrations/websocket/
 *
 * @module
 */
import { type SimConnection, SimServer } from "../sim_server.ts";
import { ServedSimulator, type SimulatorOptions } from "../vendor_simulator.ts";
import {
  ackEvent,
  type DrpEvent,
  drpEventSchema,
  DrpRandomFleet,
  goJson,
  goNow,
  matchFilter,
  parseClientFrame,
} from "./messages.ts";
import { DRP_VARIANTS, reshapeDrp } from "./variants.ts";

/** The websocket path; every other path is a 404 (PROTOCOLS.md §2.1). */
export const DRP_WS_PATH = "/api/v3/ws";
/** melody's default read limit: larger inbound frames drop the connection (§2.2). */
export const DRP_MAX_FRAME_BYTES = 512;

/** A token the simulator accepts at start. */
export interface DrpTokenInit {
  token: string;
  /** The user the token was issued for; defaults to the first configured user. */
  user?: string;
  /** Epoch ms after which the token no longer decodes (403). */
  expiresAt?: number;
}

/** Options of {@link createDrpSimulator}. */
export interface DrpSimulatorOptions extends SimulatorOptions {
  /** user -> password; default `{ rocketskates: "r0cketsk8ts" }` (DRP's default login). */
  users?: Record<string, string>;
  /** Tokens accepted as `Bearer` / `?token=`. */
  tokens?: (string | DrpTokenInit)[];
  /**
   * `false` behaves like the Dec-2017 v3 build that wrote no acknowledgement after
   * register/deregister (PROTOCOLS.md §2.3). Default `true`.
   */
  acks?: boolean;
  /** Serve `wss://`; `ca` (if given) is passed on in {@link DrpSimulator.sourceConfig}. */
  tls?: { cert: string; key: string; ca?: string };
}

/** What a test may supply to {@link DrpSimulator.emit}; the rest gets DRP defaults. */
export interface DrpEmitInit {
  Type: string;
  Action: string;
  Key: string;
  Object?: unknown;
  Original?: unknown;
  /** Defaults to `user:<first configured user>`. */
  Principal?: string;
  /** Defaults to now in Go's RFC 3339 nano format. */
  Time?: string;
}

/** One open websocket session as the server sees it. */
export interface DrpSessionInfo {
  /** The {@link SimConnection} id. */
  id: number;
  /** `user:<name>` captured at upgrade (claims are fixed for the session's life, §2.1). */
  principal: string;
  /** How it authenticated. */
  auth: "basic" | "bearer";
  /** Where the credentials came from. */
  via: "header" | "query";
  /** Registered filters in registration order. */
  filters: string[];
}

interface TokenRecord {
  user: string;
  expiresAt: number;
  revoked: boolean;
}

/** Per-connection state: what the upgrade authenticated, plus the filters. */
type DrpSession = Omit<DrpSessionInfo, "id">;

const DEFAULT_USERS = { rocketskates: "r0cketsk8ts" };
const WWW_AUTHENTICATE = "WWW-Authenticate";

/** A running fake DRP endpoint. */
export class DrpSimulator extends ServedSimulator {
  readonly variants = DRP_VARIANTS;
  protected readonly reshape = reshapeDrp;
  /** The listening server: connections, received frames, drop/stop/restart. */
  readonly server: SimServer;
  readonly #users: Map<string, string>;
  readonly #tokens = new Map<string, TokenRecord>();
  readonly #acks: boolean;
  readonly #ca: string | undefined;
  /** Sessions handed from the authenticated upgrade request to the opened connection. */
  readonly #pending = new WeakMap<Request, DrpSession>();
  readonly #random = new DrpRandomFleet();
  #wouldHavePanicked = 0;
  #ignoredFrames = 0;

  constructor(options: DrpSimulatorOptions = {}) {
    super();
    this.variant = options.variant ?? "current";
    this.#users = new Map(Object.entries(options.users ?? DEFAULT_USERS));
    this.#acks = options.acks ?? true;
    this.#ca = options.tls?.ca;
    for (const t of options.tokens ?? []) {
      const { token, ...rest } = typeof t === "string" ? { token: t } : t;
      this.addToken(token, rest);
    }
    const serverOptions: ConstructorParameters<typeof SimServer>[1] = {};
    if (options.port !== undefined) serverOptions.port = options.port;
    if (options.hostname !== undefined) serverOptions.hostname = options.hostname;
    if (options.tls) serverOptions.tls = { cert: options.tls.cert, key: options.tls.key };
    this.server = new SimServer({
      request: (req) => this.#route(req),
      onOpen: (conn) => this.#open(conn),
      onMessage: (conn, data) => this.#message(conn, data),
    }, serverOptions);
  }

  /** `ws(s)://127.0.0.1:<port>/api/v3/ws`. */
  get url(): string {
    return `${this.server.origin}${DRP_WS_PATH}`;
  }

  /** The first configured user (the one {@link sourceConfig} uses). */
  get username(): string {
    const first = this.#users.keys().next();
    return first.done ? "" : first.value;
  }

  /** That user's password. */
  get password(): string {
    return this.#users.get(this.username) ?? "";
  }

  /** How often a short filter (fewer than 3 parts) would have crashed the real matcher. */
  get wouldHavePanicked(): number {
    return this.#wouldHavePanicked;
  }

  /** Frames the server ignored without a reply (malformed or unknown prefix). */
  get ignoredFrames(): number {
    return this.#ignoredFrames;
  }

  /**
   * Publishes an event to every session with a matching filter and returns how many
   * sessions got it (PROTOCOLS.md §2.4: filters OR'd, no filters -> nothing).
   */
  emit(init: DrpEmitInit): number {
    const event: DrpEvent = drpEventSchema.parse({
      Time: init.Time ?? goNow(),
      Type: init.Type,
      Action: init.Action,
      Key: init.Key,
      Principal: init.Principal ?? `user:${this.username}`,
      Object: init.Object ?? null,
      // §2.3: Original is only filled for update/save; callers may still force one.
      Original: init.Original ?? null,
    });
    const text = this.shaped(goJson(event));
    let delivered = 0;
    for (const conn of this.server.connections) {
      if (this.#wants(conn, event) && this.server.send(conn, text)) delivered++;
    }
    return delivered;
  }

  /** Sends `text` verbatim to every open connection (for bad-input tests). */
  sendRaw(text: string): number {
    return this.server.broadcast(text);
  }

  /** The filters a session has registered, or `undefined` for an unknown connection. */
  filters(connectionId: number): string[] | undefined {
    for (const conn of this.server.connections) {
      if (conn.id === connectionId) return [...sessionOf(conn).filters];
    }
    return undefined;
  }

  /** Every open session. */
  sessions(): DrpSessionInfo[] {
    return [...this.server.connections].map((conn) => {
      const s = sessionOf(conn);
      return { id: conn.id, ...s, filters: [...s.filters] };
    });
  }

  /** Accepts a (new) token; returns it. Defaults: random token, first user, no expiry. */
  addToken(
    token: string = crypto.randomUUID().replaceAll("-", ""),
    options: { user?: string; expiresAt?: number } = {},
  ): string {
    this.#tokens.set(token, {
      user: options.user ?? this.username,
      expiresAt: options.expiresAt ?? Number.POSITIVE_INFINITY,
      revoked: false,
    });
    return token;
  }

  /**
   * Invalidates a token's secrets (as rotating the user's secret does): new upgrades with
   * it get 403 JSON "Validation failed"; open sessions keep their claims (§2.6).
   */
  revokeToken(token: string): boolean {
    const rec = this.#tokens.get(token);
    if (rec) rec.revoked = true;
    return rec !== undefined;
  }

  /** Expires a token now: new upgrades with it get a bare 403 like an expired JWT. */
  expireToken(token: string): boolean {
    const rec = this.#tokens.get(token);
    if (rec) rec.expiresAt = 0;
    return rec !== undefined;
  }

  /** Adds a user, changes a password, or (with `undefined`) deletes the user. */
  setUser(name: string, password: string | undefined): void {
    if (password === undefined) this.#users.delete(name);
    else this.#users.set(name, password);
  }

  /** Emits one realistic machine/job/profile/param event. */
  emitRandom(random: () => number): void {
    this.emit(this.#random.next(random, `user:${this.username}`));
  }

  /** A relay `sources[]` entry with valid credentials (Basic auth). */
  sourceConfig(name: string): Record<string, unknown> {
    const config: Record<string, unknown> = {
      name,
      kind: "drp",
      url: this.url,
      username: this.username,
      password: this.password,
    };
    if (this.#ca !== undefined) config.caCert = this.#ca;
    return config;
  }

  #wants(conn: SimConnection, event: DrpEvent): boolean {
    // First match wins (§2.4); a short filter would panic in Go only when reached.
    for (const filter of sessionOf(conn).filters) {
      const m = matchFilter(filter, event);
      if (m === "match") return true;
      if (m === "would-panic") this.#wouldHavePanicked++;
    }
    return false;
  }

  #route(req: Request): Response | undefined {
    const url = new URL(req.url);
    if (url.pathname !== DRP_WS_PATH) {
      // gin NoRoute: 404 models.Error, before any auth.
      return Response.json(drpError(404, req.method, url.pathname + url.search, "No route"), {
        status: 404,
      });
    }
    const auth = this.#authenticate(req, url);
    if (auth instanceof Response) return auth;
    if (req.headers.get("upgrade")?.toLowerCase() !== "websocket") {
      // gorilla's Upgrade answers a plain GET with 400.
      return new Response(
        "Bad Request\nwebsocket: the client is not using the websocket protocol: " +
          "'upgrade' token not found in 'Connection' header\n",
        { status: 400 },
      );
    }
    this.#pending.set(req, auth);
    return undefined;
  }

  /** v3 `userAuth` (PROTOCOLS.md §2.1), step for step. */
  #authenticate(req: Request, url: URL): DrpSession | Response {
    let header = req.headers.get("authorization") ?? "";
    let via: DrpSession["via"] = "header";
    if (header === "") {
      // Only without a header, and only the lower-case key (case-sensitive c.Query).
      const q = url.searchParams.get("token") ?? "";
      if (q === "") return unauthorized();
      header = q.includes(":") ? `Basic ${btoa(binaryOf(q))}` : `Bearer ${q}`;
      via = "query";
    }
    const space = header.indexOf(" ");
    const scheme = space < 0 ? header : header.slice(0, space);
    const value = space < 0 ? "" : header.slice(space + 1);
    if (space < 0 || (scheme !== "Basic" && scheme !== "Bearer")) return unauthorized();
    if (scheme === "Basic") {
      const decoded = decodeStdBase64(value);
      const colon = decoded?.indexOf(":") ?? -1;
      if (decoded === undefined || colon < 0) return unauthorized();
      const user = decoded.slice(0, colon);
      const password = this.#users.get(user);
      // Unknown user and wrong password: bare 403, no header, no body.
      if (password === undefined || password !== decoded.slice(colon + 1)) {
        return new Response(null, { status: 403 });
      }
      return { principal: `user:${user}`, auth: "basic", via, filters: [] };
    }
    const rec = this.#tokens.get(value);
    if (!rec || rec.expiresAt <= Date.now()) {
      // GetToken failed (unknown, garbled or expired JWT): 403 with the header.
      return new Response(null, { status: 403, headers: { [WWW_AUTHENTICATE]: "dr-provision" } });
    }
    if (rec.revoked || !this.#users.has(rec.user)) {
      // The token decodes but ValidateSecrets fails.
      return Response.json(drpError(403, "AUTH", "", "Validation failed"), { status: 403 });
    }
    return { principal: `user:${rec.user}`, auth: "bearer", via, filters: [] };
  }

  #open(conn: SimConnection): void {
    conn.state.drp = this.#pending.get(conn.request) ?? emptySession();
  }

  #message(conn: SimConnection, data: string): void {
    // §2.2: melody's 512-byte read limit; gorilla closes with 1009 "message too big".
    if (new TextEncoder().encode(data).byteLength > DRP_MAX_FRAME_BYTES) {
      conn.socket.close(1009, "");
      return;
    }
    const command = parseClientFrame(data);
    if (!command) {
      // §2.2: logged and ignored, no error frame.
      this.#ignoredFrames++;
      return;
    }
    const session = sessionOf(conn);
    if (command.command === "register") {
      // Opaque strings, no duplicates.
      if (!session.filters.includes(command.filter)) session.filters.push(command.filter);
    } else {
      // Only a byte-identical filter is removed; unknown ones are a no-op.
      session.filters = session.filters.filter((f) => f !== command.filter);
    }
    // §2.3: one ack per command, even for duplicates and unknown deregisters.
    if (this.#acks) this.server.send(conn, goJson(ackEvent(command)));
  }
}

/** Creates (but does not start) a DRP simulator. */
export function createDrpSimulator(options: DrpSimulatorOptions = {}): DrpSimulator {
  return new DrpSimulator(options);
}

function sessionOf(conn: SimConnection): DrpSession {
  const s = conn.state.drp as DrpSession | undefined;
  if (s) return s;
  return (conn.state.drp = emptySession());
}

function emptySession(): DrpSession {
  return { principal: "", auth: "basic", via: "header", filters: [] };
}

function unauthorized(): Response {
  return new Response(null, { status: 401, headers: { [WWW_AUTHENTICATE]: "dr-provision" } });
}

/** The server's `models.Error` JSON. */
function drpError(code: number, type: string, key: string, message: string) {
  return { Model: "", Key: key, Type: type, Messages: [message], Code: code };
}

/** UTF-8 bytes as a binary string, so `btoa` takes any query value. */
function binaryOf(text: string): string {
  return String.fromCharCode(...new TextEncoder().encode(text));
}

/** Go's `base64.StdEncoding.DecodeString`: padded, standard alphabet, else `undefined`. */
function decodeStdBase64(value: string): string | undefined {
  if (value.length % 4 !== 0 || !/^[A-Za-z0-9+/]*={0,2}$/.test(value)) return undefined;
  try {
    const bin = atob(value);
    return new TextDecoder().decode(Uint8Array.from(bin, (c) => c.charCodeAt(0)));
  } catch {
    return undefined;
  }
}
