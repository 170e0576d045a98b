/**
 * A fake iland cloud event websocket (PROTOCOLS.md §1) with its Keycloak token endpoint.
 *
 * Protocol: the client dials `/v1/event-websocket` with no credentials; the server greets with
 * the bare text `AUTHORIZATION`; the client answers `companyId=<id>,Bearer <token>` (one
 * company) or `Bearer <token>` (every company the user can see); from then on the server pushes
 * `{"type":"EVENT"|"TASK","data":{…}}` and expects nothing more. There are no subscribe or
 * filter commands: filtering is the client's job (§1.2, §1.4). Tokens come from
 * `POST /auth/realms/iland-core/protocol/openid-connect/token` (password and refresh_token
 * grants), or are configured directly as static tokens.
 *
 * Choices where the docs are silent (§1.7) are marked "decision" below.
 *
 * @module
 */
import { SimServer } from "../sim_server.ts";
import type { SimConnection } from "../sim_server.ts";
import { pick, ServedSimulator, type SimulatorOptions } from "../vendor_simulator.ts";
import {
  AuthLineSchema,
  AUTHORIZATION,
  encodePushUpdate,
  type EventJson,
  fakeJwt,
  ILAND_TOKEN_PATH,
  ILAND_WS_PATH,
  type OAuthError,
  type PushUpdate,
  randomUpdate,
  randomUuid,
  type TaskJson,
  TokenRequestSchema,
  type TokenResponse,
  vcloudId,
} from "./messages.ts";
import { ILAND_VARIANTS, reshapeIland } from "./variants.ts";

/** A console user: what it logs in with and which companies it can see. */
export interface IlandUser {
  username: string;
  password: string;
  fullName: string;
  /** Company ids the user can see (the inventory's `company_id`s, §1.1). */
  companies: string[];
}

/** How to build an {@link IlandSimulator}. */
export interface IlandSimulatorOptions extends SimulatorOptions {
  /** Default: one user `alice` / `alice-password` seeing companies `1000123` and `1000456`. */
  users?: IlandUser[];
  /** The one OAuth client the token endpoint accepts. Default `relay` / `relay-secret`. */
  clientId?: string;
  clientSecret?: string;
  /** Tokens accepted without a login, token → username. Default `iland-sim-static-token` → first user. */
  staticTokens?: Record<string, string>;
  /** Access token lifetime (`expires_in`). Default 300 s (Keycloak's default). */
  tokenTtlSeconds?: number;
  /** Refresh token lifetime (`refresh_expires_in`). Default 1800 s. */
  refreshTtlSeconds?: number;
  /** Clock for token expiry and default timestamps (epoch ms), so tests can advance time. */
  now?: () => number;
}

/** One socket's protocol state, as {@link IlandSimulator.sessions} reports it. */
export type IlandSession =
  | { connection: number; phase: "awaiting_auth" }
  | {
    connection: number;
    phase: "authorized";
    username: string;
    /** Present when the auth line named a company; absent for `Bearer <token>` alone. */
    companyId?: string;
    /** Companies whose events this socket receives. */
    companies: string[];
  };
type Authorized = Extract<IlandSession, { phase: "authorized" }>;

interface IssuedToken {
  kind: "access" | "refresh";
  username: string;
  /** Epoch ms; `Infinity` for static tokens, `-Infinity` once expired by the knob. */
  expiresAt: number;
  session: string;
}

/** The datacentre every simulated entity lives in (iland ids embed it). */
const LOCATION = "dal02.ilandcloud.com";
const TERMINAL = new Set(["success", "error", "cancelled"]);
/** §1.7 decision: refusals close with 1008 (policy violation) and this reason, no text frame. */
const REFUSAL = { code: 1008, reason: "Unauthorized" } as const;

/** A running fake of the iland event websocket plus its token endpoint. */
export class IlandSimulator extends ServedSimulator {
  readonly variants = ILAND_VARIANTS;
  protected readonly reshape = reshapeIland;
  readonly server: SimServer;
  /** The first frame sent on open; change it to play a server that greets with an error (§1.1). */
  greeting: string = AUTHORIZATION;
  /** Auth lines refused (bad syntax, unknown/expired token, company not visible). */
  authRejections = 0;
  readonly #users: IlandUser[];
  readonly #clientId: string;
  readonly #clientSecret: string;
  readonly #tokenTtl: number;
  readonly #refreshTtl: number;
  readonly #now: () => number;
  readonly #tokens = new Map<string, IssuedToken>();
  readonly #sessions = new Map<SimConnection, IlandSession>();
  readonly #ids = new Map<string, string>();
  /** Tasks emitRandom started and will later complete (running → success). */
  readonly #running: TaskJson[] = [];

  constructor(options: IlandSimulatorOptions = {}) {
    super();
    this.variant = options.variant ?? "current";
    this.#users = options.users ?? [
      {
        username: "alice",
        password: "alice-password",
        fullName: "Alice Anders",
        companies: ["1000123", "1000456"],
      },
    ];
    if (!this.#users[0]) throw new RangeError("IlandSimulator needs at least one user");
    this.#clientId = options.clientId ?? "relay";
    this.#clientSecret = options.clientSecret ?? "relay-secret";
    this.#tokenTtl = options.tokenTtlSeconds ?? 300;
    this.#refreshTtl = options.refreshTtlSeconds ?? 1800;
    this.#now = options.now ?? Date.now;
    const statics = options.staticTokens ??
      { "iland-sim-static-token": this.#users[0].username };
    for (const [token, username] of Object.entries(statics)) this.addStaticToken(token, username);
    const serverOptions: SimulatorOptions = {};
    if (options.port !== undefined) serverOptions.port = options.port;
    if (options.hostname !== undefined) serverOptions.hostname = options.hostname;
    this.server = new SimServer({
      request: (req) => this.#request(req),
      onOpen: (conn) => this.#open(conn),
      onMessage: (conn, data) => this.#message(conn, data),
      onClose: (conn) => this.#sessions.delete(conn),
    }, serverOptions);
  }

  /** `ws://127.0.0.1:<port>/v1/event-websocket`. */
  get url(): string {
    return this.server.origin + ILAND_WS_PATH;
  }

  /** The token endpoint URL (on the same listener, unlike the real `console.` host). */
  get tokenUrl(): string {
    return this.server.httpOrigin + ILAND_TOKEN_PATH;
  }

  /** Every open socket's protocol state. */
  sessions(): IlandSession[] {
    return [...this.#sessions.values()].map((s) => structuredClone(s));
  }

  /** Accepts `token` for `username` until {@link expireAllTokens}. */
  addStaticToken(token: string, username: string): void {
    this.#tokens.set(token, { kind: "access", username, expiresAt: Infinity, session: "static" });
  }

  /** Knob: every token issued or configured so far stops working (refresh included). */
  expireAllTokens(): void {
    for (const token of this.#tokens.values()) token.expiresAt = -Infinity;
  }

  /** Logs `username` in without HTTP, as the password grant would. */
  issueToken(username: string = this.#firstUser().username): TokenResponse {
    return this.#issue(username, crypto.randomUUID());
  }

  /** The relay `sources[]` entry using a static token (DESIGN.md "Config"). */
  sourceConfig(name: string): Record<string, unknown> {
    const token = [...this.#tokens].find(([, t]) => t.session === "static")?.[0];
    return {
      name,
      kind: "iland",
      url: this.url,
      companyId: this.#firstCompany(),
      accessToken: token ?? this.issueToken().access_token,
    };
  }

  /** The same entry for the OAuth variant: the relay logs in and refreshes by itself. */
  oauthSourceConfig(name: string): Record<string, unknown> {
    const user = this.#firstUser();
    return {
      name,
      kind: "iland",
      url: this.url,
      companyId: this.#firstCompany(),
      tokenUrl: this.tokenUrl,
      clientId: this.#clientId,
      clientSecret: this.#clientSecret,
      username: user.username,
      password: user.password,
    };
  }

  /**
   * Pushes one `EVENT` to every authorized socket that may see it; returns the full event.
   * Defaults: a VM power-on in the first user's first company, or, for `owner_type: "USER"`,
   * a `USER_LOGIN` of the user named by `owner_id` (else the first user) without `task_uuid`
   * (§1.3).
   */
  emitEvent(partial: Partial<EventJson> = {}): EventJson {
    const owner = partial.owner_type ?? "COMPANY";
    const user = this.#users.find((u) => owner === "USER" && u.username === partial.owner_id) ??
      this.#firstUser();
    const actor = { initiated_by_username: user.username, initiated_by_full_name: user.fullName };
    const base: Omit<EventJson, "uuid" | "timestamp" | "owner_type"> = owner === "USER"
      ? {
        type: "USER_LOGIN",
        entity_uuid: user.username,
        entity_name: user.username,
        entity_type: "USER",
        owner_id: user.username,
        ...actor,
        details: `User ${user.username} logged in`,
      }
      : {
        type: "VM_POWER_STATE_CHANGE",
        entity_uuid: this.#entityId("vm", "web01"),
        entity_name: "web01",
        entity_type: "IAAS_VM",
        owner_id: this.#firstCompany(),
        task_uuid: crypto.randomUUID(),
        ...actor,
        details: "Virtual machine web01 powered on",
      };
    const data = {
      uuid: crypto.randomUUID(),
      ...base,
      owner_type: owner,
      timestamp: this.#now(),
      ...partial,
    };
    // §1.3: events carry no company_id; visibility follows owner_type/owner_id.
    this.#deliver(
      { type: "EVENT", data },
      (s) => data.owner_type === "USER" ? s.username === data.owner_id : sees(s, data.owner_id),
    );
    return data;
  }

  /**
   * Pushes one `TASK` to every authorized socket seeing its `company_id`; returns the task.
   * Defaults: a running `power on` of web01; a terminal `status` (success, error, cancelled)
   * defaults to inactive, progress 100 and `end_time` now.
   */
  emitTask(partial: Partial<TaskJson> = {}): TaskJson {
    const user = this.#firstUser();
    const status = partial.status ?? "running";
    const done = TERMINAL.has(status);
    const now = this.#now();
    const company = partial.company_id ?? this.#firstCompany();
    const uuid = partial.uuid ?? crypto.randomUUID();
    const data: TaskJson = {
      active: !done,
      company_id: company,
      synced: true,
      uuid,
      status,
      location_id: LOCATION,
      operation: "power on",
      end_time: done ? now : null,
      entity_uuid: this.#entityId("vm", "web01"),
      entity_name: "web01",
      initiated_from_ecs: true,
      initiation_time: now,
      message: null,
      operation_description: "Starting Virtual Machine web01",
      org_uuid: this.#entityId("org", company),
      other_attributes: {},
      parent_task_uuid: null,
      progress: done ? 100 : 0,
      start_time: status === "queued" ? null : now,
      sub_tasks: [],
      task_id: `urn:vcloud:task:${uuid}`,
      task_type: "VCD",
      user_full_name: user.fullName,
      username: user.username,
      ...partial,
    };
    this.#deliver({ type: "TASK", data }, (s) => sees(s, data.company_id));
    return data;
  }

  /** Sends `text` as-is to every authorized socket (malformed-frame tests); returns the count. */
  sendRaw(text: string): number {
    return this.#broadcast(text, () => true);
  }

  /** Emits one realistic event or task update; earlier running tasks complete (→ success). */
  emitRandom(random: () => number): void {
    const running = this.#running.shift();
    if (running && random() < 0.4) {
      this.emitTask({
        ...running,
        status: "success",
        progress: 100,
        active: false,
        end_time: this.#now(),
      });
      return;
    }
    if (running) this.#running.unshift(running);
    const user = pick(random, this.#users.filter((u) => u.companies.length > 0));
    const update = randomUpdate(random, {
      username: user.username,
      fullName: user.fullName,
      companyId: pick(random, user.companies),
      entityId: (kind, name) => this.#entityId(kind, name, random),
    });
    if (update.type === "EVENT") {
      this.emitEvent({ timestamp: this.#now(), ...update.data });
      return;
    }
    const task = this.emitTask(update.data);
    if (this.#running.length < 10) this.#running.push(task);
  }

  #firstUser(): IlandUser {
    const user = this.#users[0];
    if (!user) throw new RangeError("IlandSimulator needs at least one user");
    return user;
  }

  #firstCompany(): string {
    return this.#users.find((u) => u.companies[0])?.companies[0] ?? "1000123";
  }

  /** A stable vCloud id per (kind, name), so repeated events name the same entity. */
  #entityId(kind: string, name: string, random?: () => number): string {
    const key = `${kind}:${name}`;
    let id = this.#ids.get(key);
    if (!id) {
      id = vcloudId(LOCATION, kind, random ? randomUuid(random) : crypto.randomUUID());
      this.#ids.set(key, id);
    }
    return id;
  }

  #deliver(update: PushUpdate, visible: (s: Authorized) => boolean): number {
    return this.#broadcast(this.shaped(encodePushUpdate(update)), visible);
  }

  /** Sends to authorized sockets only: unauthenticated ones are still waiting for the greeting reply. */
  #broadcast(text: string, visible: (s: Authorized) => boolean): number {
    let n = 0;
    for (const [conn, s] of this.#sessions) {
      if (s.phase === "authorized" && visible(s) && this.server.send(conn, text)) n++;
    }
    return n;
  }

  #request(req: Request): Response | Promise<Response> | undefined {
    const path = new URL(req.url).pathname;
    if (path === ILAND_TOKEN_PATH) return this.#token(req);
    if (path === ILAND_WS_PATH) return undefined; // §1.1: no credentials on the upgrade
    return new Response("Not Found", { status: 404 });
  }

  #open(conn: SimConnection): void {
    this.#setSession(conn, { connection: conn.id, phase: "awaiting_auth" });
    // §1.1 step 2: the bare text frame, not JSON.
    this.server.send(conn, this.greeting);
  }

  #message(conn: SimConnection, data: string): void {
    const session = this.#sessions.get(conn);
    // §1.2: the auth line is the only client message; once authorized, anything else is
    // ignored (decision: no source shows a reply; the frame stays in `server.received`).
    if (!session || session.phase === "authorized") return;
    const auth = AuthLineSchema.safeParse(data);
    const token = auth.success ? this.#tokens.get(auth.data.token) : undefined;
    const user = token && this.#users.find((u) => u.username === token.username);
    const companyId = auth.success && auth.data.scope === "company"
      ? auth.data.companyId
      : undefined;
    // §1.7 decision: a malformed line, any other frame before auth, an unknown, expired or
    // refresh token, or a company the user cannot see all get the same refusal: close 1008
    // "Unauthorized" without a text frame. Token expiry is checked only here: the token is
    // presented once per connection (§1.6), so an open stream outlives its token.
    if (
      !token || token.kind !== "access" || token.expiresAt <= this.#now() || !user ||
      (companyId !== undefined && !user.companies.includes(companyId))
    ) {
      this.authRejections++;
      conn.socket.close(REFUSAL.code, REFUSAL.reason);
      return;
    }
    // Decision: a company-scoped socket gets that company's EVENT/TASK frames plus the
    // user's own USER-owned events (USER_REFRESH_TOKEN, USER_LOGIN, …), which belong to no
    // company; `Bearer` alone gets every company the user can see plus those USER events.
    const authorized: Authorized = {
      connection: conn.id,
      phase: "authorized",
      username: user.username,
      companies: companyId ? [companyId] : [...user.companies],
    };
    if (companyId) authorized.companyId = companyId;
    this.#setSession(conn, authorized);
  }

  #setSession(conn: SimConnection, session: IlandSession): void {
    this.#sessions.set(conn, session);
    conn.state = { ...session };
  }

  #issue(username: string, session: string): TokenResponse {
    const now = this.#now();
    const issuer = `${this.server.httpOrigin}/auth/realms/iland-core`;
    const iat = Math.floor(now / 1000);
    const remember = (kind: IssuedToken["kind"], ttl: number) => {
      const token = fakeJwt(issuer, username, kind === "access" ? "Bearer" : "Refresh", iat, ttl);
      this.#tokens.set(token, { kind, username, expiresAt: now + ttl * 1000, session });
      return token;
    };
    const access = remember("access", this.#tokenTtl);
    const refresh = remember("refresh", this.#refreshTtl);
    return {
      access_token: access,
      expires_in: this.#tokenTtl,
      refresh_expires_in: this.#refreshTtl,
      refresh_token: refresh,
      token_type: "Bearer",
      "not-before-policy": 0,
      session_state: session,
      scope: "profile email",
    };
  }

  /** §1.1 token endpoint: Keycloak's error bodies and statuses. */
  async #token(req: Request): Promise<Response> {
    if (req.method !== "POST") {
      return new Response(null, { status: 405, headers: { allow: "POST" } });
    }
    const isForm = req.headers.get("content-type")?.startsWith("application/x-www-form-urlencoded");
    const form = isForm ? Object.fromEntries(new URLSearchParams(await req.text())) : {};
    if (!form.grant_type) {
      return oauthError(400, "invalid_request", "Missing form parameter: grant_type");
    }
    const parsed = TokenRequestSchema.safeParse(form);
    if (!parsed.success) return oauthError(400, "unsupported_grant_type", "Unsupported grant_type");
    const grant = parsed.data;
    if (grant.client_id !== this.#clientId || grant.client_secret !== this.#clientSecret) {
      return oauthError(401, "invalid_client", "Invalid client credentials");
    }
    if (grant.grant_type === "password") {
      const user = this.#users.find((u) => u.username === grant.username);
      if (!user || user.password !== grant.password) {
        return oauthError(401, "invalid_grant", "Invalid user credentials");
      }
      return Response.json(this.#issue(user.username, crypto.randomUUID()));
    }
    const old = grant.refresh_token ? this.#tokens.get(grant.refresh_token) : undefined;
    if (!old || old.kind !== "refresh") {
      return oauthError(400, "invalid_grant", "Invalid refresh token");
    }
    if (old.expiresAt <= this.#now()) {
      return oauthError(400, "invalid_grant", "Token is not active");
    }
    const body = this.#issue(old.username, old.session);
    // §1.5: refreshing a token emits USER_REFRESH_TOKEN to that user's streams.
    this.emitEvent({
      owner_type: "USER",
      owner_id: old.username,
      type: "USER_REFRESH_TOKEN",
      details: `User ${old.username} refreshed an access token`,
    });
    return Response.json(body);
  }
}

/** Creates (does not start) an {@link IlandSimulator}. */
export function createIlandSimulator(options: IlandSimulatorOptions = {}): IlandSimulator {
  return new IlandSimulator(options);
}

function sees(s: Authorized, companyId: string): boolean {
  return s.companies.includes(companyId);
}

function oauthError(status: number, error: string, description: string): Response {
  const body: OAuthError = { error, error_description: description };
  return Response.json(body, { status });
}
