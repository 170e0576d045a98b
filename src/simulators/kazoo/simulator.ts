/**
 * A fake 2600Hz Kazoo (4.x): Crossbar's auth endpoints and the blackhole event websocket,
 * served from one port (real Kazoo: Crossbar on 8000, blackhole on 5555).
 *
 * Protocol (PROTOCOLS.md §4): get a token with `PUT /v2/user_auth` (md5 of `lower(user):pass`
 * plus `account_name`) or `PUT /v2/api_auth`; open a websocket on any path (no subprotocol,
 * no auth at upgrade); send JSON actions `{action, auth_token, request_id, data}`. Each action
 * runs rate-limit -> authenticate (until an account is pinned) -> validate -> authorize ->
 * command, and gets `{"action":"reply",request_id,status,data}`. `subscribe` takes
 * `data.account_id` and one `data.binding` (`call.CHANNEL_CREATE.*`, `object.doc_created.user`,
 * …); matching events arrive as `{"action":"event",subscribed_key,subscription_key,name,
 * routing_key,data}`, one frame per matching session binding (so two bindings that both match
 * an event deliver it twice, as blackhole does). The server never pings; 1 h without inbound
 * frames closes the socket.
 *
 * @module
 */
import { type Clock, systemClock } from "../../platform/clock.ts";
import {
  amqpMatch,
  DEFAULT_ACCOUNTS,
  inHierarchy,
  type KazooAccount,
  type KazooSubscription,
  type KazooUser,
  normalizeAccountName,
  subscriptionCommand,
} from "./bindings.ts";
import {
  callEventPayload,
  ClientFrame,
  credentialsHash,
  crossbarAuth,
  DEMO_CALLERS,
  docChangePayload,
  hexFrom,
  mintToken,
  normalizeKeys,
  randomHex,
  stringifyServerFrame,
} from "./messages.ts";
import { type SimConnection, SimServer } from "../sim_server.ts";
import { pick, ServedSimulator, type SimulatorOptions } from "../vendor_simulator.ts";
import { KAZOO_VARIANTS, reshapeKazoo } from "./variants.ts";

/** How to build a {@link KazooSimulator}. */
export interface KazooSimulatorOptions extends SimulatorOptions {
  /** The primary user (default `admin` / `secret` in account `master`). */
  username?: string;
  password?: string;
  accountName?: string;
  /** Whether the primary user may subscribe `account_id: "*"` (default false). */
  superDuperAdmin?: boolean;
  /** The account tree (default {@link DEFAULT_ACCOUNTS}); the first entry is the master. */
  accounts?: readonly KazooAccount[];
  /** More users besides the primary one. */
  users?: readonly KazooUser[];
  /** Token lifetime (crossbar `token_auth_expiry_s`, default 3600). */
  tokenLifetimeSeconds?: number;
  /** Per-socket token bucket (kz_buckets defaults: 100 tokens, 10 per second). */
  rateLimit?: { capacity?: number; refillPerSecond?: number };
  /** Cowboy idle timeout: no inbound frame for this long closes the socket (default 1 h). */
  idleTimeoutMs?: number;
  /** `max_connections_per_ip` (default unlimited), counted over open sockets. */
  maxConnectionsPerIp?: number;
  /** Model `bh_ping` as loaded (default true; 4.3 does not autoload it). */
  pingModule?: boolean;
  /** Time for token expiry, rate limiting and the idle timeout. */
  clock?: Clock;
}

export { DEFAULT_ACCOUNTS };
export type { KazooAccount, KazooSubscription, KazooUser };

interface TokenRecord {
  accountId: string;
  superDuperAdmin: boolean;
  expiresAt: number;
  revoked: boolean;
}

interface Auth {
  accountId: string;
  superDuperAdmin: boolean;
}

/** bh_context for one socket. */
interface Session {
  sessionId: string;
  auth: Auth | undefined;
  bindings: KazooSubscription[];
  /** Reply data of the last successful command: handler-less actions echo it (§4.2). */
  respData: Record<string, unknown>;
  tokens: number;
  filledAt: number;
  idle: ReturnType<Clock["setTimeout"]> | undefined;
}

type Outcome =
  | { ok: true; auth: Auth; bindings: KazooSubscription[]; data: Record<string, unknown> }
  | { ok: false; error: string }
  | "crash";

/** A loopback Kazoo: Crossbar auth + blackhole websocket, with fault knobs for tests. */
export class KazooSimulator extends ServedSimulator {
  readonly variants = KAZOO_VARIANTS;
  protected readonly reshape = reshapeKazoo;
  readonly server: SimServer;
  /** When true, user_auth and api_auth answer 401 whatever the credentials. */
  rejectCredentials = false;
  /** Actions refused by the rate limiter. */
  rateLimited = 0;
  /** Sockets dropped because a frame crashed the handler (bad JSON, non-string binding). */
  dropped = 0;
  /** Sockets closed by the idle timeout. */
  idleClosed = 0;
  readonly #clock: Clock;
  readonly #accounts: readonly KazooAccount[];
  readonly #users: KazooUser[];
  readonly #options: KazooSimulatorOptions;
  readonly #tokens = new Map<string, TokenRecord>();
  readonly #sessions = new Map<number, Session>();
  readonly #liveCalls: { callId: string; accountId: string; answered: boolean }[] = [];

  constructor(options: KazooSimulatorOptions = {}) {
    super();
    this.variant = options.variant ?? "current";
    this.#options = options;
    this.#clock = options.clock ?? systemClock;
    this.#accounts = options.accounts ?? DEFAULT_ACCOUNTS;
    const master = this.#accounts[0];
    if (!master) throw new RangeError("Kazoo simulator needs at least one account");
    const accountName = options.accountName ?? master.name;
    const home = this.#accounts.find((a) =>
      normalizeAccountName(a.name) === normalizeAccountName(accountName)
    );
    if (!home) throw new RangeError(`No account named ${accountName}`);
    this.#users = [{
      username: options.username ?? "admin",
      password: options.password ?? "secret",
      accountId: home.id,
      ownerId: randomHex(32),
      superDuperAdmin: options.superDuperAdmin ?? false,
    }, ...(options.users ?? [])];
    this.server = new SimServer({
      request: (req, info) => this.#request(req, info),
      onOpen: (conn) => this.#open(conn),
      onMessage: (conn, data) => this.#message(conn, data),
      onClose: (conn) => this.#close(conn),
    }, options);
  }

  /** The blackhole URL (any path is accepted). */
  get url(): string {
    return this.server.origin;
  }
  /** The Crossbar base URL, `…/v2`. */
  get apiUrl(): string {
    return `${this.server.httpOrigin}/v2`;
  }
  /** The account tree. */
  get accounts(): readonly KazooAccount[] {
    return this.#accounts;
  }
  /** The primary user's account id. */
  get accountId(): string {
    return this.#primary.accountId;
  }
  /** The primary user's account name. */
  get accountName(): string {
    return this.#accounts.find((a) => a.id === this.#primary.accountId)?.name ?? "";
  }
  /** md5 hex of `lower(username):password` for the primary user. */
  get credentials(): string {
    return credentialsHash(this.#primary.username, this.#primary.password);
  }

  /** Mints a valid token without REST (default: the primary user's account). */
  issueToken(options: { accountId?: string; superDuperAdmin?: boolean } = {}): string {
    const accountId = options.accountId ?? this.#primary.accountId;
    const lifetime = (this.#options.tokenLifetimeSeconds ?? 3600) * 1000;
    const expiresAt = this.#clock.now() + lifetime;
    const token = mintToken({ account_id: accountId, exp: Math.floor(expiresAt / 1000) });
    this.#tokens.set(token, {
      accountId,
      superDuperAdmin: options.superDuperAdmin ?? false,
      expiresAt,
      revoked: false,
    });
    return token;
  }
  /** Expires every token issued so far; pinned sockets keep working (§4.5). */
  expireAllTokens(): void {
    const now = this.#clock.now();
    for (const t of this.#tokens.values()) t.expiresAt = Math.min(t.expiresAt, now);
  }
  /** Revokes one token; reports whether it existed. */
  revokeToken(token: string): boolean {
    const t = this.#tokens.get(token);
    if (t) t.revoked = true;
    return t !== undefined;
  }

  /** The session bindings of one connection (one entry per internal key). */
  subscriptions(connectionId: number): KazooSubscription[] {
    return [...(this.#sessions.get(connectionId)?.bindings ?? [])];
  }
  /** Session id (`ip:port`) and pinned account of one connection. */
  session(connectionId: number): { sessionId: string; accountId: string | undefined } | undefined {
    const s = this.#sessions.get(connectionId);
    return s && { sessionId: s.sessionId, accountId: s.auth?.accountId };
  }

  /**
   * Publishes an AMQP payload under `routingKey`; each session binding whose key matches gets
   * one event frame. `data` is normalised (lower-case, `_`) and stripped of Server-ID, Node
   * and Queue-ID (§4.3). Returns the number of frames sent.
   */
  emit(input: { routingKey: string; data: Record<string, unknown>; name?: string }): number {
    const { "Server-ID": _s, "Node": _n, "Queue-ID": _q, ...rest } = input.data;
    const data = normalizeKeys(rest) as Record<string, unknown>;
    const name = input.name ?? String(input.data["Event-Name"] ?? data["event_name"] ?? "");
    let sent = 0;
    for (const conn of this.server.connections) {
      for (const sub of this.#sessions.get(conn.id)?.bindings ?? []) {
        if (!amqpMatch(sub.key, input.routingKey)) continue;
        const frame = this.shaped(stringifyServerFrame({
          action: "event",
          subscribed_key: sub.binding,
          subscription_key: sub.key,
          name,
          routing_key: input.routingKey,
          data,
        }));
        if (this.server.send(conn, frame)) sent++;
      }
    }
    return sent;
  }
  /** A call event (CHANNEL_CREATE, …) for `accountId` (default: the primary account). */
  emitCall(
    input: { accountId?: string; event: string; callId?: string; data?: Record<string, unknown> },
  ): number {
    const { routingKey, payload } = callEventPayload({
      accountId: input.accountId ?? this.accountId,
      event: input.event,
      callId: input.callId ?? crypto.randomUUID(),
      now: this.#clock.now(),
      ...(input.data ? { data: input.data } : {}),
    });
    return this.emit({ routingKey, data: payload });
  }
  /** A document change (doc_created/doc_edited/doc_deleted on user, device, …). */
  emitObject(
    input: {
      accountId?: string;
      action: string;
      type: string;
      id?: string;
      data?: Record<string, unknown>;
    },
  ): number {
    const { routingKey, payload } = docChangePayload({
      accountId: input.accountId ?? this.accountId,
      action: input.action,
      type: input.type,
      id: input.id ?? randomHex(32),
      now: this.#clock.now(),
      ...(input.data ? { data: input.data } : {}),
    });
    return this.emit({ routingKey, data: payload });
  }
  /** Sends `text` as-is to every open socket. */
  sendRaw(text: string): number {
    return this.server.broadcast(text);
  }

  emitRandom(random: () => number): void {
    const master = this.#accounts[0]?.id ?? this.accountId;
    const sub = this.#accounts.find((a) => a.parentId === master)?.id ?? master;
    if (random() < 0.6) {
      // A call moves CREATE -> ANSWER -> DESTROY; a few run at once.
      const live = this.#liveCalls;
      if (live.length === 0 || (live.length < 5 && random() < 0.4)) {
        const [name, number] = pick(random, DEMO_CALLERS);
        const call = {
          callId: `${hexFrom(random, 8)}-${hexFrom(random, 4)}@10.26.0.${
            1 + Math.floor(random() * 9)
          }`,
          accountId: pick(random, [master, sub]),
          answered: false,
        };
        live.push(call);
        this.emitCall({
          accountId: call.accountId,
          event: "CHANNEL_CREATE",
          callId: call.callId,
          data: { "Caller-ID-Name": name, "Caller-ID-Number": number },
        });
        return;
      }
      const call = pick(random, live);
      const event = call.answered ? "CHANNEL_DESTROY" : "CHANNEL_ANSWER";
      if (call.answered) live.splice(live.indexOf(call), 1);
      call.answered = true;
      this.emitCall({ accountId: call.accountId, event, callId: call.callId });
      return;
    }
    this.emitObject({
      accountId: pick(random, [master, sub]),
      action: pick(random, ["doc_created", "doc_edited"]),
      type: pick(random, ["user", "device", "callflow"]),
      id: hexFrom(random, 32),
    });
  }

  sourceConfig(name: string): Record<string, unknown> {
    return {
      name,
      kind: "kazoo",
      url: this.url,
      apiUrl: this.apiUrl,
      credentials: this.credentials,
      accountName: this.accountName,
    };
  }

  get #primary(): KazooUser {
    return this.#users[0] as KazooUser;
  }

  // ---- Crossbar (REST) and upgrade checks ------------------------------------------------

  #request(
    req: Request,
    info: Deno.ServeHandlerInfo<Deno.NetAddr>,
  ): Promise<Response> | Response | undefined {
    if (req.headers.get("upgrade")?.toLowerCase() === "websocket") {
      // PROTOCOLS.md §4.1: sub-protocols are unsupported -> 400; per-IP cap -> 429.
      if (req.headers.has("sec-websocket-protocol")) return new Response(null, { status: 400 });
      const max = this.#options.maxConnectionsPerIp;
      const ip = info.remoteAddr.hostname;
      const open = [...this.server.connections].filter((c) => c.remote.hostname === ip).length;
      if (max !== undefined && open >= max) return new Response(null, { status: 429 });
      return undefined;
    }
    return crossbarAuth(req, {
      accounts: this.#accounts,
      users: this.#users,
      rejectCredentials: this.rejectCredentials,
      issueToken: (options) => this.issueToken(options),
    });
  }

  // ---- blackhole websocket ---------------------------------------------------------------

  #open(conn: SimConnection): void {
    const session: Session = {
      // blackhole_socket_handler:session_id/1: `<peer ip>:<peer port>`.
      sessionId: `${conn.remote.hostname}:${conn.remote.port}`,
      auth: undefined,
      bindings: [],
      respData: {},
      tokens: this.#options.rateLimit?.capacity ?? 100,
      filledAt: this.#clock.now(),
      idle: undefined,
    };
    this.#sessions.set(conn.id, session);
    this.#armIdle(conn, session);
  }

  #close(conn: SimConnection): void {
    const s = this.#sessions.get(conn.id);
    if (s?.idle !== undefined) this.#clock.clearTimeout(s.idle);
    this.#sessions.delete(conn.id);
  }

  /** PROTOCOLS.md §4.5: only inbound frames reset Cowboy's 1 h idle timeout. */
  #armIdle(conn: SimConnection, s: Session): void {
    if (s.idle !== undefined) this.#clock.clearTimeout(s.idle);
    s.idle = this.#clock.setTimeout(() => {
      s.idle = undefined;
      this.idleClosed++;
      conn.socket.close(1000, "idle timeout");
    }, this.#options.idleTimeoutMs ?? 3_600_000);
  }

  /** PROTOCOLS.md §4.2: no guard around decode -> the handler dies, the socket drops (1011). */
  #crash(conn: SimConnection): void {
    this.dropped++;
    this.#close(conn);
    try {
      conn.socket.close(1011, "internal error");
    } catch {
      // already closing
    }
  }

  #message(conn: SimConnection, text: string): void {
    const s = this.#sessions.get(conn.id);
    if (!s) return;
    this.#armIdle(conn, s);
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch {
      return this.#crash(conn);
    }
    const frame = ClientFrame.safeParse(json);
    if (!frame.success) return this.#crash(conn);
    const requestId = frame.data.request_id ?? randomHex(32);
    const outcome = this.#run(s, frame.data);
    if (outcome === "crash") return this.#crash(conn);
    if (outcome.ok) {
      s.auth = outcome.auth;
      s.bindings = outcome.bindings;
      s.respData = outcome.data;
    } // else the failed context is discarded: nothing, not even a fresh authentication, sticks.
    const [status, data] = outcome.ok
      ? ["success" as const, outcome.data]
      : ["error" as const, { errors: [outcome.error] }];
    this.server.send(
      conn,
      stringifyServerFrame({ action: "reply", request_id: requestId, status, data }),
    );
  }

  /** blackhole_socket_callback:recv/2: rate -> authenticate -> validate -> authorize -> command. */
  #run(s: Session, frame: ClientFrame): Outcome {
    if (!this.#takeToken(s)) {
      this.rateLimited++;
      return { ok: false, error: `rate limiting threshold hit for ${s.sessionId}!` };
    }
    // §4.1: authenticate only until an account is pinned; later tokens are never re-checked.
    const auth = s.auth ?? this.#authenticate(frame.auth_token);
    if (typeof auth === "string") return { ok: false, error: auth };
    if (frame.action === "subscribe" || frame.action === "unsubscribe") {
      const result = subscriptionCommand({
        action: frame.action,
        data: frame.data,
        bindings: s.bindings,
        authAccountId: auth.accountId,
        superDuperAdmin: auth.superDuperAdmin,
        inHierarchy: (accountId) => inHierarchy(this.#accounts, auth.accountId, accountId),
        now: this.#clock.now(),
      });
      return typeof result === "string" || !result.ok ? result : { ...result, auth };
    }
    // §4.2: bh_ping answers pong; actions without a handler reply success with stale data.
    const data = frame.action === "ping" && (this.#options.pingModule ?? true)
      ? { response: "pong" }
      : s.respData;
    return { ok: true, auth, bindings: s.bindings, data };
  }

  /** bh_token_auth (§4.1, §4.3 error texts). */
  #authenticate(token: unknown): Auth | string {
    if (token === undefined || token === null || token === "") {
      return "authentication token required";
    }
    if (typeof token !== "string") return "invalid authentication token format";
    const t = this.#tokens.get(token);
    if (!t || t.revoked || t.expiresAt <= this.#clock.now()) {
      return `failed to authenticate token ${token}`;
    }
    return { accountId: t.accountId, superDuperAdmin: t.superDuperAdmin };
  }

  /** kz_buckets: `capacity` tokens, `refillPerSecond` added once per elapsed second. */
  #takeToken(s: Session): boolean {
    const capacity = this.#options.rateLimit?.capacity ?? 100;
    const rate = this.#options.rateLimit?.refillPerSecond ?? 10;
    const periods = Math.floor((this.#clock.now() - s.filledAt) / 1000);
    if (periods > 0) {
      s.tokens = Math.min(capacity, s.tokens + periods * rate);
      s.filledAt += periods * 1000;
    }
    if (s.tokens < 1) return false;
    s.tokens--;
    return true;
  }
}

/** Creates (does not start) a Kazoo simulator. */
export function createKazooSimulator(options: KazooSimulatorOptions = {}): KazooSimulator {
  return new KazooSimulator(options);
}
