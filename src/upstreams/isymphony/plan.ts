/**
 * Turns `isymphonyEvents(filters)` and `events(types)` into iSymphony interest and an exact
 * local matcher. Each distinct filter set is one interest item (its key is the canonical JSON
 * of the set, so identical sets are shared); the connector folds all items into the one
 * superset filter the server takes, so every subscriber is filtered again locally.
 *
 * @module
 */
import type { SubscriptionPart } from "../../hub/hub.ts";
import type { InterestItem } from "../../hub/interest.ts";
import { RelayError } from "../../model/errors.ts";
import type { Event } from "../../model/event.ts";
import { MAX_FILTER_ENTRIES } from "./config.ts";
import {
  canonicalFilters,
  compileFilters,
  filterSetKey,
  matchesFilters,
  WILDCARD,
} from "./match.ts";
import type { FilterEntry } from "./messages.ts";

/** An interest item carrying its filter set. */
export interface FilterInterest extends InterestItem {
  readonly filters: readonly FilterEntry[];
}

/** The interest item of one filter set. */
export function filterInterest(filters: readonly FilterEntry[]): FilterInterest {
  const canonical = canonicalFilters(filters);
  return { key: JSON.stringify(canonical), filters: canonical };
}

/** True when `item` came from {@link filterInterest}. */
export function isFilterInterest(item: InterestItem): item is FilterInterest {
  const filters = (item as { filters?: unknown }).filters;
  return Array.isArray(filters) && item.key === filterSetKey(filters as FilterEntry[]);
}

/** Checks `filters:` as GraphQL delivered it (or absent: every event). */
function parseFilters(value: unknown): FilterEntry[] {
  if (value === undefined || value === null) return [];
  if (!Array.isArray(value)) throw new RelayError("BAD_FILTER", "filters must be a list");
  if (value.length > MAX_FILTER_ENTRIES) {
    throw new RelayError("BAD_FILTER", `At most ${MAX_FILTER_ENTRIES} filters are allowed`);
  }
  return value.map((entry, i) => {
    const { property, value: v } = (entry ?? {}) as { property?: unknown; value?: unknown };
    if (typeof property !== "string" || property.trim() === "") {
      throw new RelayError("BAD_FILTER", `filters[${i}].property must be a non-empty name`);
    }
    if (typeof v !== "string") {
      throw new RelayError("BAD_FILTER", `filters[${i}].value must be a string (or "*")`);
    }
    return { property, value: v };
  });
}

/** Plans one filter-set subscription. */
export function planFilterSet(source: string, filters: readonly FilterEntry[]): SubscriptionPart {
  const item = filterInterest(filters);
  const compiled = compileFilters(item.filters);
  const types = compiled.get("type");
  return {
    source,
    interest: [item],
    types: types && !types.has(WILDCARD) ? [...types] : undefined,
    match: (e: Event) =>
      e.detail.vendor === "ISYMPHONY" && matchesFilters(e.detail.properties, compiled),
  };
}

/** Plans `isymphonyEvents(filters)`. */
export function planISymphonyArgs(
  source: string,
  args: Record<string, unknown>,
): SubscriptionPart {
  return planFilterSet(source, parseFilters(args.filters));
}

/**
 * Plans `events(types:)` for an iSymphony source: the filter set `type` ∈ types, so it takes
 * part in the superset like any other subscriber; all events when `types` is undefined.
 */
export function planISymphonyTypes(
  source: string,
  types: readonly string[] | undefined,
): SubscriptionPart {
  if (types === undefined) return planFilterSet(source, []);
  // An empty list asks for nothing: no upstream interest (an empty filter set would mean all).
  if (types.length === 0) return { source, interest: [], types: [], match: () => false };
  return planFilterSet(source, types.map((value) => ({ property: "type", value })));
}
