/**
 * iSymphony's event filter rule (PROTOCOLS.md §5.4), as one pure function so the simulator and
 * its tests agree on exactly what a connection receives.
 *
 * - Filters select events to *include* (seed line 87).
 * - An event missing any filtered property is never delivered (seed line 110).
 * - `"*"` matches any value of the property, which must still be present (seed line 168).
 * - Entries with the same property are OR-ed, different properties AND-ed: derived from the
 *   doc's examples (seed lines 183–206) [inferred].
 *
 * Where the doc is silent this simulator decides (PROTOCOLS.md §5.4 "Not stated"):
 * - no filter message yet, or an empty `filters` array: every event is delivered;
 * - values compare as strings, case-sensitively; numbers and booleans via `String()`
 *   (`port` 57042 matches `"57042"`, `userCreated` true matches `"true"`);
 * - a property present with value `null` counts as present: it matches `"*"` and nothing else
 *   (not the text `"null"`); object or array values likewise match only `"*"`.
 *
 * @module
 */
import type { FilterEntry } from "./messages.ts";

/** A connection's filters grouped by property: each property maps to its accepted values. */
export type CompiledFilters = ReadonlyMap<string, ReadonlySet<string>>;

/** Groups entries by property so matching is one lookup per filtered property. */
export function compileFilters(filters: readonly FilterEntry[]): CompiledFilters {
  const byProperty = new Map<string, Set<string>>();
  for (const { property, value } of filters) {
    const values = byProperty.get(property) ?? new Set<string>();
    values.add(value);
    byProperty.set(property, values);
  }
  return byProperty;
}

/**
 * Whether `event` passes `filters`. `undefined` (no filter message received yet) and an empty
 * list both pass everything.
 */
export function matchesFilters(
  event: Readonly<Record<string, unknown>>,
  filters: readonly FilterEntry[] | CompiledFilters | undefined,
): boolean {
  if (filters === undefined) return true;
  const compiled = filters instanceof Map ? filters : compileFilters(filters as FilterEntry[]);
  for (const [property, values] of compiled) {
    // Own properties only: "present" means the key is in the event's JSON.
    if (!Object.hasOwn(event, property) || event[property] === undefined) return false;
    if (values.has("*")) continue;
    const text = _asText(event[property]);
    if (text === undefined || !values.has(text)) return false;
  }
  return true;
}

/** The string form a filter value is compared with, or undefined when only `*` can match. */
function _asText(value: unknown): string | undefined {
  switch (typeof value) {
    case "string":
      return value;
    case "number":
    case "boolean":
      return String(value);
    default:
      return undefined;
  }
}
