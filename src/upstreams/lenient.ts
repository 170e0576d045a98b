/**
 * Tolerant reading of upstream frames: "strict about what we send, tolerant about what we
 * receive". A frame schema insists only on what routes the frame (its discriminator, and the
 * id where the vendor has one); every other field goes through {@link lenient}, so a value of
 * an unexpected type degrades that one field to `undefined` instead of dropping the event.
 *
 * @module
 */
import { z } from "zod";

/**
 * `schema`, optional and nullable, with any value that does not fit read as `undefined`
 * (a newer server that changes a field's type costs that field, not the event).
 */
export function lenient<T extends z.ZodType>(schema: T) {
  return schema.nullish().catch(undefined);
}

/** A lenient string field. */
export const text = () => lenient(z.string());
/** A lenient finite number field. */
export const num = () => lenient(z.number().finite());
/** A lenient boolean field. */
export const bool = () => lenient(z.boolean());

/** The value as a non-empty string, else null. */
export function nonEmpty(value: unknown): string | null {
  return typeof value === "string" && value !== "" ? value : null;
}

/** The value as a plain object, else an empty one (for reading nested optional fields). */
export function record(value: unknown): Record<string, unknown> {
  return value !== null && typeof value === "object" && !Array.isArray(value)
    ? value as Record<string, unknown>
    : {};
}

/** True for a JSON object (not null, not an array). */
export function isRecord(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === "object" && !Array.isArray(value);
}
