/**
 * The relay's error codes, shared by every layer and surfaced to GraphQL clients as
 * `extensions.code`. One error class carries them.
 *
 * @module
 */

/** Error codes of the public contract. */
export const ERROR_CODES = [
  "UNKNOWN_SOURCE",
  "AMBIGUOUS_SOURCE",
  "FORBIDDEN",
  "BAD_FILTER",
  "CURSOR_EXPIRED",
  "SOURCE_UNAVAILABLE",
  "SLOW_CONSUMER",
  "BAD_USER_INPUT",
] as const;
/** One of {@link ERROR_CODES}. */
export type ErrorCode = typeof ERROR_CODES[number];

/** An error meant for the client: its message is safe to show and has no secrets. */
export class RelayError extends Error {
  /** The contract code (`extensions.code`). */
  readonly code: ErrorCode;

  constructor(code: ErrorCode, message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "RelayError";
    this.code = code;
  }
}

/** True for a {@link RelayError}. */
export function isRelayError(err: unknown): err is RelayError {
  return err instanceof RelayError;
}
