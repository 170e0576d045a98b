/**
 * Turns `drpEvents(type, action, key)` and `events(types)` into DRP interest and an exact
 * local matcher (the upstream may send more than one subscriber asked for, since
 * registrations are shared).
 *
 * @module
 */
import type { SubscriptionPart } from "../../hub/hub.ts";
import { RelayError } from "../../model/errors.ts";
import { type DrpPattern, formatPattern, matchesPattern, validatePattern } from "./match.ts";

function str(value: unknown, fallback: string): string {
  return typeof value === "string" ? value : fallback;
}

/** Plans one DRP pattern subscription. */
export function planDrpPattern(source: string, pattern: DrpPattern): SubscriptionPart {
  const problem = validatePattern(pattern);
  if (problem) throw new RelayError("BAD_FILTER", problem);
  const key = formatPattern(pattern);
  return {
    source,
    interest: [{ key }],
    types: pattern.type === "*" ? undefined : [pattern.type],
    keys: pattern.key === "*" ? undefined : [pattern.key],
    match: (e) => e.vendor === "DRP" && matchesPattern(pattern, e),
  };
}

/** Plans `drpEvents(type, action, key)`. */
export function planDrpArgs(source: string, args: Record<string, unknown>): SubscriptionPart {
  return planDrpPattern(source, {
    type: str(args.type, "*"),
    action: str(args.action, "*"),
    key: str(args.key, "*"),
  });
}

/** Plans `events(types:)` for a DRP source: `T.*.*` per type, or `*.*.*`. */
export function planDrpTypes(
  source: string,
  types: readonly string[] | undefined,
): SubscriptionPart {
  if (types === undefined) return planDrpPattern(source, { type: "*", action: "*", key: "*" });
  const parts = types.map((type) => planDrpPattern(source, { type, action: "*", key: "*" }));
  const wanted = new Set(types);
  return {
    source,
    interest: parts.flatMap((p) => p.interest),
    types,
    match: (e) => e.vendor === "DRP" && wanted.has(e.type),
  };
}
