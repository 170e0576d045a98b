/**
 * 2600Hz Kazoo blackhole websocket (PROTOCOLS.md §4; Kazoo 4.3
 * `applications/blackhole/doc/README.md`,
 * https://docs.2600hz.com/events/websockets/blackhole-web-socket-api/).
 *
 * Auth: a token from Crossbar (`PUT /v2/user_auth` or `/v2/api_auth`, see token.ts); the
 * upgrade carries nothing (no subprotocol: blackhole answers 400 to one). The first action
 * on a socket authenticates its `auth_token` and pins the account, so the handshake here is
 * a `ping` carrying the token; a refused token is replaced once and tried again.
 * Interest: one `subscribe` `{account_id, binding}` per (account, binding), answered by a
 * `reply` with the same `request_id`; an `error` reply fails exactly the subscriptions that
 * asked for that binding (BAD_FILTER). Every request goes through a pacer that stays under
 * blackhole's per-socket bucket (100, +10/s), also when hundreds of bindings are replayed
 * after a reconnect. Events arrive once per matching binding, tagged with `subscribed_key`.
 * The server never pings and closes sockets idle (inbound) for an hour: a `ping` every
 * `keepaliveMs` keeps it open, and doubles as the silence probe.
 *
 * @module
 */
import type { InterestItem } from "../../hub/interest.ts";
import { type Clock, sleep } from "../../platform/clock.ts";
import type { Connector, ConnectorContext, DialTarget, FrameOutcome } from "../connector.ts";
import type { UpstreamSession } from "../session.ts";
import { UpstreamError } from "../session.ts";
import type { KazooSourceConfig } from "./config.ts";
import { toKazooEvent } from "./event.ts";
import { KazooChannel } from "./channel.ts";
import { parseInterestKey } from "./match.ts";
import {
  isRateLimitError,
  isTokenError,
  readServerFrame,
  replyError,
  scrubTokens,
} from "./messages.ts";
import { KazooTokens } from "./token.ts";
import { parseJson } from "../frame.ts";

/** Everything the Kazoo connector needs. */
export interface KazooConnectorDeps {
  config: KazooSourceConfig;
  caCerts: string[];
  ctx: ConnectorContext;
  clock: Clock;
  fetch: typeof fetch;
  /** Told the account used for subscriptions that name none, once it is known. */
  onDefaultAccount?: (accountId: string) => void;
}

/** One upstream subscription and the interest keys it serves. */
interface Registration {
  accountId: string;
  binding: string;
  keys: string[];
}

interface SessionState {
  channel: KazooChannel;
  registered: Map<string, Registration>;
  /** Pairs the server refused; forgotten once nobody wants them. */
  refused: Map<string, string>;
  /** The token the socket was authenticated with (blackhole never re-checks it). */
  token: string;
}

/** The Kazoo connector. */
export class KazooConnector implements Connector {
  readonly vendor = "KAZOO" as const;
  readonly #d: KazooConnectorDeps;
  readonly #tokens: KazooTokens;
  readonly #sessions = new WeakMap<UpstreamSession, SessionState>();
  #current: SessionState | undefined;
  #defaultAccount: string | undefined;
  #seq = 0;

  constructor(deps: KazooConnectorDeps) {
    this.#d = deps;
    this.#tokens = new KazooTokens({ config: deps.config, fetch: deps.fetch, clock: deps.clock });
    this.#defaultAccount = deps.config.accountId;
    if (this.#defaultAccount) deps.onDefaultAccount?.(this.#defaultAccount);
  }

  async dial(): Promise<DialTarget> {
    // A token first: without one the socket would be useless (and a refusal belongs in BACKOFF).
    await this.#tokens.current();
    const { config, caCerts } = this.#d;
    // No `protocols` and no headers: blackhole refuses any Sec-WebSocket-Protocol with 400.
    return { url: config.url, options: caCerts.length ? { caCerts } : {} };
  }

  async authenticate(session: UpstreamSession): Promise<void> {
    const { config, clock, ctx } = this.#d;
    const state: SessionState = {
      registered: new Map(),
      refused: new Map(),
      token: "",
      channel: new KazooChannel({
        session,
        clock,
        log: ctx.log,
        pacing: config.pacing,
        replyTimeoutMs: config.replyTimeoutMs,
        token: () => this.#token(state),
        nextId: () => this.#nextId(),
      }),
    };
    this.#sessions.set(session, state);
    this.#current = state;
    session.signal.addEventListener("abort", () => {
      if (this.#current === state) this.#current = undefined;
    }, { once: true });
    for (let attempt = 0;; attempt++) {
      const token = attempt === 0 ? await this.#tokens.current() : await this.#tokens.fresh();
      const reply = await state.channel.handshake({ action: "ping", auth_token: token.value });
      if (reply.status === "success") {
        state.token = token.value;
        break;
      }
      const text = this.#scrub(replyError(reply));
      if (isTokenError(text) && attempt === 0) {
        // Expired or revoked since it was fetched: one fresh token, then give up.
        ctx.log.info("Kazoo refused the auth token; fetching a fresh one", { error: text });
        this.#tokens.invalidate(token.value);
        continue;
      }
      throw new UpstreamError(`Kazoo refused authentication: ${text}`, {
        auth: isTokenError(text),
      });
    }
    const account = config.accountId ?? this.#tokens.accountId;
    if (account && account !== this.#defaultAccount) {
      this.#defaultAccount = account;
      this.#d.onDefaultAccount?.(account);
    }
    state.channel.keepAlive(config.keepaliveMs);
  }

  onFrame(session: UpstreamSession, frame: string): FrameOutcome {
    const parsed = parseJson(frame);
    if (!parsed.ok) return { kind: "dropped", reason: "not JSON" };
    const inbound = readServerFrame(parsed.json);
    if (inbound.kind === "invalid") return { kind: "dropped", reason: inbound.reason };
    if (inbound.kind === "control") return { kind: "control" };
    if (inbound.kind === "reply") {
      const msg = inbound.reply;
      const settled = this.#sessions.get(session)?.channel.settle(msg) ?? false;
      if (!settled) {
        this.#d.ctx.log.debug("Kazoo reply to no pending request", { status: msg.status });
      }
      return { kind: "control" };
    }
    const registered = this.#sessions.get(session)?.registered;
    return {
      kind: "events",
      events: [
        toKazooEvent(inbound.event, parsed.json, {
          source: this.#d.config.name,
          now: this.#d.ctx.nowIso(),
          bindingAccount: (binding) => soleAccountOf(registered, binding),
        }),
      ],
    };
  }

  async syncInterest(
    session: UpstreamSession,
    wanted: ReadonlyMap<string, InterestItem>,
  ): Promise<void> {
    const state = this.#sessions.get(session);
    if (!state) return;
    const want = new Map<string, Registration>();
    for (const key of wanted.keys()) {
      const { accountId, binding } = parseInterestKey(key);
      const account = accountId ?? this.#defaultAccount;
      if (account === undefined) continue;
      const pair = `${account}|${binding}`;
      const entry = want.get(pair) ?? { accountId: account, binding, keys: [] };
      entry.keys.push(key);
      want.set(pair, entry);
    }
    const work: Promise<void>[] = [];
    for (const [pair, reg] of state.registered) {
      if (want.has(pair)) continue;
      state.registered.delete(pair);
      work.push(this.#unsubscribe(session, state, reg));
    }
    for (const pair of state.refused.keys()) if (!want.has(pair)) state.refused.delete(pair);
    for (const [pair, entry] of want) {
      const reg = state.registered.get(pair);
      if (reg) {
        reg.keys = entry.keys;
        continue;
      }
      const refusal = state.refused.get(pair);
      if (refusal !== undefined) {
        // The server already refused this exact request; newcomers get the same answer.
        for (const key of entry.keys) this.#d.ctx.rejectInterest(key, refusal);
        continue;
      }
      state.registered.set(pair, entry);
      work.push(this.#subscribe(session, state, pair, entry));
    }
    await Promise.all(work);
  }

  probe(session: UpstreamSession): void {
    const state = this.#sessions.get(session);
    if (state) void state.channel.request({ action: "ping" });
  }

  describeInterest(): string[] {
    const state = this.#current;
    return state ? [...state.registered.values()].map((r) => `${r.binding} on ${r.accountId}`) : [];
  }

  async #subscribe(
    session: UpstreamSession,
    state: SessionState,
    pair: string,
    reg: Registration,
  ): Promise<void> {
    const { ctx, clock } = this.#d;
    for (let attempt = 0; attempt < 3; attempt++) {
      const data = { account_id: reg.accountId, binding: reg.binding };
      const reply = await state.channel.request({ action: "subscribe", data });
      if (!reply || reply.status === "success") return;
      const text = this.#scrub(replyError(reply));
      if (isTokenError(text)) {
        await this.#renewToken(state);
        continue;
      }
      if (isRateLimitError(text)) {
        ctx.log.warn("Kazoo rate limit hit; retrying the subscribe", { binding: reg.binding });
        await sleep(clock, 1000, session.signal).catch(() => {});
        continue;
      }
      const message = `Kazoo refused binding "${reg.binding}" on account ${reg.accountId}: ${text}`;
      ctx.log.warn("Kazoo refused a binding", { binding: reg.binding, error: text });
      if (state.registered.get(pair) === reg) state.registered.delete(pair);
      state.refused.set(pair, message);
      for (const key of reg.keys) ctx.rejectInterest(key, message);
      return;
    }
  }

  async #unsubscribe(
    session: UpstreamSession,
    state: SessionState,
    reg: Registration,
  ): Promise<void> {
    for (let attempt = 0; attempt < 2; attempt++) {
      const data = { account_id: reg.accountId, binding: reg.binding };
      const reply = await state.channel.request({ action: "unsubscribe", data });
      if (!reply || reply.status === "success") return;
      const text = this.#scrub(replyError(reply));
      if (!isTokenError(text) && !isRateLimitError(text)) {
        this.#d.ctx.log.warn("Kazoo refused an unsubscribe", { binding: reg.binding, error: text });
        return;
      }
      if (isTokenError(text)) await this.#renewToken(state);
      else await sleep(this.#d.clock, 1000, session.signal).catch(() => {});
    }
  }

  /** A token for a request: renewed near expiry; the socket's own if Crossbar is away. */
  async #token(state: SessionState): Promise<string> {
    try {
      return (await this.#tokens.current()).value;
    } catch (err) {
      this.#d.ctx.log.warn("Kazoo token renewal failed; using the socket's token", {
        error: err instanceof Error ? err.message : String(err),
      });
      return state.token;
    }
  }

  async #renewToken(state: SessionState): Promise<void> {
    this.#tokens.invalidate(state.token);
    try {
      state.token = (await this.#tokens.fresh()).value;
    } catch (err) {
      this.#d.ctx.log.warn("Kazoo token renewal failed", {
        error: err instanceof Error ? err.message : String(err),
      });
    }
  }

  #scrub(text: string): string {
    return scrubTokens(text, this.#tokens.known);
  }

  #nextId(): string {
    this.#seq = (this.#seq + 1) % Number.MAX_SAFE_INTEGER;
    return `relay-${this.#seq}`;
  }
}

/**
 * The account of the one registration of `binding` on this socket; undefined when none or
 * several accounts registered it (the frame then cannot tell which one it is for).
 */
function soleAccountOf(
  registered: ReadonlyMap<string, { accountId: string; binding: string }> | undefined,
  binding: string,
): string | undefined {
  let found: string | undefined;
  for (const reg of registered?.values() ?? []) {
    if (reg.binding !== binding) continue;
    if (found !== undefined && found !== reg.accountId) return undefined;
    found = reg.accountId;
  }
  return found;
}
