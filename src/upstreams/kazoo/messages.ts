/**
 * Kazoo wire shapes (PROTOCOLS.md §4.1–§4.3): blackhole's client actions and server frames,
 * and Crossbar's auth response. Inbound frames are parsed once with `safeParse`; outbound
 * frames are checked before they are sent.
 *
 * @module
 */
import { z } from "zod";

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

/** `{"action":"reply","request_id","status","data"}` (blackhole_data_emitter:reply/4). */
export const replyFrameSchema = z.object({
  action: z.literal("reply"),
  /** Echoed as sent; anything else is not ours and matches no pending request. */
  request_id: z.unknown(),
  status: z.enum(["success", "error"]),
  data: z.record(z.string(), z.unknown()).optional(),
});
/** A reply frame. */
export type ReplyFrame = z.infer<typeof replyFrameSchema>;

/** One event per matching session binding (blackhole_data_emitter:event/4; §4.3). */
export const eventFrameSchema = z.object({
  action: z.literal("event"),
  /** The client binding that matched. */
  subscribed_key: z.string().min(1),
  /** The internal AMQP-style key (carries the account). */
  subscription_key: z.string().optional(),
  /** The AMQP Event-Name. */
  name: z.string(),
  routing_key: z.string().min(1),
  /** The AMQP payload, keys normalised to lower case with `_`. */
  data: z.record(z.string(), z.unknown()),
});
/** An event frame. */
export type EventFrame = z.infer<typeof eventFrameSchema>;

/** Everything blackhole sends, told apart by `action`. */
export const serverFrameSchema = z.discriminatedUnion("action", [
  replyFrameSchema,
  eventFrameSchema,
]);
/** A server frame. */
export type ServerFrame = z.infer<typeof serverFrameSchema>;

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
