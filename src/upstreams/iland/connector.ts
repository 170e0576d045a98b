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
  ilandEnvelopeSchema,
  type IlandEventJson,
  ilandEventSchema,
  type IlandOtherPush,
  ilandOtherSchema,
  type IlandPush,
  type IlandTaskJson,
  ilandTaskSchema,
} from "./messages.ts";
import type { IlandTokens } from "./token.ts";
import type { RecentIds } from "./recent_ids.ts";
import type { z } from "zod";
import { checkFrame, parseFrame } from "../frame.ts";
import { isRecord, nonEmpty } from "../lenient.ts";

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
    const parsed = parseFrame(frame, ilandEnvelopeSchema, "iland message");
    if (!parsed.ok) return { kind: "dropped", reason: parsed.reason };
    const { data: envelope, json } = parsed;
    const push = readPush(envelope.type, envelope.data);
    if ("reason" in push) return { kind: "dropped", reason: push.reason };
    const uuid = push.data.uuid;
    // The same USER-owned event reaches every socket of the user; publish it once.
    if (push.type !== "TASK" && uuid && !this.#d.recent.add(uuid)) return { kind: "control" };
    if (push.type === "EVENT") {
      return { kind: "events", events: [this.#fromEvent(push.data as IlandEventJson, json)] };
    }
    if (push.type === "TASK") {
      return { kind: "events", events: [this.#fromTask(push.data as IlandTaskJson, json)] };
    }
    return { kind: "events", events: [this.#fromOther(push as IlandOtherPush, json)] };
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
        companyId: this.#companyOf(e),
        ownerType: nonEmpty(e.owner_type),
        ownerId: nonEmpty(e.owner_id),
        taskUuid: nonEmpty(e.task_uuid),
        details: e.details ?? null,
        actorFullName: nonEmpty(e.initiated_by_full_name),
      },
    };
  }

  /**
   * The company an EVENT belongs to: its own company_id if a server sends one, the owner when
   * the owner is a company, else the company this socket is scoped to (§1.3: events carry no
   * company_id; a USER-owned event on a company socket is still that company's stream).
   */
  #companyOf(e: IlandEventJson): string | null {
    const owner = e.owner_type?.toUpperCase() === "COMPANY" ? nonEmpty(e.owner_id) : null;
    return nonEmpty(e.company_id) ?? owner ?? this.#d.companyId ?? null;
  }

  /** A message of a kind this relay does not know: delivered with what is common to all. */
  #fromOther(push: IlandOtherPush, payload: unknown): UpstreamEvent {
    const received = this.#d.ctx.nowIso();
    const d = push.data;
    return {
      source: this.#d.config.name,
      vendor: "ILAND",
      type: canonicalName(nonEmpty(d.type) ?? push.type),
      action: null,
      key: nonEmpty(d.entity_uuid),
      subject: nonEmpty(d.entity_name),
      actor: nonEmpty(d.initiated_by_username) ?? nonEmpty(d.username),
      time: toIsoTime(d.timestamp, received),
      receivedAt: received,
      payload,
      detail: {
        vendor: "ILAND",
        kind: push.type,
        entityType: nonEmpty(d.entity_type),
        companyId: nonEmpty(d.company_id) ?? this.#d.companyId ?? null,
      },
    };
  }

  #fromTask(t: IlandTaskJson, payload: unknown): UpstreamEvent {
    const received = this.#d.ctx.nowIso();
    return {
      source: this.#d.config.name,
      vendor: "ILAND",
      type: taskType(t.status ?? undefined),
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
        status: nonEmpty(t.status),
        operation: nonEmpty(t.operation),
        operationDescription: nonEmpty(t.operation_description),
        progress: t.progress ?? null,
        taskType: nonEmpty(t.task_type),
        message: t.message ?? null,
      },
    };
  }
}

/** Reads an envelope's data by kind; only a missing or malformed id (or EVENT type) drops it. */
function readPush(type: string, data: unknown): IlandPush | { reason: string } {
  const schema = type === "EVENT"
    ? ilandEventSchema
    : type === "TASK"
    ? ilandTaskSchema
    : undefined;
  if (schema === undefined) {
    return { type, data: ilandOtherSchema.parse(isRecord(data) ? data : {}) };
  }
  if (!isRecord(data)) return { reason: `iland ${type} without data` };
  const checked = checkFrame(
    data,
    schema as z.ZodType<IlandEventJson | IlandTaskJson>,
    `iland ${type}`,
  );
  if (!checked.ok) return { reason: checked.reason };
  return { type, data: checked.data } as IlandPush;
}
