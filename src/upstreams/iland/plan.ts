/**
 * Turns `ilandEvents(kinds, entityTypes, types)` and `events(types)` into an iland
 * subscription part. iland has no upstream interest (the socket's company scope is fixed
 * by config and the server sends everything in it), so parts carry no interest items and
 * the hub registers nothing upstream; the work is the exact local matcher.
 *
 * @module
 */
import type { SubscriptionPart } from "../../hub/hub.ts";
import { RelayError } from "../../model/errors.ts";
import {
  canonicalName,
  ILAND_KINDS,
  type IlandFilter,
  type IlandKind,
  matchesIland,
} from "./match.ts";

/** Parses an optional list argument: null/undefined is "any"; an empty list is refused. */
function nameList(value: unknown, arg: string): Set<string> | undefined {
  if (value === undefined || value === null) return undefined;
  if (!Array.isArray(value)) throw new RelayError("BAD_FILTER", `${arg} must be a list`);
  if (value.length === 0) {
    throw new RelayError("BAD_FILTER", `${arg} must name at least one value, or be left out`);
  }
  const out = new Set<string>();
  for (const v of value) {
    if (typeof v !== "string" || v.trim() === "") {
      throw new RelayError("BAD_FILTER", `${arg} values must be non-empty strings`);
    }
    out.add(canonicalName(v.trim()));
  }
  return out;
}

/** `kinds`: left out is `[EVENT]`; an explicit null is every kind, unknown ones included. */
function kindList(value: unknown): Set<IlandKind> | undefined {
  if (value === undefined) return new Set(["EVENT"]);
  if (value === null) return undefined;
  if (!Array.isArray(value) || value.length === 0) {
    throw new RelayError("BAD_FILTER", "kinds must name EVENT, TASK or both");
  }
  const out = new Set<IlandKind>();
  for (const v of value) {
    if (!(ILAND_KINDS as readonly unknown[]).includes(v)) {
      throw new RelayError("BAD_FILTER", `Unknown iland kind ${JSON.stringify(v)}`);
    }
    out.add(v as IlandKind);
  }
  return out;
}

/** Plans one filter. */
export function planIlandFilter(source: string, filter: IlandFilter): SubscriptionPart {
  return {
    source,
    interest: [],
    // Connectors publish canonical (upper-case) types, so the hub's exact-type index works.
    types: filter.types ? [...filter.types] : undefined,
    match: (e) => matchesIland(filter, e),
  };
}

/** Plans `ilandEvents(kinds, entityTypes, types)`; kinds defaults to `[EVENT]`. */
export function planIlandArgs(source: string, args: Record<string, unknown>): SubscriptionPart {
  return planIlandFilter(source, {
    kinds: kindList(args.kinds),
    entityTypes: nameList(args.entityTypes, "entityTypes"),
    types: nameList(args.types, "types"),
  });
}

/** Plans `events(types:)` for an iland source: both kinds, `types` compared ignoring case. */
export function planIlandTypes(
  source: string,
  types: readonly string[] | undefined,
): SubscriptionPart {
  return planIlandFilter(source, {
    // Every kind, including ones a newer server adds: `events` is the catch-all stream.
    types: types === undefined ? undefined : new Set(types.map(canonicalName)),
  });
}
