/**
 * Maps a blackhole event frame to the shared event model (PROTOCOLS.md §4.3): the type is
 * the AMQP Event-Name (`CHANNEL_CREATE`, `doc_created`, …), the key the call id or the
 * document id, the time Kazoo's gregorian-seconds `timestamp` when present.
 *
 * @module
 */
import type { UpstreamEvent } from "../../model/event.ts";
import { toIsoTime } from "../../model/event.ts";
import { accountOfKey, callIdOfKey } from "./match.ts";
import type { EventFrame } from "./messages.ts";

/** Seconds between 0000-01-01 and 1970-01-01 (Kazoo timestamps are gregorian seconds). */
const GREGORIAN_OFFSET = 62_167_219_200;

function str(value: unknown): string | undefined {
  return typeof value === "string" && value !== "" ? value : undefined;
}

function obj(value: unknown): Record<string, unknown> {
  return value && typeof value === "object" ? value as Record<string, unknown> : {};
}

/** A Kazoo time: gregorian seconds (≈ 6.4e10 today) or anything toIsoTime reads. */
function kazooTime(value: unknown, fallback: string): string {
  if (typeof value === "number" && value > 6e10 && value < 1e11) {
    return toIsoTime((value - GREGORIAN_OFFSET) * 1000, fallback);
  }
  return typeof value === "string" ? toIsoTime(value, fallback) : fallback;
}

/** Where a frame came from, and what the connector knows beyond the frame. */
export interface KazooEventMeta {
  source: string;
  now: string;
  /** The account the socket registered `binding` on, when exactly one did. */
  bindingAccount?: (binding: string) => string | undefined;
}

/**
 * The shared-model event of one frame; `payload` is the frame as received. The account is
 * taken from a routing or subscription key only where it looks like a Kazoo account id
 * (32 hex characters), else from `data.account_id`, `data.custom_channel_vars.account_id`,
 * and last the account the binding was registered on.
 */
export function toKazooEvent(
  frame: EventFrame,
  payload: unknown,
  meta: KazooEventMeta,
): UpstreamEvent {
  const data = frame.data;
  const routing = frame.routing_key ?? "";
  const isCall = routing.startsWith("call.") || frame.subscribed_key.startsWith("call.");
  const callId = isCall ? str(data.call_id) ?? callIdOfKey(routing) ?? null : null;
  const accountId = accountOfKey(frame.subscription_key ?? "") ?? accountOfKey(routing) ??
    str(data.account_id) ?? str(obj(data.custom_channel_vars).account_id) ??
    meta.bindingAccount?.(frame.subscribed_key) ?? null;
  const type = str(frame.name) ?? str(data.event_name) ?? (routing.split(".")[0] || undefined) ??
    frame.subscribed_key.split(".")[0] ?? frame.subscribed_key;
  return {
    source: meta.source,
    vendor: "KAZOO",
    type,
    action: null,
    key: isCall ? callId : str(data.id) ?? null,
    subject: isCall
      ? str(data.caller_id_name) ?? str(data.caller_id_number) ?? null
      : str(data.name) ?? null,
    actor: null,
    time: kazooTime(data.timestamp ?? data.date_modified, meta.now),
    receivedAt: meta.now,
    payload,
    detail: {
      vendor: "KAZOO",
      accountId,
      routingKey: routing,
      binding: frame.subscribed_key,
      callId,
      data,
    },
  };
}
