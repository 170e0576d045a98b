/**
 * The vendor's own id of an event, where the vendor gives one that names exactly one
 * occurrence: the stream log's dedupe window keys on it, so an event a new holder receives
 * again after a failover is appended at most once.
 *
 * @module
 */
import type { UpstreamEvent } from "../model/event.ts";

/** The vendor event id of `event`, or undefined when the vendor sends none. */
export function vendorEventId(event: UpstreamEvent): string | undefined {
  const data = (event.payload as { data?: Record<string, unknown> } | null)?.data;
  if (typeof data !== "object" || data === null) return undefined;
  switch (event.detail.vendor) {
    // An EVENT's uuid is unique; a TASK's uuid names the task across its progress updates.
    case "ILAND":
      return event.detail.kind === "EVENT" && typeof data.uuid === "string"
        ? `iland:${data.uuid}`
        : undefined;
    case "KAZOO":
      return typeof data.msg_id === "string" && data.msg_id !== ""
        ? `kazoo:${data.msg_id}`
        : undefined;
    default:
      return undefined;
  }
}
