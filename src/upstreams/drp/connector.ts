/**
 * Digital Rebar Provision event websocket (`/api/v3/ws`).
 *
 * Auth happens on the upgrade: `Authorization: Bearer <token>` or `Basic user:pass`, with
 * the `?token=` query parameter as the fallback the server reads only when no header is
 * present. Interest is a set of `register type.action.key` lines; the server answers
 * each register/deregister with a `websocket` event whose Key is the filter (servers since
 * Jan 2018; older builds send none, which we detect and tolerate). Events are JSON objects
 * with capitalised keys. See PROTOCOLS.md §2 and
 * https://docs.rackn.io/stable/developers/integrations/websocket/.
 *
 * @module
 */
import type { InterestItem } from "../../hub/interest.ts";
import type { Clock } from "../../platform/clock.ts";
import type { UpstreamEvent } from "../../model/event.ts";
import { toIsoTime } from "../../model/event.ts";
import type { Connector, ConnectorContext, DialTarget, FrameOutcome } from "../connector.ts";
import type { UpstreamSession } from "../session.ts";
import { UpstreamError } from "../session.ts";
import type { DrpSourceConfig } from "./config.ts";
import { type DrpEventFrame, drpEventSchema, formatCommand, isAck } from "./messages.ts";
import { parseFrame } from "../frame.ts";

/** Everything the DRP connector needs. */
export interface DrpConnectorDeps {
  config: DrpSourceConfig;
  /** PEM CA certificates resolved from caCert/caFile. */
  caCerts: string[];
  ctx: ConnectorContext;
  clock: Clock;
}

/** A deregister of a filter nobody registers: harmless, yet the server must acknowledge it. */
const PROBE_FILTER = "websocket.probe.relay-keepalive";

interface SessionState {
  registered: Set<string>;
  /** Whether this server acknowledges commands; unknown until the first ack or timeout. */
  acks: "unknown" | "yes" | "no";
  waiting: Map<string, (() => void)[]>;
}

/** The DRP connector. */
export class DrpConnector implements Connector {
  readonly vendor = "DRP" as const;
  readonly #d: DrpConnectorDeps;
  readonly #sessions = new WeakMap<UpstreamSession, SessionState>();
  #current: SessionState | undefined;
  #useQuery: boolean;

  constructor(deps: DrpConnectorDeps) {
    this.#d = deps;
    this.#useQuery = deps.config.authMode === "query";
  }

  dial(previous?: UpstreamError): Promise<DialTarget> {
    const { config, caCerts, ctx } = this.#d;
    // 401 means the server saw no usable credentials (a proxy may have eaten the header),
    // 403 means it saw and refused them: only the former is worth the query form.
    if (!this.#useQuery && previous?.httpStatus === 401) {
      this.#useQuery = true;
      ctx.log.warn("DRP answered 401 to header auth; retrying with the ?token= query parameter");
    }
    const secret = config.token ?? `${config.username}:${config.password}`;
    const url = new URL(config.url);
    const headers: Record<string, string> = {};
    if (this.#useQuery) {
      url.searchParams.set("token", secret);
    } else if (config.token !== undefined) {
      headers.authorization = `Bearer ${config.token}`;
    } else {
      headers.authorization = `Basic ${base64(secret)}`;
    }
    return Promise.resolve({
      url: url.href,
      options: { headers, ...(caCerts.length ? { caCerts } : {}) },
    });
  }

  authenticate(session: UpstreamSession): Promise<void> {
    // Credentials were checked at the upgrade; the session is authenticated once open.
    const state: SessionState = { registered: new Set(), acks: "unknown", waiting: new Map() };
    this.#sessions.set(session, state);
    this.#current = state;
    session.signal.addEventListener("abort", () => {
      if (this.#current === state) this.#current = undefined;
      for (const waiters of state.waiting.values()) for (const w of waiters) w();
      state.waiting.clear();
    });
    return Promise.resolve();
  }

  onFrame(session: UpstreamSession, frame: string): FrameOutcome {
    const parsed = parseFrame(frame, drpEventSchema, "DRP event");
    if (!parsed.ok) return { kind: "dropped", reason: parsed.reason };
    const { data: e, json } = parsed;
    if (isAck(e)) {
      this.#acknowledged(session, `${e.Action} ${e.Key}`);
      return { kind: "control" };
    }
    return { kind: "events", events: [this.#toEvent(e, json)] };
  }

  async syncInterest(
    session: UpstreamSession,
    wanted: ReadonlyMap<string, InterestItem>,
  ): Promise<void> {
    const state = this.#sessions.get(session);
    if (!state) return;
    const waits: Promise<void>[] = [];
    let deregistered = false;
    for (const filter of [...state.registered]) {
      if (wanted.has(filter)) continue;
      waits.push(this.#command(session, state, "deregister", filter));
      state.registered.delete(filter);
      deregistered = true;
    }
    // The Dec 2017 build (the one without acks) wipes every filter on any deregister, so
    // with such a server everything still wanted is registered again.
    const resend = deregistered && state.acks === "no";
    for (const filter of wanted.keys()) {
      if (state.registered.has(filter) && !resend) continue;
      waits.push(this.#command(session, state, "register", filter));
      state.registered.add(filter);
    }
    await Promise.all(waits);
  }

  probe(session: UpstreamSession): void {
    const state = this.#sessions.get(session);
    if (state?.acks !== "yes") return;
    try {
      session.send(formatCommand({ op: "deregister", filter: PROBE_FILTER }));
    } catch {
      // closing; the supervisor notices
    }
  }

  describeInterest(): string[] {
    return this.#current ? [...this.#current.registered] : [];
  }

  /** Sends one command and resolves on its acknowledgement (or on timeout). */
  #command(
    session: UpstreamSession,
    state: SessionState,
    op: "register" | "deregister",
    filter: string,
  ): Promise<void> {
    session.send(formatCommand({ op, filter }));
    if (state.acks === "no") return Promise.resolve();
    const key = `${op} ${filter}`;
    return new Promise((resolve) => {
      const { clock, config, ctx } = this.#d;
      const done = () => {
        clock.clearTimeout(timer);
        resolve();
      };
      const timer = clock.setTimeout(() => {
        const list = state.waiting.get(key);
        list?.splice(list.indexOf(done), 1);
        if (state.acks === "unknown") {
          state.acks = "no";
          ctx.log.info("DRP server sends no register acknowledgements (pre-2018 build)");
        } else {
          ctx.log.warn("DRP acknowledgement timed out", { command: key });
        }
        resolve();
      }, config.ackTimeoutMs);
      const list = state.waiting.get(key) ?? [];
      list.push(done);
      state.waiting.set(key, list);
    });
  }

  #acknowledged(session: UpstreamSession, key: string): void {
    const state = this.#sessions.get(session);
    if (!state) return;
    state.acks = "yes";
    const list = state.waiting.get(key);
    const done = list?.shift();
    if (list?.length === 0) state.waiting.delete(key);
    done?.();
  }

  #toEvent(e: DrpEventFrame, payload: unknown): UpstreamEvent {
    const received = this.#d.ctx.nowIso();
    const principal = e.Principal ?? "";
    return {
      source: this.#d.config.name,
      vendor: "DRP",
      type: e.Type,
      action: e.Action,
      key: e.Key,
      subject: subjectOf(e.Object),
      actor: principal === "" || principal === "unknown" ? null : principal,
      time: toIsoTime(e.Time, received),
      receivedAt: received,
      payload,
      detail: { vendor: "DRP", object: e.Object ?? null, original: e.Original ?? null, principal },
    };
  }
}

/** The object's human name: DRP models carry `Name` (machines, profiles, params …). */
function subjectOf(object: unknown): string | null {
  if (object && typeof object === "object" && "Name" in object) {
    const name = (object as { Name: unknown }).Name;
    if (typeof name === "string" && name !== "") return name;
  }
  return null;
}

function base64(text: string): string {
  return btoa(String.fromCharCode(...new TextEncoder().encode(text)));
}
