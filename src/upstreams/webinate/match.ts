/**
 * Webinate filter semantics. The server has no subscriptions (PROTOCOLS.md §3.4): it sends
 * every event, so `eventTypes` is applied here, locally, as a set of Gen A numbers.
 *
 * @module
 */
import { WEBINATE_EVENT_NAMES } from "./messages.ts";

/** A validated `eventTypes` argument: undefined means every type. */
export type EventTypeFilter = ReadonlySet<number> | undefined;

/**
 * Checks `eventTypes`: each must be a known event number (1-10, §3.3); an empty list would
 * match nothing and is refused. Returns the filter or an error message.
 */
export function parseEventTypes(
  value: unknown,
): { ok: true; filter: EventTypeFilter } | { ok: false; message: string } {
  if (value === undefined || value === null) return { ok: true, filter: undefined };
  if (!Array.isArray(value)) return { ok: false, message: "eventTypes must be a list of Int" };
  if (value.length === 0) {
    return { ok: false, message: "eventTypes is empty; leave it out to get every event type" };
  }
  for (const n of value) {
    if (typeof n !== "number" || !WEBINATE_EVENT_NAMES.has(n)) {
      return {
        ok: false,
        message: `Unknown Webinate eventType ${JSON.stringify(n)}; known: ${
          [...WEBINATE_EVENT_NAMES].map(([k, v]) => `${k} (${v})`).join(", ")
        }`,
      };
    }
  }
  return { ok: true, filter: new Set(value as number[]) };
}

/** True when an event of `eventType` passes the filter. */
export function matchesEventType(filter: EventTypeFilter, eventType: number | null): boolean {
  return filter === undefined || (eventType !== null && filter.has(eventType));
}

/** The event names (`type` values) a filter can match, for the hub's index. */
export function namesOf(filter: EventTypeFilter): string[] | undefined {
  if (filter === undefined) return undefined;
  return [...filter].map((n) => WEBINATE_EVENT_NAMES.get(n)!);
}
