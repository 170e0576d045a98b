/**
 * Webinate "users" server socket API (PROTOCOLS.md §3; seed
 * `MKHenson/users` documents/users-ws-api.md).
 *
 * Auth is the upgrade itself: the server searches the `Origin` header with each
 * `websocket.approvedSocketDomains` regex and, on a mismatch, terminates the socket right
 * *after* the upgrade (no HTTP 403). Optional extras on the upgrade: `Cookie: SID=<id>` (the
 * login session) and, Gen B, `users-api-key` (an authorised third party, who alone gets every
 * user's events). Message handlers attach only after an async session lookup, so frames sent
 * right after `open` are lost (§3.1): {@link WebinateConnector.authenticate} waits
 * `settleMs`, which also catches the post-upgrade refusal before the source counts as READY.
 *
 * There is no subscription (§3.4): the server pushes every event and filtering is local.
 * Gen A frames carry a numeric `eventType`, Gen B the name in `type`; both are accepted and
 * normalised to the Gen A number. Clients may send Echo (10, Gen A) and MetaRequest (9);
 * their replies are published as events, except the replies to the relay's own liveness
 * probes, which are tagged and dropped as control traffic. No server pings exist (§3.6).
 *
 * @module
 */
import type { Clock } from "../../platform/clock.ts";
import { sleep } from "../../platform/clock.ts";
import type { UpstreamEvent } from "../../model/event.ts";
import type { Connector, ConnectorContext, DialTarget, FrameOutcome } from "../connector.ts";
import type { UpstreamSession } from "../session.ts";
import { UpstreamError } from "../session.ts";
import type { WebinateSourceConfig } from "./config.ts";
import {
  formatOutbound,
  readWebinateFrame,
  type WebinateEntity,
  type WebinateFrame,
} from "./messages.ts";
import { parseJson } from "../frame.ts";
import { isRecord } from "../lenient.ts";

/** Everything the Webinate connector needs. */
export interface WebinateConnectorDeps {
  config: WebinateSourceConfig;
  /** PEM CA certificates resolved from caCert/caFile. */
  caCerts: string[];
  ctx: ConnectorContext;
  clock: Clock;
}

/** The Webinate connector. */
export class WebinateConnector implements Connector {
  readonly vendor = "WEBINATE" as const;
  readonly #d: WebinateConnectorDeps;
  /**
   * Marks the relay's own probes. Alphanumeric, because a Gen B probe uses it as a username
   * and the server refuses other characters before it looks the user up.
   */
  readonly #probeTag: string;
  #probeSeq = 0;
  #warnedGeneration = false;

  constructor(deps: WebinateConnectorDeps) {
    this.#d = deps;
    const bytes = crypto.getRandomValues(new Uint8Array(6));
    this.#probeTag = `relayprobe${[...bytes].map((b) => b.toString(16).padStart(2, "0")).join("")}`;
  }

  dial(): Promise<DialTarget> {
    const { config, caCerts } = this.#d;
    const headers: Record<string, string> = {};
    if (config.origin !== undefined) headers.origin = config.origin;
    if (config.cookie !== undefined) headers.cookie = config.cookie;
    else if (config.sid !== undefined) headers.cookie = `SID=${config.sid}`;
    if (config.apiKey !== undefined) headers["users-api-key"] = config.apiKey;
    return Promise.resolve({
      url: config.url,
      options: { headers, ...(caCerts.length ? { caCerts } : {}) },
    });
  }

  async authenticate(session: UpstreamSession): Promise<void> {
    // The refusal of a bad Origin is a close right after the upgrade, and frames sent
    // before the session lookup ends are lost: waiting out both makes READY mean usable.
    try {
      await sleep(this.#d.clock, this.#d.config.settleMs, session.signal);
    } catch {
      // aborted: the socket closed while settling
    }
    if (session.signal.aborted) throw this.#refused(session.signal.reason);
  }

  onFrame(_session: UpstreamSession, frame: string): FrameOutcome {
    const parsed = parseJson(frame);
    if (!parsed.ok) return { kind: "dropped", reason: "not JSON" };
    if (!isRecord(parsed.json)) return { kind: "dropped", reason: "not a JSON object" };
    const read = readWebinateFrame(parsed.json);
    if (!read.ok) return { kind: "dropped", reason: read.reason };
    const f = read.frame;
    this.#checkGeneration(f.generation);
    if (this.#isProbeReply(f)) return { kind: "control" };
    // Gen A up to 2016-05-05 sent FilesUploaded/FilesRemoved with `files[]`: one event each.
    const files: (WebinateEntity | undefined)[] = f.file
      ? [f.file]
      : f.files?.length
      ? f.files
      : [undefined];
    return {
      kind: "events",
      events: files.map((file) => this.#toEvent(f, file, parsed.json)),
    };
  }

  syncInterest(): Promise<void> {
    // Nothing to register: the server sends everything (§3.4).
    return Promise.resolve();
  }

  /** Gen A: an Echo; Gen B: a MetaRequest for a user that cannot exist (answered with an error). */
  probe(session: UpstreamSession): void {
    const tag = `${this.#probeTag}${++this.#probeSeq}`;
    const frame = this.#d.config.generation === "A"
      ? formatOutbound({ eventType: 10, message: tag })
      : formatOutbound({ type: "MetaRequest", username: tag });
    try {
      session.send(frame);
    } catch {
      // closing; the supervisor notices
    }
  }

  describeInterest(): string[] {
    return [];
  }

  #isProbeReply(f: WebinateFrame): boolean {
    const tag = this.#probeTag;
    if (f.eventType === 10) return typeof f.message === "string" && f.message.startsWith(tag);
    if (f.eventType === 9) {
      // Gen B answers "Could not find user <name>", or echoes the username on success.
      return (f.error?.includes(tag) ?? false) || (f.username?.startsWith(tag) ?? false);
    }
    return false;
  }

  #checkGeneration(seen: "A" | "B"): void {
    if (seen === this.#d.config.generation || this.#warnedGeneration) return;
    this.#warnedGeneration = true;
    this.#d.ctx.log.warn(
      `Webinate server speaks generation ${seen}, config says ${this.#d.config.generation}; ` +
        `set generation: "${seen}" so liveness probes get answered`,
    );
  }

  #refused(reason: unknown): UpstreamError {
    const { config } = this.#d;
    const how = reason instanceof Error ? reason.message : "socket closed";
    const who = config.origin === undefined ? "no Origin sent" : `origin "${config.origin}"`;
    const key = config.apiKey === undefined ? "" : " and users-api-key not accepted";
    return new UpstreamError(
      `Webinate refused the connection: ${who} not approved (websocket.approvedSocketDomains)` +
        `${key}; the server closed the socket right after the upgrade (${how})`,
      { auth: true },
    );
  }

  #toEvent(f: WebinateFrame, file: WebinateEntity | undefined, payload: unknown): UpstreamEvent {
    const received = this.#d.ctx.nowIso();
    const username = f.username ?? null;
    const entity = file ?? f.bucket;
    return {
      source: this.#d.config.name,
      vendor: "WEBINATE",
      type: f.name,
      action: null,
      key: entity?._id ?? username,
      subject: entity?.name ?? username,
      actor: username,
      // Webinate frames carry no timestamp (`created` is the entity's, not the event's).
      time: received,
      receivedAt: received,
      payload,
      detail: {
        vendor: "WEBINATE",
        eventType: f.eventType,
        username,
        file: file ?? null,
        bucket: f.bucket ?? null,
        message: f.message ?? null,
        val: f.val ?? null,
        error: f.error ?? null,
      },
    };
  }
}
