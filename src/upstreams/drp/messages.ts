/**
 * DRP websocket frames (PROTOCOLS.md §2.2, §2.3).
 *
 * @module
 */
import { z } from "zod";
import { text } from "../lenient.ts";

/**
 * A DRP event. The server marshals a Go struct without JSON tags, so the keys are
 * capitalised. Only what routes the event is required: `Type` and `Action` (the
 * discriminators registrations match on) and `Key` (the object id, also the ack's filter).
 * `Time`, `Principal` (added Aug 2018) and `Original` (added Feb 2019) are read leniently:
 * older servers leave them out and a value of another type costs only that field.
 */
export const drpEventSchema = z.looseObject({
  Type: z.string(),
  Action: z.string(),
  Key: z.string(),
  Time: text(),
  Principal: text(),
  Object: z.unknown().optional(),
  Original: z.unknown().optional(),
});
/** One DRP event frame. */
export type DrpEventFrame = z.infer<typeof drpEventSchema>;

/** Outbound commands: the only two the server understands. */
export type DrpCommand = { op: "register" | "deregister"; filter: string };

/** Longest frame the v3 server reads (melody's 512-byte default); longer ones drop the socket. */
export const DRP_MAX_FRAME_BYTES = 512;

/** Formats a command, checking it fits DRP's frame limit. */
export function formatCommand(cmd: DrpCommand): string {
  const text = `${cmd.op} ${cmd.filter}`;
  if (new TextEncoder().encode(text).length > DRP_MAX_FRAME_BYTES) {
    throw new RangeError(`DRP command longer than ${DRP_MAX_FRAME_BYTES} bytes`);
  }
  return text;
}

/** True when the event is the server's acknowledgement of a register/deregister. */
export function isAck(
  e: DrpEventFrame,
): e is DrpEventFrame & { Action: "register" | "deregister" } {
  return e.Type === "websocket" && (e.Action === "register" || e.Action === "deregister");
}
