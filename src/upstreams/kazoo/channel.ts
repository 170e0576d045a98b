/**
 * Request/reply over one blackhole socket: every action is paced (see pacer.ts), gets a
 * fresh `request_id`, and resolves with the `reply` carrying that id (PROTOCOLS.md §4.2:
 * blackhole echoes `request_id`). Also keeps the socket inside blackhole's idle timeout.
 *
 * @module
 */
import type { Clock, TimerId } from "../../platform/clock.ts";
import type { Logger } from "../../platform/log.ts";
import type { UpstreamSession } from "../session.ts";
import { UpstreamError } from "../session.ts";
import { formatRequest, readServerFrame, type ReplyFrame } from "./messages.ts";
import { Pacer, type PacingPolicy } from "./pacer.ts";
import { parseJson } from "../frame.ts";

/** An action before the channel adds `request_id` (and `auth_token`). */
export type KazooAction =
  | { action: "ping"; auth_token?: string }
  | { action: "subscribe" | "unsubscribe"; data: { account_id: string; binding: string } };

/** What a {@link KazooChannel} needs. */
export interface KazooChannelOptions {
  session: UpstreamSession;
  clock: Clock;
  log: Logger;
  pacing: PacingPolicy;
  replyTimeoutMs: number;
  /** The token for subscribe/unsubscribe (pings after the handshake carry none). */
  token: () => Promise<string>;
  nextId: () => string;
}

/** One socket's request/reply machinery. */
export class KazooChannel {
  readonly #o: KazooChannelOptions;
  readonly #pacer: Pacer;
  readonly #pending = new Map<string, (reply: ReplyFrame | undefined) => void>();
  #lastSentAt: number;
  #keepalive: TimerId | undefined;

  constructor(options: KazooChannelOptions) {
    this.#o = options;
    this.#pacer = new Pacer(options.pacing, options.clock);
    this.#lastSentAt = options.clock.now();
    options.session.signal.addEventListener("abort", () => this.#close(), { once: true });
  }

  /**
   * Sends one paced action and resolves with its reply; undefined when no reply came in
   * time or the socket closed (callers then assume success: blackhole is idempotent).
   */
  async request(action: KazooAction): Promise<ReplyFrame | undefined> {
    const { clock, session, log, replyTimeoutMs } = this.#o;
    try {
      await this.#pacer.take();
    } catch {
      return undefined;
    }
    if (session.signal.aborted) return undefined;
    const id = this.#o.nextId();
    const full = action.action === "ping"
      ? { ...action, request_id: id }
      : { ...action, auth_token: await this.#o.token(), request_id: id };
    // Fetching a token may outlast the socket; a reply timer armed now would never settle.
    if (session.signal.aborted) return undefined;
    const { promise, resolve } = Promise.withResolvers<ReplyFrame | undefined>();
    const timer = clock.setTimeout(() => {
      log.warn("Kazoo request got no reply", { action: action.action, requestId: id });
      settle(undefined);
    }, replyTimeoutMs);
    const settle = (reply: ReplyFrame | undefined) => {
      clock.clearTimeout(timer);
      this.#pending.delete(id);
      resolve(reply);
    };
    this.#pending.set(id, settle);
    try {
      session.send(formatRequest(full));
      this.#lastSentAt = clock.now();
    } catch {
      settle(undefined);
    }
    return promise;
  }

  /** Hands a reply to its request; false when no request is waiting for it. */
  settle(reply: ReplyFrame): boolean {
    const settle = typeof reply.request_id === "string"
      ? this.#pending.get(reply.request_id)
      : undefined;
    settle?.(reply);
    return settle !== undefined;
  }

  /**
   * The handshake's request: sent and answered before the supervisor listens, so the reply
   * is read with `nextFrame` (frames that are not the reply are skipped).
   */
  async handshake(action: KazooAction & { action: "ping" }): Promise<ReplyFrame> {
    const { clock, session, replyTimeoutMs } = this.#o;
    await this.#pacer.take();
    const id = this.#o.nextId();
    session.send(formatRequest({ ...action, request_id: id }));
    this.#lastSentAt = clock.now();
    const deadline = clock.now() + replyTimeoutMs;
    while (true) {
      const left = deadline - clock.now();
      if (left <= 0) throw new UpstreamError("Kazoo did not answer the authentication ping");
      const frame = await session.nextFrame(left);
      const parsed = parseJson(frame);
      const inbound = parsed.ok ? readServerFrame(parsed.json) : undefined;
      if (inbound?.kind === "reply" && inbound.reply.request_id === id) return inbound.reply;
    }
  }

  /**
   * PROTOCOLS.md §4.5: blackhole never pings and only inbound frames reset its 1-hour idle
   * timer, so a socket that only receives events would be closed: ping when quiet.
   */
  keepAlive(everyMs: number): void {
    if (everyMs <= 0) return;
    const { clock, session } = this.#o;
    const tick = () => {
      this.#keepalive = undefined;
      if (session.signal.aborted) return;
      if (clock.now() - this.#lastSentAt >= everyMs / 2) void this.request({ action: "ping" });
      this.#keepalive = clock.setTimeout(tick, everyMs);
    };
    this.#keepalive = clock.setTimeout(tick, everyMs);
  }

  #close(): void {
    this.#pacer.close(new UpstreamError("Upstream socket closed"));
    if (this.#keepalive !== undefined) this.#o.clock.clearTimeout(this.#keepalive);
    for (const settle of [...this.#pending.values()]) settle(undefined);
  }
}
