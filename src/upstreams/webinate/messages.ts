/**
 * Webinate users socket frames, both protocol generations (PROTOCOLS.md §3.2, §3.3, §3.5).
 *
 * Gen A frames carry a numeric `eventType`; Gen B frames carry the same event as a name in
 * `type`. Both parse into one {@link WebinateFrame} keyed by the Gen A number, so filters
 * and the GraphQL `eventType` field work the same against either server.
 *
 * @module
 */
import { z } from "zod";
import { lenient, text } from "../lenient.ts";

/** Gen A `EventType` numbers by name (§3.3 table; Gen B sends the names, §3.5). */
export const WEBINATE_EVENT_TYPES = {
  Login: 1,
  Logout: 2,
  Activated: 3,
  Removed: 4,
  FileUploaded: 5,
  FileRemoved: 6,
  BucketUploaded: 7,
  BucketRemoved: 8,
  MetaRequest: 9,
  Echo: 10,
} as const;
/** A name of {@link WEBINATE_EVENT_TYPES}. */
export type WebinateEventName = keyof typeof WEBINATE_EVENT_TYPES;

/** The event name of each number, e.g. 10 → "Echo". */
export const WEBINATE_EVENT_NAMES: ReadonlyMap<number, WebinateEventName> = new Map(
  Object.entries(WEBINATE_EVENT_TYPES).map(([name, n]) => [n, name as WebinateEventName]),
);

/**
 * Names other servers used for the same numbers: `FilesUploaded`/`FilesRemoved` (Gen A up to
 * 2016-05-05, with `files[]`) and mantle's `VolumeUploaded`/`VolumeRemoved` (with `volume`).
 */
const ALIASES: Record<string, number> = {
  FilesUploaded: 5,
  FilesRemoved: 6,
  VolumeUploaded: 7,
  VolumeRemoved: 8,
};

/** The number of a Gen B `type` name (or alias), or undefined. */
export function eventTypeOfName(name: string): number | undefined {
  return (WEBINATE_EVENT_TYPES as Record<string, number>)[name] ?? ALIASES[name];
}

// File and bucket entries are kept whole (they are exposed as JSON); what the mapping reads
// is lenient, so an entry without `_id` or `name` (or with other side fields) still gets through.
const entity = z.looseObject({ _id: text(), name: text() });
/** A file or bucket entry as the server serialises it (§3.3). */
export type WebinateEntity = z.infer<typeof entity>;

/**
 * Every field a server frame may carry besides its type (§3.2, §3.3), each read leniently:
 * missing or of an unexpected type is `undefined`, never a dropped frame.
 */
const bodySchema = z.looseObject({
  username: text(),
  file: lenient(entity),
  files: lenient(z.array(z.unknown())),
  bucket: lenient(entity),
  volume: lenient(entity),
  message: z.unknown().optional(),
  val: z.unknown().optional(),
  error: text(),
  property: z.unknown().optional(),
});

/**
 * One inbound frame of either generation, normalised: `eventType` is the Gen A number, or
 * null for a Gen B name this relay does not know (a newer server); `name` is the event name.
 */
export interface WebinateFrame {
  generation: "A" | "B";
  eventType: number | null;
  name: string;
  username?: string | null | undefined;
  file?: WebinateEntity | null | undefined;
  files: WebinateEntity[] | undefined;
  bucket?: WebinateEntity | null | undefined;
  message?: unknown;
  val?: unknown;
  error?: string | null | undefined;
}

/**
 * Reads a frame: what routes it is its type, a Gen A integer `eventType` or a Gen B `type`
 * name; a frame with neither is the only kind dropped. Numbers and names outside the known
 * table (a newer server) are delivered as they are.
 */
export function readWebinateFrame(
  json: Record<string, unknown>,
): { ok: true; frame: WebinateFrame } | { ok: false; reason: string } {
  const n = json.eventType;
  const t = json.type;
  let generation: "A" | "B";
  let eventType: number | null;
  let name: string;
  if (typeof n === "number" && Number.isSafeInteger(n)) {
    generation = "A";
    eventType = n;
    name = WEBINATE_EVENT_NAMES.get(n) ?? String(n);
  } else if (typeof t === "string" && t !== "") {
    generation = "B";
    eventType = eventTypeOfName(t) ?? null;
    // Aliases (FilesUploaded, VolumeUploaded) take the canonical name of their number.
    name = eventType === null ? t : WEBINATE_EVENT_NAMES.get(eventType) ?? t;
  } else if (n !== undefined) {
    return { ok: false, reason: "Webinate frame with eventType not an integer" };
  } else {
    return { ok: false, reason: "Webinate frame without eventType or type" };
  }
  const body = bodySchema.parse(json);
  const files = body.files?.flatMap((f) => {
    const e = entity.safeParse(f);
    return e.success ? [e.data] : [];
  });
  return {
    ok: true,
    frame: {
      generation,
      eventType,
      name,
      username: body.username,
      file: body.file,
      files,
      bucket: body.bucket ?? body.volume,
      message: body.message,
      val: body.val,
      error: body.error,
    },
  };
}

/** Gen A Echo request (§3.2): the server replies `{"eventType":10,"message":…}`. */
export const echoRequestSchema = z.object({
  eventType: z.literal(10),
  message: z.string(),
});

/** Gen B MetaRequest (§3.2): answered even without permission (with an `error`). */
export const metaRequestSchema = z.object({
  type: z.literal("MetaRequest"),
  username: z.string().regex(/^[0-9A-Za-z]+$/),
});

/** Formats a checked outbound frame. */
export function formatOutbound(
  frame: z.infer<typeof echoRequestSchema> | z.infer<typeof metaRequestSchema>,
): string {
  const parsed = "eventType" in frame
    ? echoRequestSchema.parse(frame)
    : metaRequestSchema.parse(frame);
  return JSON.stringify(parsed);
}
