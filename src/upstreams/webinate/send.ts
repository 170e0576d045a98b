/**
 * Client events the relay sends to a Webinate users server (the protocol is two-way:
 * PROTOCOLS.md §3.2, e.g. Echo is eventType 10).
 *
 * @module
 */
import { RelayError } from "../../model/errors.ts";

/**
 * `{eventType, ...payload}` as text. The argument's eventType wins over one inside the
 * payload, so the frame always is what the caller named.
 */
export function formatWebinateSend(args: Record<string, unknown>): string {
  const { eventType, payload } = args;
  if (typeof eventType !== "number" || !Number.isInteger(eventType)) {
    throw new RelayError("BAD_USER_INPUT", "eventType must be an Int");
  }
  if (payload !== undefined && payload !== null) {
    if (typeof payload !== "object" || Array.isArray(payload)) {
      throw new RelayError(
        "BAD_USER_INPUT",
        "payload must be a JSON object (its fields are sent with eventType)",
      );
    }
  }
  const { eventType: _ignored, ...rest } = (payload ?? {}) as Record<string, unknown>;
  return JSON.stringify({ eventType, ...rest });
}
