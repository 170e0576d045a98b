/**
 * A fake iSymphony (3.2+) Event API websocket.
 *
 * The protocol (PROTOCOLS.md §5; seed `isymphony-event-api.txt`, docs.getisymphony.com
 * "Websocket API Documentation (Event)"):
 * - `ws://<host>:58080/communication_manager/ws/event`, guarded by HTTP realm auth (default
 *   `manager` / `manag3rpa55word`) and an IP ACL that admits only localhost by default.
 * - Every frame is a flat JSON object with alphabetically ordered properties.
 * - The client's only message is `{"type":"filter","correlationId"?,"filters":[{property,value}]}`,
 *   which replaces the connection's whole filter set and is answered with `success` or `error`,
 *   echoing `correlationId` (or null).
 * - Events (`type`, `time` in epoch ms, `coreServerId`, per-type properties) are pushed to every
 *   connection whose filters let them in (see `match.ts`).
 * - Object UUIDs, `coreServerId` included, change when the server restarts.
 *
 * @module
 */
import { systemClock } from "../../platform/clock.ts";
import type { Clock } from "../../platform/clock.ts";
import { compileFilters, matchesFilters } from "./match.ts";
import type { CompiledFilters } from "./match.ts";
import {
  ClientMessageSchema,
  createDirectory,
  EnvelopeSchema,
  eventDefaults,
  ISymphonyEventSchema,
  ReplyMessageSchema,
  serialise,
  STATUS_TYPES,
} from "./messages.ts";
import type {
  Directory,
  FilterEntry,
  FilterMessage,
  ISymphonyEvent,
  ISymphonyEventInput,
  PropertyValue,
  ReplyMessage,
} from "./messages.ts";
import { SimServer } from "../sim_server.ts";
import type { SimConnection } from "../sim_server.ts";
import { pick, ServedSimulator, type SimulatorOptions } from "../vendor_simulator.ts";
import { ISYMPHONY_VARIANTS, reshapeISymphony } from "./variants.ts";

/** The websocket path (seed line 31). */
export const ISYMPHONY_EVENT_PATH = "/communication_manager/ws/event";
/** The realm named in the 401 challenge. The doc only says "HTTP Realm Auth" (seed line 36). */
export const ISYMPHONY_REALM = "iSymphony";

/** Options for {@link ISymphonySimulator}. */
export interface ISymphonySimulatorOptions extends SimulatorOptions {
  /** Default `manager` (seed line 36). */
  username?: string;
  /** Default `manag3rpa55word` (seed line 36). */
  password?: string;
  /**
   * Peer addresses the ACL admits; `"any"` turns the ACL off. Default: loopback only, as the
   * doc's default ACL (seed line 36).
   */
  allowedAddresses?: readonly string[] | "any";
  /** Timestamps for events and replies. */
  clock?: Clock;
  /** PEM certificate and key to serve `wss://` (the doc's SSL variant, seed line 39). */
  tls?: { cert: string; key: string };
}

/** Decides whether a filter message is refused; returns the `error` text, or undefined. */
export type FilterRejector = (message: FilterMessage) => string | undefined;

/** What {@link ISymphonySimulator.emit} sent. */
export interface EmitResult<E> {
  /** The complete event, defaults filled in. */
  event: E;
  /** How many connections it was delivered to (after their filters). */
  delivered: number;
}

const LOOPBACK = ["127.0.0.1", "::1", "::ffff:127.0.0.1"] as const;

/** Per-connection protocol state. */
interface ConnState {
  /** `undefined` until the first accepted filter message: everything is delivered. */
  filters: readonly FilterEntry[] | undefined;
  compiled: CompiledFilters | undefined;
}

/** A fake iSymphony Event API server. */
export class ISymphonySimulator extends ServedSimulator {
  readonly variants = ISYMPHONY_VARIANTS;
  protected readonly reshape = reshapeISymphony;
  /** The listening server: connections, received frames, drop/stop/restart. */
  readonly server: SimServer;
  readonly #clock: Clock;
  #username: string;
  #password: string;
  #allowed: readonly string[] | "any";
  #rejector: FilterRejector | undefined;
  readonly #rejectedProperties = new Map<string, string>();
  readonly #state = new WeakMap<SimConnection, ConnState>();
  #directory: Directory;
  #started = false;

  constructor(options: ISymphonySimulatorOptions = {}) {
    super();
    this.variant = options.variant ?? "current";
    this.#clock = options.clock ?? systemClock;
    this.#username = options.username ?? "manager";
    this.#password = options.password ?? "manag3rpa55word";
    this.#allowed = options.allowedAddresses ?? LOOPBACK;
    this.#directory = createDirectory();
    this.server = new SimServer({
      request: (req, info?: Deno.ServeHandlerInfo<Deno.NetAddr>) => this.#admit(req, info),
      onOpen: (conn) => this.#state.set(conn, { filters: undefined, compiled: undefined }),
      onMessage: (conn, data) => this.#onMessage(conn, data),
    }, {
      ...(options.port !== undefined ? { port: options.port } : {}),
      ...(options.hostname !== undefined ? { hostname: options.hostname } : {}),
      ...(options.tls !== undefined ? { tls: options.tls } : {}),
    });
  }

  /** `ws://127.0.0.1:<port>/communication_manager/ws/event` (after {@link start}). */
  get url(): string {
    return `${this.server.origin}${ISYMPHONY_EVENT_PATH}`;
  }

  /** The users, queues and UUIDs events are built from; replaced on every restart. */
  get directory(): Directory {
    return this.#directory;
  }

  /** Starts listening. A second start is a server restart: every UUID changes (seed line 79). */
  override async start(): Promise<void> {
    if (this.server.listening) return;
    if (this.#started) this.#directory = createDirectory();
    this.#started = true;
    await this.server.start();
  }

  /** Stops and starts on the same port with fresh UUIDs; clients must re-send their filter. */
  override async restart(): Promise<void> {
    await this.stop();
    await this.start();
  }

  /** Changes the accepted credentials (existing connections stay open). */
  setCredentials(username: string, password: string): void {
    this.#username = username;
    this.#password = password;
  }

  /** Changes the ACL for new upgrades; `"any"` admits every peer. */
  setAllowedAddresses(addresses: readonly string[] | "any"): void {
    this.#allowed = addresses;
  }

  /** Refuses every filter message for which `rejector` returns an error text. */
  rejectFilters(rejector: FilterRejector | undefined): void {
    this.#rejector = rejector;
  }

  /** Refuses any filter message with an entry on `property`, answering `error`. */
  rejectProperty(property: string, error = `Invalid filter property: ${property}`): void {
    this.#rejectedProperties.set(property, error);
  }

  /** Clears {@link rejectFilters} and every {@link rejectProperty}. */
  clearRejections(): void {
    this.#rejector = undefined;
    this.#rejectedProperties.clear();
  }

  /**
   * The filter set of an open connection: `undefined` before its first accepted filter
   * message. Throws for an id that is not open.
   */
  filters(connectionId: number): readonly FilterEntry[] | undefined {
    for (const conn of this.server.connections) {
      if (conn.id === connectionId) return this.#state.get(conn)?.filters;
    }
    throw new RangeError(`No open iSymphony connection with id ${connectionId}`);
  }

  /** Builds a documented event (filling every missing property) and delivers it. */
  emit<I extends ISymphonyEventInput>(
    input: I,
  ): EmitResult<Extract<ISymphonyEvent, { type: I["type"] }>> {
    const draft = {
      ...eventDefaults(this.#directory, input),
      time: this.#clock.now(),
      coreServerId: this.#directory.coreServerId,
      ...input,
    };
    // Checked before sending, so a test's typo fails loudly here rather than in the relay.
    const event = ISymphonyEventSchema.parse(draft) as Extract<ISymphonyEvent, { type: I["type"] }>;
    return { event, delivered: this.#deliver(event) };
  }

  /**
   * Delivers an arbitrary flat event (e.g. one of the undocumented types); `time` and
   * `coreServerId` are added when missing. Filters apply.
   */
  emitProperties(properties: { type: string } & Record<string, PropertyValue>): number {
    return this.#deliver({
      time: this.#clock.now(),
      coreServerId: this.#directory.coreServerId,
      ...properties,
    });
  }

  /** Sends `text` as-is to every open connection, ignoring filters; returns how many got it. */
  sendRaw(text: string): number {
    return this.server.broadcast(text);
  }

  /** Emits one realistic event: agent logins/logouts, status changes, hangups, link ends. */
  emitRandom(random: () => number): void {
    this.emit(randomEvent(this.#directory, random, this.#clock.now()));
  }

  /** A relay `sources[]` entry with this simulator's URL and credentials. */
  sourceConfig(name: string): Record<string, unknown> {
    return {
      name,
      kind: "isymphony",
      url: this.url,
      username: this.#username,
      password: this.#password,
    };
  }

  #deliver(event: Readonly<Record<string, unknown>>): number {
    // Filters see the event as the server holds it; only the wire shape varies.
    const text = this.shaped(serialise(event));
    let delivered = 0;
    for (const conn of this.server.connections) {
      const state = this.#state.get(conn);
      if (!matchesFilters(event, state?.compiled)) continue;
      if (this.server.send(conn, text)) delivered++;
    }
    return delivered;
  }

  /** The upgrade gate: ACL, then path, then realm auth. */
  #admit(
    req: Request,
    info: Deno.ServeHandlerInfo<Deno.NetAddr> | undefined,
  ): Response | undefined {
    // SimServer does not hand over the peer address today; when it does not, the peer of a
    // loopback listener can only be loopback. The ACL decision comes first: an address that is
    // not admitted never learns whether credentials would have worked. Doc silent on the
    // response (PROTOCOLS.md §5.7); this simulator answers 403.
    const peer = info?.remoteAddr.hostname ?? "127.0.0.1";
    if (this.#allowed !== "any" && !this.#allowed.includes(peer)) {
      return new Response("Forbidden", { status: 403 });
    }
    if (new URL(req.url).pathname !== ISYMPHONY_EVENT_PATH) {
      return new Response("Not Found", { status: 404 });
    }
    // PROTOCOLS.md §5.1: HTTP realm auth on the upgrade; Basic is assumed (Basic vs Digest
    // [unverified]). Deno's WebSocket turns URL userinfo (the doc's form) into this header.
    if (!this.#credentialsMatch(req.headers.get("authorization"))) {
      return new Response("Unauthorized", {
        status: 401,
        headers: { "www-authenticate": `Basic realm="${ISYMPHONY_REALM}"` },
      });
    }
    return undefined;
  }

  #credentialsMatch(header: string | null): boolean {
    const match = header?.match(/^Basic\s+([A-Za-z0-9+/=]+)\s*$/i);
    if (!match?.[1]) return false;
    let decoded: string;
    try {
      const bytes = Uint8Array.from(atob(match[1]), (c) => c.charCodeAt(0));
      decoded = new TextDecoder().decode(bytes);
    } catch {
      return false;
    }
    const colon = decoded.indexOf(":");
    if (colon < 0) return false;
    return decoded.slice(0, colon) === this.#username &&
      decoded.slice(colon + 1) === this.#password;
  }

  /**
   * Handles one client frame. Every problem is answered with an `error` reply and leaves the
   * previous filter set in place; the connection stays open (seed lines 129–140: "Returned when
   * an error occurred while processing the filter message"). The texts are this simulator's own.
   */
  #onMessage(conn: SimConnection, data: string): void {
    let json: unknown;
    try {
      json = JSON.parse(data);
    } catch {
      return this.#reply(conn, this.#error("Malformed message: not valid JSON", null));
    }
    const envelope = EnvelopeSchema.safeParse(json);
    if (!envelope.success) {
      return this.#reply(conn, this.#error("Malformed message: expected a JSON object", null));
    }
    const { type, correlationId: rawId } = envelope.data;
    // Echo a string correlationId even when the rest is wrong, so the client can match it.
    const correlationId = typeof rawId === "string" ? rawId : null;
    if (type !== "filter") {
      const text = typeof type === "string"
        ? `Unknown message type: ${type}`
        : "Malformed message: missing type";
      return this.#reply(conn, this.#error(text, correlationId));
    }
    const parsed = ClientMessageSchema.safeParse(json);
    if (!parsed.success) {
      return this.#reply(conn, this.#error(_describe(parsed.error.issues), correlationId));
    }
    const message = parsed.data;
    const refusal = this.#refusal(message);
    if (refusal !== undefined) return this.#reply(conn, this.#error(refusal, correlationId));
    // seed line 92: the message sets *the* filters of the connection, replacing earlier ones.
    const filters = message.filters.map(({ property, value }) => ({ property, value }));
    this.#state.set(conn, { filters, compiled: compileFilters(filters) });
    this.#reply(conn, { type: "success", correlationId, time: this.#clock.now() });
  }

  #refusal(message: FilterMessage): string | undefined {
    for (const { property } of message.filters) {
      const error = this.#rejectedProperties.get(property);
      if (error !== undefined) return error;
    }
    return this.#rejector?.(message);
  }

  #error(error: string, correlationId: string | null): ReplyMessage {
    return { type: "error", error, correlationId, time: this.#clock.now() };
  }

  #reply(conn: SimConnection, reply: ReplyMessage): void {
    this.server.send(conn, serialise(ReplyMessageSchema.parse(reply)));
  }
}

/** Turns a zod failure on a filter message into the `error` text. */
function _describe(issues: readonly { path: readonly PropertyKey[] }[]): string {
  const path = issues[0]?.path ?? [];
  if (path[0] === "correlationId") {
    return "Invalid filter message: correlationId must be a string";
  }
  if (path[0] === "filters" && typeof path[1] === "number") {
    return `Invalid filter message: filters[${path[1]}] needs a string property and a string value`;
  }
  return "Invalid filter message: filters must be an array";
}

const NOTES = ["", "", "In a meeting", "Lunch", "Back at 3", "Working from home"] as const;
const OUTSIDE_CALLERS = [
  ["WIRELESS CALLER", "+14155550123"],
  ["ACME CORP", "+12125550188"],
  ["J SMITH", "+13125550142"],
] as const;

/**
 * One demo event: agents logging in and out of Support/Sales, status changes, hangups and link
 * ends, with the odd client login/logout, weighted roughly like a small call centre.
 */
function randomEvent(dir: Directory, random: () => number, now: number): ISymphonyEventInput {
  const user = pick(random, dir.users);
  const who = { username: user.username };
  const kind = pick(
    random,
    [
      "agent",
      "agent",
      "agent",
      "status",
      "status",
      "hangup",
      "hangup",
      "linkEnd",
      "linkEnd",
      "login",
    ] as const,
  );
  switch (kind) {
    case "agent": {
      const { queue, queueId } = pick(random, dir.queues);
      const on = dir.agentsLoggedIn.has(`${user.userId}/${queueId}`);
      return { type: on ? "agentLogout" : "agentLogin", ...who, queue };
    }
    case "status": {
      const statusType = pick(random, STATUS_TYPES);
      const away = statusType !== "available";
      return {
        type: "userStatus",
        ...who,
        statusType,
        note: away ? pick(random, NOTES) : "",
        returnTime: away && random() < 0.5 ? now + 15 * 60_000 : -1,
      };
    }
    case "hangup": {
      if (random() < 0.5) return { type: "hangup", ...who };
      const [callerIdName, callerIdNumber] = pick(random, OUTSIDE_CALLERS);
      return {
        type: "hangup",
        callerIdName,
        callerIdNumber,
        did: "+18005550100",
        extensionId: null,
        extensionNumber: null,
        userId: null,
        username: null,
      };
    }
    case "linkEnd": {
      const [callerIdName2, callerIdNumber2] = pick(random, OUTSIDE_CALLERS);
      return { type: "linkEnd", username1: user.username, callerIdName2, callerIdNumber2 };
    }
    case "login":
      return { type: dir.sessions.has(user.userId) ? "userLogout" : "userLogin", ...who };
  }
}

/** Creates (does not start) an iSymphony simulator. */
export function createISymphonySimulator(
  options: ISymphonySimulatorOptions = {},
): ISymphonySimulator {
  return new ISymphonySimulator(options);
}
