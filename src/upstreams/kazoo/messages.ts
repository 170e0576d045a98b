/**
 * Kazoo wire shapes (PROTOCOLS.md §4.1–§4.3): blackhole's client actions and server frames,
 * and Crossbar's auth response. Inbound frames are parsed once with `safeParse`; outbound
 * frames are checked before they are sent.
 *
 * @module
 */
import { z } from "zod";
import { checkFrame } from "../frame.ts";
import { isRecord, lenient, text } from "../lenient.ts";

const subscription = z.object({ account_id: z.string().min(1), binding: z.string().min(1) });

/** What the relay sends: one binding per subscribe/unsubscribe, and pings (§4.2). */
export const clientRequestSchema = z.discriminatedUnion("action", [
  z.object({
    action: z.literal("subscribe"),
    auth_token: z.string().min(1),
    request_id: z.string().min(1),
    data: subscription,
  }),
  z.object({
    action: z.literal("unsubscribe"),
    auth_token: z.string().min(1),
    request_id: z.string().min(1),
    data: subscription,
  }),
  z.object({
    action: z.literal("ping"),
    /** Only on the first action of a socket: it authenticates and pins the account. */
    auth_token: z.string().min(1).optional(),
    request_id: z.string().min(1),
  }),
]);
/** One outbound action. */
export type ClientRequest = z.infer<typeof clientRequestSchema>;

/** Checks an outbound action and serialises it (throws on a programming error). */
export function formatRequest(request: ClientRequest): string {
  return JSON.stringify(clientRequestSchema.parse(request));
}

/**
 * `{"action":"reply","request_id","status","data"}` (blackhole_data_emitter:reply/4). `status`
 * routes it (it settles the request as success or error); `data` is read leniently.
 */
export const replyFrameSchema = z.looseObject({
  action: z.literal("reply"),
  /** Echoed as sent; anything else is not ours and matches no pending request. */
  request_id: z.unknown().optional(),
  status: z.enum(["success", "error"]),
  data: lenient(z.record(z.string(), z.unknown())),
});
/** A reply frame. */
export type ReplyFrame = z.infer<typeof replyFrameSchema>;

/**
 * An event (blackhole_data_emitter:event/4; §4.3). What routes it is `subscribed_key`, the
 * client binding that matched (subscribers are matched on it); everything else is lenient.
 */
const eventFrameSchema = z.looseObject({
  /** The client binding that matched. */
  subscribed_key: z.string().min(1),
  /** The internal AMQP-style key (carries the account). */
  subscription_key: text(),
  /** The AMQP Event-Name. */
  name: text(),
  routing_key: text(),
  /** The AMQP payload, keys normalised to lower case with `_`. */
  data: lenient(z.record(z.string(), z.unknown())),
});

/** An event frame, of either server generation, in the 4.1+ shape. */
export interface EventFrame {
  /** The client binding that matched. */
  subscribed_key: string;
  subscription_key?: string | null | undefined;
  name?: string | null | undefined;
  routing_key?: string | null | undefined;
  data: Record<string, unknown>;
}

/**
 * 4.0 (2016) blackhole sent each event as the normalised AMQP payload itself, with the
 * client `binding` and a `routing_key` holding the event name (`CHANNEL_CREATE`,
 * `user.doc_created`, `fax.status`) set on it, and no `action` (blackhole_util:handle_event,
 * blackhole_default_handler send_event, kazoo 4.0). Read into the 4.1+ shape.
 */
function fromLegacy(json: Record<string, unknown>): EventFrame | undefined {
  const binding = json.binding;
  if (typeof binding !== "string" || binding === "") return undefined;
  const { binding: _b, routing_key, ...data } = json;
  const name = typeof routing_key === "string" ? routing_key : undefined;
  return {
    subscribed_key: binding,
    name: typeof data.event_name === "string" ? data.event_name : name,
    routing_key: name,
    data,
  };
}

/** What one blackhole frame is. */
export type KazooInbound =
  | { kind: "reply"; reply: ReplyFrame }
  | { kind: "event"; event: EventFrame }
  /** Protocol traffic that needs no handling (4.0 status messages). */
  | { kind: "control" }
  | { kind: "invalid"; reason: string };

/**
 * Reads one parsed blackhole frame, never throwing. Replies are told apart by
 * `action: "reply"`; a frame with a `subscribed_key` is an event whatever its `action`
 * (a newer server's event kinds are delivered); 4.0 frames are recognised by `binding`.
 */
export function readServerFrame(json: unknown): KazooInbound {
  if (!isRecord(json)) return { kind: "invalid", reason: "not a JSON object" };
  const action = json.action;
  if (action === "reply") {
    const r = checkFrame(json, replyFrameSchema, "blackhole reply");
    return r.ok ? { kind: "reply", reply: r.data } : { kind: "invalid", reason: r.reason };
  }
  if (action === undefined) {
    const legacy = fromLegacy(json);
    if (legacy) return { kind: "event", event: legacy };
    // 4.0 answered requests with bare {status, message} / {error}: nothing to settle.
    if ("status" in json || "error" in json) return { kind: "control" };
    return { kind: "invalid", reason: "blackhole frame without action" };
  }
  if (typeof action !== "string") {
    return { kind: "invalid", reason: "blackhole frame with action not a string" };
  }
  if (action !== "event" && !("subscribed_key" in json)) {
    return { kind: "invalid", reason: "blackhole frame with an unknown action" };
  }
  const e = checkFrame(json, eventFrameSchema, "blackhole event");
  if (!e.ok) return { kind: "invalid", reason: e.reason };
  return { kind: "event", event: { ...e.data, data: e.data.data ?? {} } };
}

/** The error text of an `error` reply (`data.errors[]`), joined. */
export function replyError(reply: ReplyFrame): string {
  const errors = reply.data?.errors;
  if (Array.isArray(errors) && errors.length > 0) return errors.map(String).join("; ");
  return "request refused";
}

/** Token problems: fetch a fresh token and try again (§4.3 error strings). */
export function isTokenError(text: string): boolean {
  return /authentication token required|failed to authenticate token|invalid authentication token format/
    .test(text);
}

/** `rate limiting threshold hit for <ip:port>!`: retry later, not the subscriber's fault. */
export function isRateLimitError(text: string): boolean {
  return text.startsWith("rate limiting threshold hit");
}

/**
 * Removes auth tokens from vendor text before it is logged or shown: every known token,
 * and whatever follows `failed to authenticate token` (blackhole echoes the token there).
 */
export function scrubTokens(text: string, tokens: Iterable<string> = []): string {
  let out = text.replace(/(failed to authenticate token)\s+\S+/g, "$1 [redacted]");
  for (const token of tokens) if (token) out = out.replaceAll(token, "[redacted]");
  return out;
}

/** Crossbar's `201` answer to `PUT /v2/user_auth` / `api_auth` (how_to_authenticate.md). */
export const authResponseSchema = z.looseObject({
  auth_token: z.string().min(1),
  data: z.looseObject({ account_id: z.string().min(1) }),
});
/** A parsed auth response. */
export type AuthResponse = z.infer<typeof authResponseSchema>;
