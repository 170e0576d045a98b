/**
 * The shared event model every connector maps into and every resolver reads from.
 * An {@link Event} is a vendor-neutral envelope plus a `detail` whose shape depends on
 * the vendor (a discriminated union on `vendor`).
 *
 * @module
 */
import { z } from "zod";

/** The five vendors, as in the GraphQL `Vendor` enum. */
export const VENDORS = ["DRP", "ILAND", "ISYMPHONY", "KAZOO", "WEBINATE"] as const;
/** One of {@link VENDORS}. */
export type Vendor = typeof VENDORS[number];
/** zod schema of {@link Vendor}. */
export const vendorSchema = z.enum(VENDORS);

const isoDate = z.iso.datetime({ offset: true });

/** DRP-specific fields. */
export const drpDetailSchema = z.object({
  vendor: z.literal("DRP"),
  /** The object after the change (or the message payload). */
  object: z.unknown(),
  /** The object before the change; only for update/save. */
  original: z.unknown(),
  /** DRP's Principal as sent (`user:alice`, `runner:<uuid>`, ``). */
  principal: z.string(),
});

/** iland-specific fields. */
export const ilandDetailSchema = z.object({
  vendor: z.literal("ILAND"),
  /** EVENT, TASK, or the envelope type of a kind this relay does not know yet. */
  kind: z.string(),
  entityType: z.string().nullable(),
  companyId: z.string().nullable(),
  // Optional (nullish) so details built before these fields existed stay valid.
  /** EVENT `owner_type` (COMPANY or USER). */
  ownerType: z.string().nullish(),
  /** EVENT `owner_id`: a company id or a username. */
  ownerId: z.string().nullish(),
  /** EVENT `task_uuid`, or the TASK's own `uuid`. */
  taskUuid: z.string().nullish(),
  /** EVENT `details` (free text). */
  details: z.string().nullish(),
  /** EVENT `initiated_by_full_name` / TASK `user_full_name`. */
  actorFullName: z.string().nullish(),
  /** TASK `status` (success, running, error, ...). */
  status: z.string().nullish(),
  /** TASK `operation` (power on, create snapshot, ...). */
  operation: z.string().nullish(),
  /** TASK `operation_description`. */
  operationDescription: z.string().nullish(),
  /** TASK `progress` (0-100). */
  progress: z.number().nullish(),
  /** TASK `task_type` (VCD, VEEAM, ...). */
  taskType: z.string().nullish(),
  /** TASK `message` (set on errors). */
  message: z.string().nullish(),
});

/** iSymphony-specific fields. */
export const isymphonyDetailSchema = z.object({
  vendor: z.literal("ISYMPHONY"),
  /** The flat event object's properties. */
  properties: z.record(z.string(), z.unknown()),
});

/** Kazoo-specific fields. */
export const kazooDetailSchema = z.object({
  vendor: z.literal("KAZOO"),
  accountId: z.string().nullable(),
  routingKey: z.string(),
  /** The client binding that matched upstream (`subscribed_key`). */
  binding: z.string(),
  /** The call id of call events (`data.call_id`), else null. */
  callId: z.string().nullable(),
  /** The event's normalised AMQP payload (`data`: lower-case keys, `_` for `-`). */
  data: z.unknown(),
});

/** Webinate-specific fields. */
export const webinateDetailSchema = z.object({
  vendor: z.literal("WEBINATE"),
  /**
   * Gen A `eventType` number (1-10, or a newer server's); Gen B names are mapped to the same
   * numbers, null for a Gen B name this relay does not know.
   */
  eventType: z.number().int().nullable(),
  /** The user the frame names, if any. */
  username: z.string().nullable(),
  /** FileUploaded / FileRemoved: the file entry. */
  file: z.unknown(),
  /** BucketUploaded / BucketRemoved (mantle: Volume*): the bucket entry. */
  bucket: z.unknown(),
  /** Echo (10): the echoed message. */
  message: z.unknown(),
  /** MetaRequest (9) reply: the value, if any. */
  val: z.unknown(),
  /** MetaRequest (9) reply: the error text, if any. */
  error: z.string().nullable(),
});

/** Vendor-specific fields, discriminated on `vendor`. */
export const eventDetailSchema = z.discriminatedUnion("vendor", [
  drpDetailSchema,
  ilandDetailSchema,
  isymphonyDetailSchema,
  kazooDetailSchema,
  webinateDetailSchema,
]);
/** Vendor-specific fields of an event. */
export type EventDetail = z.infer<typeof eventDetailSchema>;

/**
 * What a connector publishes: everything but the relay-assigned id.
 * Times are ISO-8601 strings so events serialise without conversion.
 */
export const upstreamEventSchema = z.object({
  source: z.string(),
  vendor: vendorSchema,
  /** The vendor's event name (DRP Type, iSymphony type, Kazoo event name, ...). */
  type: z.string(),
  /** The verb where the vendor has one (DRP Action). */
  action: z.string().nullable(),
  /** Id of the entity the event is about. */
  key: z.string().nullable(),
  /** The entity's human name where known. */
  subject: z.string().nullable(),
  /** Who caused it where known. */
  actor: z.string().nullable(),
  /** The vendor's timestamp, else the receive time. */
  time: isoDate,
  receivedAt: isoDate,
  /** The upstream message as received (parsed JSON). */
  payload: z.unknown(),
  detail: eventDetailSchema,
});
/** An event before the hub gives it an id. */
export type UpstreamEvent = z.infer<typeof upstreamEventSchema>;

/** An event as stored in history and delivered to subscribers. */
export type Event = UpstreamEvent & {
  /** Relay-assigned, increasing per source; usable as an `after:` cursor. */
  readonly id: string;
  /**
   * On the cross-vendor `events` stream: the composite resume cursor as of this delivery
   * (see model/composite_cursor.ts). Absent elsewhere, where the cursor is `id`.
   */
  readonly cursor?: string;
};

/** An event of one vendor, with its detail narrowed. */
export type EventOf<V extends Vendor> = Event & { detail: Extract<EventDetail, { vendor: V }> };

/** Narrows an event to one vendor. */
export function isVendorEvent<V extends Vendor>(event: Event, vendor: V): event is EventOf<V> {
  return event.vendor === vendor;
}

/** Converts an epoch-milliseconds or parseable time to ISO-8601, or `fallback` when invalid. */
export function toIsoTime(value: unknown, fallback: string): string {
  if (typeof value === "number" && Number.isFinite(value)) {
    const d = new Date(value);
    if (!Number.isNaN(d.getTime())) return d.toISOString();
  }
  if (typeof value === "string" && value !== "") {
    const d = new Date(value);
    if (!Number.isNaN(d.getTime())) return d.toISOString();
  }
  return fallback;
}
