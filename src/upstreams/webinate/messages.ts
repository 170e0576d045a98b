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

// File and bucket entries are kept whole (they are exposed as JSON); only what the mapping
// reads is required, so a server with extra or renamed side fields still gets through.
const entity = z.looseObject({ _id: z.string(), name: z.string() });
/** A file or bucket entry as the server serialises it (§3.3). */
export type WebinateEntity = z.infer<typeof entity>;

/** Every field a server frame may carry, besides its type (§3.2, §3.3). */
const body = z.object({
  username: z.string().optional(),
  file: entity.optional(),
  files: z.array(entity).optional(),
  bucket: entity.optional(),
  volume: entity.optional(),
  message: z.unknown().optional(),
  val: z.unknown().optional(),
  error: z.string().optional(),
  property: z.unknown().optional(),
});

/** A Gen A frame: `{"eventType": <1-10>, ...}`. */
export const genAFrameSchema = body.extend({
  eventType: z.number().int().min(1).max(10),
});

/** A Gen B frame: `{"type": "<name>", ...}`. */
export const genBFrameSchema = body.extend({
  type: z.string().refine((t) => eventTypeOfName(t) !== undefined, "unknown Webinate type"),
});

/** An inbound frame of either generation, checked per event type. */
export const webinateFrameSchema = z.union([genAFrameSchema, genBFrameSchema]).transform((f) => {
  const eventType = "eventType" in f ? f.eventType : eventTypeOfName(f.type)!;
  const generation: "A" | "B" = "eventType" in f ? "A" : "B";
  return { ...f, eventType, generation, bucket: f.bucket ?? f.volume };
}).superRefine((f, ctx) => {
  // §3.3: which fields each event must carry.
  const need = (ok: boolean, what: string) => {
    if (!ok) {
      ctx.addIssue({
        code: "custom",
        message: `${WEBINATE_EVENT_NAMES.get(f.eventType)} needs ${what}`,
      });
    }
  };
  if (f.eventType <= 4) need(f.username !== undefined, "username");
  if (f.eventType === 5 || f.eventType === 6) {
    need(f.file !== undefined || f.files !== undefined, "file");
  }
  if (f.eventType === 7 || f.eventType === 8) need(f.bucket !== undefined, "bucket");
});
/** One inbound frame, normalised to the Gen A number. */
export type WebinateFrame = z.infer<typeof webinateFrameSchema>;

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
