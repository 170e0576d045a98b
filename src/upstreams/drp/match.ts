/**
 * DRP filter semantics (PROTOCOLS.md §2.4): `type.action.key`, split at the first two
 * dots (the key may contain dots); each field is `*` or an exact, case-sensitive value.
 *
 * @module
 */
import { DRP_MAX_FRAME_BYTES } from "./messages.ts";

/** A parsed DRP pattern. */
export interface DrpPattern {
  type: string;
  action: string;
  key: string;
}

/** Formats a pattern as DRP's filter string. */
export function formatPattern(p: DrpPattern): string {
  return `${p.type}.${p.action}.${p.key}`;
}

/**
 * Checks the three fields; returns an error message or undefined. Rejects what the
 * server would silently never match: a dot in type or action, whitespace anywhere (the
 * server splits commands at the first space), empty fields, and over-long filters.
 */
export function validatePattern(p: DrpPattern): string | undefined {
  for (const [field, value] of [["type", p.type], ["action", p.action], ["key", p.key]] as const) {
    if (value === "") return `DRP ${field} must not be empty (use "*" for any)`;
    if (/\s/.test(value)) return `DRP ${field} must not contain whitespace: "${value}"`;
  }
  if (p.type.includes(".")) return `DRP type cannot contain ".": "${p.type}"`;
  if (p.action.includes(".")) return `DRP action cannot contain ".": "${p.action}"`;
  const bytes = new TextEncoder().encode(`deregister ${formatPattern(p)}`).length;
  if (bytes > DRP_MAX_FRAME_BYTES) {
    return `DRP filter is ${bytes} bytes with its command; the server reads at most ${DRP_MAX_FRAME_BYTES}`;
  }
  return undefined;
}

/** Parses a filter string (config `standing`). */
export function parsePattern(text: string): DrpPattern | undefined {
  const first = text.indexOf(".");
  const second = first < 0 ? -1 : text.indexOf(".", first + 1);
  if (second < 0) return undefined;
  return {
    type: text.slice(0, first),
    action: text.slice(first + 1, second),
    key: text.slice(second + 1),
  };
}

function field(pattern: string, value: string): boolean {
  return pattern === "*" || pattern === value;
}

/**
 * True when every event `narrow` matches also matches `wide` (field by field: `*` or equal),
 * e.g. `*.*.*` and `machines.*.*` cover `machines.save.*`.
 */
export function patternCovers(wide: string, narrow: string): boolean {
  const w = parsePattern(wide);
  const n = parsePattern(narrow);
  if (!w || !n) return false;
  return field(w.type, n.type) && field(w.action, n.action) && field(w.key, n.key);
}

/** The server's match: every field `*` or equal. */
export function matchesPattern(
  p: DrpPattern,
  e: { type: string; action: string | null; key: string | null },
): boolean {
  return field(p.type, e.type) && field(p.action, e.action ?? "") && field(p.key, e.key ?? "");
}
