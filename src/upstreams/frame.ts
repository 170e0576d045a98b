/**
 * The edge every connector shares: one inbound text frame, parsed as JSON and checked
 * against the vendor's zod schema, never throwing.
 *
 * Drop reasons are a small, stable vocabulary (`not JSON`, `DRP event without Key`, ...):
 * the supervisor counts frames per reason and logs each reason at most once a minute, so a
 * reason must never embed frame content.
 *
 * @module
 */
import type { z } from "zod";

/** A checked frame, or why it was not one. */
export type ParsedFrame<T> =
  | { ok: true; data: T; json: unknown }
  | { ok: false; reason: string };

/** Parses JSON text; `undefined` when it is not JSON. */
export function parseJson(frame: string): { ok: true; json: unknown } | { ok: false } {
  try {
    return { ok: true, json: JSON.parse(frame) };
  } catch {
    return { ok: false };
  }
}

/**
 * Parses `frame` with `schema`; `what` names the expected frame in the reason
 * ("DRP event without Key", "DRP event with Key not a string").
 */
export function parseFrame<T>(frame: string, schema: z.ZodType<T>, what: string): ParsedFrame<T> {
  const parsed = parseJson(frame);
  if (!parsed.ok) return { ok: false, reason: "not JSON" };
  return checkFrame(parsed.json, schema, what);
}

/** Checks already-parsed JSON with `schema` (see {@link parseFrame}). */
export function checkFrame<T>(json: unknown, schema: z.ZodType<T>, what: string): ParsedFrame<T> {
  if (json === null || typeof json !== "object" || Array.isArray(json)) {
    return { ok: false, reason: "not a JSON object" };
  }
  const parsed = schema.safeParse(json, { reportInput: true });
  if (parsed.success) return { ok: true, data: parsed.data, json };
  return { ok: false, reason: dropReason(what, parsed.error.issues[0]) };
}

/** A stable reason from a zod issue: which routing field is missing or has the wrong type. */
export function dropReason(what: string, issue: z.core.$ZodIssue | undefined): string {
  const path = issue?.path.map(String).join(".") || "(root)";
  if (issue?.code === "invalid_type") {
    return !("input" in issue) || issue.input === undefined
      ? `${what} without ${path}`
      : `${what} with ${path} not a ${issue.expected}`;
  }
  return `${what} with an invalid ${path}`;
}
