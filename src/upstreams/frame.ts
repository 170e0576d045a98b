/**
 * The edge every connector shares: one inbound text frame, parsed as JSON and checked
 * against the vendor's zod schema, never throwing.
 *
 * @module
 */
import type { z } from "zod";

/** A checked frame, or why it was not one. */
export type ParsedFrame<T> =
  | { ok: true; data: T; json: unknown }
  | { ok: false; reason: string };

/**
 * Parses `frame` with `schema`; `what` names the expected frame in the reason
 * ("not a DRP event: Type Invalid input ...").
 */
export function parseFrame<T>(frame: string, schema: z.ZodType<T>, what: string): ParsedFrame<T> {
  let json: unknown;
  try {
    json = JSON.parse(frame);
  } catch {
    return { ok: false, reason: "not JSON" };
  }
  const parsed = schema.safeParse(json);
  if (parsed.success) return { ok: true, data: parsed.data, json };
  const issue = parsed.error.issues[0];
  return {
    ok: false,
    reason: `not ${what}: ${issue?.path.join(".") || "(root)"} ${issue?.message ?? ""}`.trim(),
  };
}
