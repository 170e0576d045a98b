/**
 * iSymphony (3.2+) Event API websocket (`ws://pbx:58080/communication_manager/ws/event`,
 * `wss://…:55050/…` with SSL). See PROTOCOLS.md §5 and docs.getisymphony.com "Websocket API
 * Documentation (Event)".
 *
 * - Auth is HTTP realm auth on the upgrade; the relay sends `Authorization: Basic` itself
 *   (the doc's URL userinfo form is not turned into a header by every client).
 * - The only client frame is `{"type":"filter","correlationId","filters":[{property,value}]}`;
 *   it replaces the connection's whole filter set and is answered by `success` or `error`
 *   echoing the correlationId.
 * - Events are flat JSON objects with `type` and `time` (epoch ms).
 *
 * Since one filter set serves every subscriber, the connector sends the superset of all
 * wanted filter sets (see `match.ts`) and the hub filters each subscriber exactly. A refused
 * set is blamed on the filter sets added since the last accepted one: if several are new, they
 * are tried one at a time on top of the accepted ones, so only the sets the server refuses end
 * with BAD_FILTER. After any refusal the surviving set is sent again, in case the server
 * dropped its previous one.
 *
 * @module
 */
import type { InterestItem } from "../../hub/interest.ts";
import type { Clock } from "../../platform/clock.ts";
import type { Connector, ConnectorContext, DialTarget, FrameOutcome } from "../connector.ts";
import type { UpstreamSession } from "../session.ts";
import { UpstreamError } from "../session.ts";
import type { ISymphonySourceConfig } from "./config.ts";
import { type CompiledFilters, compileFilters, expand, supersetOf } from "./match.ts";
import { type FilterEntry, formatFilterMessage, parseInbound } from "./messages.ts";
import { toISymphonyEvent } from "./map.ts";
import type { Reply } from "./messages.ts";
import { isFilterInterest } from "./plan.ts";

/** Everything the iSymphony connector needs. */
export interface ISymphonyConnectorDeps {
  config: ISymphonySourceConfig;
  /** PEM CA certificates resolved from caCert/caFile. */
  caCerts: string[];
  ctx: ConnectorContext;
  clock: Clock;
}

/**
 * Sent when nobody wants anything: every event has `type` (seed line 69) and none is named
 * this, so the server delivers nothing. (There is no "unsubscribe"; an empty list is
 * undocumented and the simulator treats it as "everything".)
 */
export const IDLE_FILTERS: readonly FilterEntry[] = [{ property: "type", value: "relay.idle" }];
/**
 * Sent for "every event": `type=*` passes every event by the documented rules, where the
 * effect of an empty `filters` list is not documented (PROTOCOLS.md §5.4).
 */
export const ALL_FILTERS: readonly FilterEntry[] = [{ property: "type", value: "*" }];

/** The filter set the server holds, as the relay last had it accepted. */
interface Applied {
  mode: "all" | "none" | "set";
  filters: readonly FilterEntry[];
  /** Canonical JSON of `filters`, for comparison. */
  text: string;
}

interface SessionState {
  /** Undefined until the first accepted filter: the server then sends every event. */
  applied: Applied | undefined;
  /** Interest keys the applied set was computed from (known to be acceptable). */
  good: Set<string>;
  /** Keys the server refused on this session, with the message; not retried while wanted. */
  refused: Map<string, string>;
  /** Outstanding filter messages by correlationId, in send order. */
  pending: Map<string, (reply: Reply) => void>;
  /** correlationIds of probes, whose replies are only liveness. */
  probes: Set<string>;
}

/** The iSymphony connector. */
export class ISymphonyConnector implements Connector {
  readonly vendor = "ISYMPHONY" as const;
  readonly #d: ISymphonyConnectorDeps;
  readonly #sessions = new WeakMap<UpstreamSession, SessionState>();
  #current: SessionState | undefined;
  #nextId = 1;

  constructor(deps: ISymphonyConnectorDeps) {
    this.#d = deps;
  }

  dial(): Promise<DialTarget> {
    const { config, caCerts } = this.#d;
    const authorization = `Basic ${base64(`${config.username}:${config.password}`)}`;
    return Promise.resolve({
      url: config.url,
      options: { headers: { authorization }, ...(caCerts.length ? { caCerts } : {}) },
    });
  }

  authenticate(session: UpstreamSession): Promise<void> {
    // The upgrade carried the credentials (a refusal is an HTTP 401 before open), so an open
    // socket is an authenticated one. A fresh session has no filter: syncInterest sends it.
    const state: SessionState = {
      applied: undefined,
      good: new Set(),
      refused: new Map(),
      pending: new Map(),
      probes: new Set(),
    };
    this.#sessions.set(session, state);
    this.#current = state;
    session.signal.addEventListener("abort", () => {
      if (this.#current === state) this.#current = undefined;
    }, { once: true });
    return Promise.resolve();
  }

  onFrame(session: UpstreamSession, frame: string): FrameOutcome {
    const inbound = parseInbound(frame);
    if (inbound.kind === "invalid") return { kind: "dropped", reason: inbound.reason };
    if (inbound.kind === "reply") {
      this.#onReply(session, inbound.reply);
      return { kind: "control" };
    }
    return {
      kind: "events",
      events: [
        toISymphonyEvent(this.#d.config.name, inbound.event, inbound.json, this.#d.ctx.nowIso()),
      ],
    };
  }

  async syncInterest(
    session: UpstreamSession,
    wanted: ReadonlyMap<string, InterestItem>,
  ): Promise<void> {
    const state = this.#sessions.get(session);
    if (!state) return;
    for (const [key, message] of [...state.refused]) {
      // Still wanted after a refusal: a subscriber that arrived since (or standing interest)
      // would otherwise wait forever for a filter the server will not take.
      if (wanted.has(key)) this.#d.ctx.rejectInterest(key, message);
      else state.refused.delete(key);
    }
    const sets = new Map<string, CompiledFilters>();
    for (const [key, item] of wanted) {
      if (state.refused.has(key)) continue;
      if (!isFilterInterest(item)) {
        this.#d.ctx.log.warn("ignoring interest item without a filter set", { key });
        continue;
      }
      sets.set(key, compileFilters(item.filters));
    }
    const good = [...sets.keys()].filter((k) => state.good.has(k));
    const fresh = [...sets.keys()].filter((k) => !state.good.has(k));
    const attempt = (keys: readonly string[], force = false) =>
      this.#apply(session, state, keys, sets, force);

    let error = await attempt([...good, ...fresh]);
    if (error === undefined) return;
    if (fresh.length === 0) {
      // Nothing new to blame (only removals): keep what the server holds.
      this.#d.ctx.log.warn("iSymphony refused a narrower filter set", { error });
      return;
    }
    if (fresh.length === 1) {
      this.#refuse(state, fresh[0]!, error);
    } else {
      for (const key of fresh) {
        // Forced: after a refusal the server's set is unknown, so "already in force" is not.
        error = await attempt([...good, key], true);
        if (error === undefined) good.push(key);
        else this.#refuse(state, key, error);
      }
    }
    // The server may or may not keep its previous set after an error: restore it explicitly.
    if (error !== undefined) {
      const restored = await attempt(good, true);
      if (restored !== undefined) {
        this.#d.ctx.log.warn("iSymphony refused the previously accepted filter set", {
          error: restored,
        });
      }
    }
  }

  probe(session: UpstreamSession): void {
    const state = this.#sessions.get(session);
    // Re-sending the applied set changes nothing and must be answered. Skipped while a sync
    // waits for a reply (that reply proves liveness too, and a probe sent after a new set
    // would put the old one back).
    if (!state?.applied || state.pending.size > 0) return;
    const correlationId = `relay-probe-${this.#nextId++}`;
    try {
      session.send(formatFilterMessage({
        type: "filter",
        correlationId,
        filters: [...state.applied.filters],
      }));
      state.probes.add(correlationId);
    } catch {
      // closing; the supervisor notices
    }
  }

  describeInterest(): string[] {
    const applied = this.#current?.applied;
    if (!this.#current) return [];
    if (!applied) return ["(all events: no filter sent yet)"];
    if (applied.mode === "all") return ["(all events)"];
    if (applied.mode === "none") return ["(no events: nobody subscribed)"];
    return applied.filters.map((f) => `${f.property}=${f.value}`);
  }

  /**
   * Makes the server hold the superset of `keys`' filter sets. Resolves undefined when it
   * holds it (sent and accepted, or already in force) and the error text when refused.
   */
  async #apply(
    session: UpstreamSession,
    state: SessionState,
    keys: readonly string[],
    sets: ReadonlyMap<string, CompiledFilters>,
    force: boolean,
  ): Promise<string | undefined> {
    const target = targetOf(keys.map((k) => sets.get(k)!));
    if (!force && state.applied?.text === target.text) {
      state.good = new Set(keys);
      return undefined;
    }
    const reply = await this.#request(session, state, target.filters);
    if (reply.type === "error") return reply.error;
    state.applied = target;
    state.good = new Set(keys);
    return undefined;
  }

  /** Sends one filter message and waits for its reply. */
  #request(
    session: UpstreamSession,
    state: SessionState,
    filters: readonly FilterEntry[],
  ): Promise<Reply> {
    const { clock, config } = this.#d;
    const correlationId = `relay-${this.#nextId++}`;
    const text = formatFilterMessage({ type: "filter", correlationId, filters: [...filters] });
    return new Promise<Reply>((resolve, reject) => {
      const done = () => {
        clock.clearTimeout(timer);
        session.signal.removeEventListener("abort", onAbort);
        state.pending.delete(correlationId);
      };
      const onAbort = () => {
        done();
        reject(session.signal.reason);
      };
      const timer = clock.setTimeout(() => {
        done();
        // The filter the server holds is now unknown: start over on a fresh connection.
        session.close(4000, "no reply to filter");
        reject(
          new UpstreamError(`No reply to the filter message within ${config.replyTimeoutMs} ms`),
        );
      }, config.replyTimeoutMs);
      state.pending.set(correlationId, (reply) => {
        done();
        resolve(reply);
      });
      session.signal.addEventListener("abort", onAbort, { once: true });
      try {
        session.send(text);
      } catch (err) {
        done();
        reject(err);
      }
    });
  }

  #onReply(session: UpstreamSession, reply: Reply): void {
    const state = this.#sessions.get(session);
    if (!state) return;
    const id = reply.correlationId ?? undefined;
    if (id !== undefined && state.probes.delete(id)) {
      if (reply.type === "error") {
        this.#d.ctx.log.warn("iSymphony refused a probe filter", { error: reply.error });
      }
      return;
    }
    // A server that does not echo correlationIds answers in order: take the oldest.
    const key = id === undefined ? state.pending.keys().next().value : id;
    const waiter = key === undefined ? undefined : state.pending.get(key);
    if (waiter) waiter(reply);
    else this.#d.ctx.log.debug("iSymphony reply matches no request", { correlationId: id });
  }

  #refuse(state: SessionState, key: string, error: string): void {
    const message = `iSymphony refused the filter ${key}: ${error}`;
    state.refused.set(key, message);
    this.#d.ctx.log.warn("iSymphony refused a filter set", { filters: key, error });
    this.#d.ctx.rejectInterest(key, message);
  }
}

/** What to send for a set of wanted filter sets. */
function targetOf(sets: readonly CompiledFilters[]): Applied {
  if (sets.length === 0) return applied("none", IDLE_FILTERS);
  const superset = supersetOf(sets);
  if (superset.size === 0) return applied("all", ALL_FILTERS);
  return applied("set", expand(superset));
}

function applied(mode: Applied["mode"], filters: readonly FilterEntry[]): Applied {
  return { mode, filters, text: `${mode}:${JSON.stringify(filters)}` };
}

function base64(text: string): string {
  return btoa(String.fromCharCode(...new TextEncoder().encode(text)));
}
