/**
 * iland cloud event websocket (`wss://api.ilandcloud.com/v1/event-websocket`), PROTOCOLS.md
 * §1 (from ilanddev's JS SDK `push-channel.ts`, the Go client and the PHP/Java samples).
 *
 * No credentials on the upgrade. The server opens with the bare text frame `AUTHORIZATION`;
 * the client answers with one text frame, `companyId=<id>,Bearer <token>` (one company) or
 * `Bearer <token>` (every company the user can see), and from then on receives JSON
 * envelopes `{"type":"EVENT"|"TASK","data":{…}}`. No frame confirms the auth: a refused
 * token shows up as the server closing the socket (1008 "Unauthorized" in our simulator;
 * undocumented for the real service, §1.7). Any other first frame is the server's error
 * text and aborts the attempt, as the Go client does. There is no subscribe or filter
 * command, so the connector registers nothing: filtering is local (see match.ts), and one
 * socket is opened per configured company scope.
 *
 * @module
 */
import type { InterestItem } from "../../hub/interest.ts";
import type { UpstreamEvent } from "../../model/event.ts";
import { toIsoTime } from "../../model/event.ts";
import type { Connector, ConnectorContext, DialTarget, FrameOutcome } from "../connector.ts";
import type { UpstreamSession } from "../session.ts";
import { UpstreamError } from "../session.ts";
import type { IlandSourceConfig } from "./config.ts";
import { canonicalName, taskType } from "./match.ts";
import {
  AUTHORIZATION_PROMPT,
  formatAuthLine,
  type IlandEventJson,
  ilandPushSchema,
  type IlandTaskJson,
} from "./messages.ts";
import type { IlandTokens } from "./token.ts";
import type { RecentIds } from "./recent_ids.ts";
import { parseFrame } from "../frame.ts";

/** Everything one iland socket needs. */
export interface IlandConnectorDeps {
  config: IlandSourceConfig;
  /** The company this socket is scoped to; undefined for the all-companies socket. */
  companyId: string | undefined;
  /** Shared by every socket of the source. */
  tokens: IlandTokens;
  /** EVENT ids already published by a sibling socket (USER events reach every socket). */
  recent: RecentIds;
  /** PEM CA certificates resolved from caCert/caFile. */
  caCerts: string[];
  ctx: ConnectorContext;
}

/**
 * True when a close looks like the server refusing the token: 1008 (policy violation) or a
 * reason that says so.
 */
export function isAuthRefusal(err: UpstreamError): boolean {
  return err.closeCode === 1008 ||
    /unauthori[sz]ed|forbidden|invalid.token|token.expired/i.test(err.closeReason ?? err.message);
}

/** One iland socket (one company scope). */
export class IlandConnector implements Connector {
  readonly vendor = "ILAND" as const;
  readonly #d: IlandConnectorDeps;
  /** The token presented on the current/last socket. */
  #presented: string | undefined;
  /** The token fetched by `dial`, for `authenticate`. */
  #next: string | undefined;
  #authorized: UpstreamSession | undefined;

  constructor(deps: IlandConnectorDeps) {
    this.#d = deps;
  }

  async dial(previous?: UpstreamError): Promise<DialTarget> {
    const { tokens, ctx, config, caCerts } = this.#d;
    if (previous && this.#presented !== undefined && isAuthRefusal(previous)) {
      if (tokens.isStatic) {
        ctx.log.warn("iland refused the static accessToken; it cannot be renewed");
      } else {
        ctx.log.info("iland refused the access token; renewing it");
        tokens.refused(this.#presented);
      }
    }
    this.#next = await tokens.token();
    return { url: config.url, options: caCerts.length ? { caCerts } : {} };
  }

  async authenticate(session: UpstreamSession): Promise<void> {
    const { tokens, companyId, config } = this.#d;
    const token = this.#next;
    if (token === undefined) throw new UpstreamError("No iland access token to present");
    const first = await session.nextFrame(config.authTimeoutMs);
    if (first.trim() !== AUTHORIZATION_PROMPT) {
      // §1.1: anything but the prompt is the server's error message (Go client aborts).
      throw new UpstreamError(
        `iland sent ${JSON.stringify(tokens.scrub(first).slice(0, 200))} instead of the ` +
          "AUTHORIZATION prompt",
      );
    }
    session.send(formatAuthLine(companyId === undefined ? { token } : { companyId, token }));
    this.#presented = token;
    this.#authorized = session;
    session.signal.addEventListener("abort", () => {
      if (this.#authorized === session) this.#authorized = undefined;
    }, { once: true });
  }

  onFrame(_session: UpstreamSession, frame: string): FrameOutcome {
    const parsed = parseFrame(frame, ilandPushSchema, "an iland EVENT/TASK");
    if (!parsed.ok) return { kind: "dropped", reason: parsed.reason };
    const { data: push, json } = parsed;
    if (push.type === "EVENT") {
      // The same USER-owned event reaches every socket of the user; publish it once.
      if (!this.#d.recent.add(push.data.uuid)) return { kind: "control" };
      return { kind: "events", events: [this.#fromEvent(push.data, json)] };
    }
    return { kind: "events", events: [this.#fromTask(push.data, json)] };
  }

  syncInterest(_session: UpstreamSession, _wanted: ReadonlyMap<string, InterestItem>) {
    // Nothing to register: the server streams everything in the socket's scope (§1.2).
    return Promise.resolve();
  }

  describeInterest(): string[] {
    if (!this.#authorized) return [];
    const { companyId } = this.#d;
    return [companyId === undefined ? "all companies" : `companyId=${companyId}`];
  }

  #fromEvent(e: IlandEventJson, payload: unknown): UpstreamEvent {
    const received = this.#d.ctx.nowIso();
    return {
      source: this.#d.config.name,
      vendor: "ILAND",
      type: canonicalName(e.type),
      action: null,
      key: nonEmpty(e.entity_uuid),
      subject: nonEmpty(e.entity_name),
      actor: nonEmpty(e.initiated_by_username),
      time: toIsoTime(e.timestamp, received),
      receivedAt: received,
      payload,
      detail: {
        vendor: "ILAND",
        kind: "EVENT",
        entityType: nonEmpty(e.entity_type),
        // §1.3: events carry no company_id; a COMPANY-owned event's owner is the company.
        companyId: e.owner_type?.toUpperCase() === "COMPANY" ? nonEmpty(e.owner_id) : null,
        ownerType: nonEmpty(e.owner_type),
        ownerId: nonEmpty(e.owner_id),
        taskUuid: nonEmpty(e.task_uuid),
        details: e.details ?? null,
        actorFullName: nonEmpty(e.initiated_by_full_name),
      },
    };
  }

  #fromTask(t: IlandTaskJson, payload: unknown): UpstreamEvent {
    const received = this.#d.ctx.nowIso();
    return {
      source: this.#d.config.name,
      vendor: "ILAND",
      type: taskType(t.status),
      action: nonEmpty(t.operation),
      key: nonEmpty(t.entity_uuid),
      subject: nonEmpty(t.entity_name),
      actor: nonEmpty(t.username),
      // The newest moment the update speaks of: finished, else started, else initiated.
      time: toIsoTime(t.end_time ?? t.start_time ?? t.initiation_time, received),
      receivedAt: received,
      payload,
      detail: {
        vendor: "ILAND",
        kind: "TASK",
        entityType: null,
        companyId: nonEmpty(t.company_id) ?? this.#d.companyId ?? null,
        taskUuid: t.uuid,
        actorFullName: nonEmpty(t.user_full_name),
        status: t.status,
        operation: nonEmpty(t.operation),
        operationDescription: nonEmpty(t.operation_description),
        progress: t.progress ?? null,
        taskType: nonEmpty(t.task_type),
        message: t.message ?? null,
      },
    };
  }
}

function nonEmpty(value: string | null | undefined): string | null {
  return value === undefined || value === null || value === "" ? null : value;
}
