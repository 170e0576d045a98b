/**
 * iSymphony filter semantics (PROTOCOLS.md §5.4; DESIGN.md "Upstream interest: exact rules"),
 * as pure functions shared by the planner (each subscriber's exact local match) and the
 * connector (the one upstream filter set that covers every subscriber).
 *
 * The server's rule, per the doc: filters select events to include; an event without a
 * filtered property is never delivered (seed line 110); `"*"` matches any value of the
 * property, which must still be present (seed line 168). From the doc's examples [inferred]:
 * entries with the same property are OR-ed, different properties AND-ed.
 *
 * Where the doc is silent the relay decides (and the simulator agrees): values compare as
 * case-sensitive strings, numbers and booleans through `String()`; a property present with
 * `null` (or an object/array) matches only `"*"`.
 *
 * @module
 */
import type { FilterEntry } from "./messages.ts";

/** A filter set grouped by property: each property maps to its accepted values. */
export type CompiledFilters = ReadonlyMap<string, ReadonlySet<string>>;

/** The wildcard value. */
export const WILDCARD = "*";

/** Groups entries by property; a property with `*` keeps only `*` (it subsumes the rest). */
export function compileFilters(filters: readonly FilterEntry[]): CompiledFilters {
  const byProperty = new Map<string, Set<string>>();
  for (const { property, value } of filters) {
    const values = byProperty.get(property) ?? new Set<string>();
    values.add(value);
    byProperty.set(property, values);
  }
  for (const values of byProperty.values()) {
    if (values.has(WILDCARD) && values.size > 1) {
      values.clear();
      values.add(WILDCARD);
    }
  }
  return byProperty;
}

/** The canonical entry list of a filter set: deduplicated, `*` collapsed, sorted. */
export function canonicalFilters(filters: readonly FilterEntry[]): FilterEntry[] {
  return expand(compileFilters(filters));
}

/** Entries of a compiled set, sorted by property then value. */
export function expand(compiled: CompiledFilters): FilterEntry[] {
  const out: FilterEntry[] = [];
  for (const property of [...compiled.keys()].sort()) {
    for (const value of [...compiled.get(property)!].sort()) out.push({ property, value });
  }
  return out;
}

/** A stable identity for a filter set: the canonical entries as JSON. */
export function filterSetKey(filters: readonly FilterEntry[]): string {
  return JSON.stringify(canonicalFilters(filters));
}

/** Whether an event's properties pass a filter set (an empty set passes everything). */
export function matchesFilters(
  properties: Readonly<Record<string, unknown>>,
  filters: CompiledFilters,
): boolean {
  for (const [property, values] of filters) {
    // "Present" means the key is in the event's JSON (own properties only).
    if (!Object.hasOwn(properties, property) || properties[property] === undefined) return false;
    if (values.has(WILDCARD)) continue;
    const text = asText(properties[property]);
    if (text === undefined || !values.has(text)) return false;
  }
  return true;
}

/** The string a filter value is compared with, or undefined when only `*` can match. */
function asText(value: unknown): string | undefined {
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

/**
 * One filter set that lets through every event any of `sets` accepts (DESIGN.md): a property
 * is kept only if *every* set constrains it, with the union of their values (`*` absorbing
 * the rest). So a single unconstrained set yields the empty set: no constraint, no filter.
 * `sets` must not be empty; the caller decides what "nobody wants anything" means.
 */
export function supersetOf(sets: readonly CompiledFilters[]): CompiledFilters {
  const [first, ...rest] = sets;
  if (!first) throw new RangeError("supersetOf() needs at least one filter set");
  const out = new Map<string, Set<string>>();
  for (const [property, values] of first) {
    if (!rest.every((s) => s.has(property))) continue;
    const union = new Set(values);
    for (const s of rest) for (const v of s.get(property)!) union.add(v);
    out.set(property, union.has(WILDCARD) ? new Set([WILDCARD]) : union);
  }
  return out;
}
