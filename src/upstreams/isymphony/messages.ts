/**
 * iSymphony (3.2+) Event API websocket frames (PROTOCOLS.md §5.2, §5.3): the one client
 * frame (`filter`), its two replies (`success`, `error`) and events, which are flat JSON
 * objects that always carry `type` and `time` (epoch ms).
 *
 * @module
 */
import { z } from "zod";
import { dropReason } from "../frame.ts";
import { lenient, num, text } from "../lenient.ts";

/**
 * One `{property, value}` filter entry. The doc's template is not valid JSON; this is its
 * evident shape (PROTOCOLS.md §5.2 [inferred]). Values are strings, as in every doc example.
 */
export const filterEntrySchema = z.object({
  property: z.string().min(1),
  value: z.string(),
});
/** One filter entry. */
export type FilterEntry = z.infer<typeof filterEntrySchema>;

/** The filter message: replaces the connection's whole filter set. */
export const filterMessageSchema = z.object({
  type: z.literal("filter"),
  correlationId: z.string().min(1),
  filters: z.array(filterEntrySchema),
});
/** An outbound filter message (the relay always sends a correlationId). */
export type FilterMessage = z.infer<typeof filterMessageSchema>;

/** Checks an outbound filter message and serialises it. */
export function formatFilterMessage(message: FilterMessage): string {
  return JSON.stringify(filterMessageSchema.parse(message));
}

/** `success`: the filter set was applied. `correlationId` echoes ours (null when none was sent). */
export const successReplySchema = z.object({
  type: z.literal("success"),
  correlationId: text(),
  time: num(),
});

/** `error`: the filter message could not be processed (the text is read leniently). */
export const errorReplySchema = z.object({
  type: z.literal("error"),
  error: z.string().catch("iSymphony refused the filter (no error text)"),
  correlationId: text(),
  time: num(),
});

/** A reply to a filter message. */
export const replySchema = z.discriminatedUnion("type", [successReplySchema, errorReplySchema]);
/** A parsed reply. */
export type Reply = z.infer<typeof replySchema>;

/**
 * An event: a flat object with the documented base properties `type` and `time` (seed lines
 * 69–72); every other property is kept as sent. Only `type` routes it (filters and the
 * reply/event split); `time` is read leniently (epoch ms, else the receive time), and the
 * object ids (`coreServerId`, `userId`, ...) are optional: many events carry only some.
 */
export const eventFrameSchema = z.looseObject({
  type: z.string().min(1),
  time: lenient(z.union([z.number().finite(), z.string()])),
});
/** A parsed event frame. */
export type EventFrame = z.infer<typeof eventFrameSchema>;

/** Reply `type`s; every other `type` is an event name. */
const REPLY_TYPES: ReadonlySet<string> = new Set(["success", "error"]);

/** What one inbound frame is. */
export type Inbound =
  | { kind: "reply"; reply: Reply }
  /** `json` is the object as received, `event` its checked base properties. */
  | { kind: "event"; event: EventFrame; json: Record<string, unknown> }
  | { kind: "invalid"; reason: string };

/** Parses one inbound text frame; never throws. */
export function parseInbound(text: string): Inbound {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    return { kind: "invalid", reason: "not JSON" };
  }
  if (typeof json !== "object" || json === null || Array.isArray(json)) {
    return { kind: "invalid", reason: "not a JSON object" };
  }
  const type = (json as { type?: unknown }).type;
  // Replies are told apart by `type`, so a malformed reply is dropped rather than taken for
  // an event named "error".
  const result = typeof type === "string" && REPLY_TYPES.has(type)
    ? replySchema.safeParse(json, { reportInput: true })
    : eventFrameSchema.safeParse(json, { reportInput: true });
  if (!result.success) {
    const issue = result.error.issues[0];
    return { kind: "invalid", reason: dropReason("iSymphony frame", issue) };
  }
  const data = result.data;
  return data.type === "success" || data.type === "error"
    ? { kind: "reply", reply: data as Reply }
    : { kind: "event", event: data as EventFrame, json: json as Record<string, unknown> };
}
