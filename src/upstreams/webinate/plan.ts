/**
 * Turns `webinateEvents(eventTypes)` and `events(types)` into a Webinate subscription part.
 * No interest goes upstream: the server broadcasts everything (PROTOCOLS.md §3.4), so each
 * part is a purely local matcher.
 *
 * @module
 */
import type { SubscriptionPart } from "../../hub/hub.ts";
import { RelayError } from "../../model/errors.ts";
import { matchesEventType, namesOf, parseEventTypes } from "./match.ts";

/** Plans `webinateEvents(eventTypes)`. */
export function planWebinateArgs(
  source: string,
  args: Record<string, unknown>,
): SubscriptionPart {
  const parsed = parseEventTypes(args.eventTypes);
  if (!parsed.ok) throw new RelayError("BAD_FILTER", parsed.message);
  const filter = parsed.filter;
  return {
    source,
    interest: [],
    types: namesOf(filter),
    match: (e) => e.detail.vendor === "WEBINATE" && matchesEventType(filter, e.detail.eventType),
  };
}

/** Plans `events(types:)` for a Webinate source: types are event names (`Login`, `Echo`, ...). */
export function planWebinateTypes(
  source: string,
  types: readonly string[] | undefined,
): SubscriptionPart {
  const wanted = types === undefined ? undefined : new Set(types);
  return {
    source,
    interest: [],
    types,
    match: (e) => e.vendor === "WEBINATE" && (wanted === undefined || wanted.has(e.type)),
  };
}
