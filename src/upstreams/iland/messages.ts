/**
 * iland event websocket frames and token endpoint bodies (PROTOCOLS.md §1.1, §1.3).
 *
 * Inbound schemas are tolerant: they insist only on what routes a message (the envelope
 * `type`, the event/task `uuid`, and an EVENT's own `type`); every other field is read
 * leniently (a missing field or one of another type is `undefined`), unknown fields are
 * kept in the payload, and envelope types other than EVENT/TASK (a newer server) are read
 * as {@link IlandOtherPush}, not dropped.
 *
 * @module
 */
import { z } from "zod";
import { bool, lenient, num, text } from "../lenient.ts";

/** The server's first frame: a bare text prompt, not JSON (§1.1 step 2). */
export const AUTHORIZATION_PROMPT = "AUTHORIZATION";

/** EventJson (§1.3, JS event-json.ts; Go `Event` agrees). */
export const ilandEventSchema = z.looseObject({
  uuid: z.string().min(1),
  type: z.string().min(1),
  entity_uuid: text(),
  entity_name: text(),
  entity_type: text(),
  /** `COMPANY` or `USER`; kept open in case iland adds owners. */
  owner_type: text(),
  owner_id: text(),
  /** Not in any SDK model; read in case a server adds it (tasks have it). */
  company_id: text(),
  /** Absent when owner_type is USER. */
  task_uuid: text(),
  initiated_by_username: text(),
  initiated_by_full_name: text(),
  /** Epoch milliseconds. */
  timestamp: num(),
  details: text(),
});
/** One iland event. */
export type IlandEventJson = z.infer<typeof ilandEventSchema>;

/** TaskJson (§1.3, latest JS task-json.ts; the older SDK said `synchronized`). */
export const ilandTaskSchema = z.looseObject({
  uuid: z.string().min(1),
  /** success, running, error, cancelled, queued, waiting-on-user-input, unknown. */
  status: text(),
  company_id: text(),
  active: bool(),
  synced: bool(),
  synchronized: bool(),
  location_id: text(),
  /** Open lower-case phrase (`power on`, `create snapshot`, ...). */
  operation: text(),
  operation_description: text(),
  entity_uuid: text(),
  entity_name: text(),
  initiated_from_ecs: bool(),
  initiation_time: num(),
  start_time: num(),
  end_time: num(),
  message: text(),
  org_uuid: text(),
  other_attributes: lenient(z.record(z.string(), z.unknown())),
  parent_task_uuid: text(),
  progress: num(),
  sub_tasks: lenient(z.array(z.string())),
  task_id: text(),
  /** ILAND, VCD, VEEAM, ... (older SDKs lower-case). */
  task_type: text(),
  user_full_name: text(),
  username: text(),
});
/** One iland task update. */
export type IlandTaskJson = z.infer<typeof ilandTaskSchema>;

/** A message of a kind this relay does not know (a newer server): read what is common. */
export const ilandOtherSchema = z.looseObject({
  uuid: text(),
  type: text(),
  entity_uuid: text(),
  entity_name: text(),
  entity_type: text(),
  company_id: text(),
  username: text(),
  initiated_by_username: text(),
  timestamp: num(),
});
/** The data of an unknown-kind message. */
export type IlandOtherJson = z.infer<typeof ilandOtherSchema>;

/** The envelope (§1.3: JS `PushUpdate`, Go `SocketData`); `type` is what routes it. */
export const ilandEnvelopeSchema = z.looseObject({
  type: z.string().min(1),
  data: z.unknown().optional(),
});

/** An envelope of an unknown kind, with its data read leniently. */
export interface IlandOtherPush {
  type: string;
  data: IlandOtherJson;
}
/** One pushed update. */
export type IlandPush =
  | { type: "EVENT"; data: IlandEventJson }
  | { type: "TASK"; data: IlandTaskJson }
  | IlandOtherPush;

/** The one client frame (§1.2): scope and token. */
export const authLineSchema = z.object({
  companyId: z.string().regex(/^[^,\s]+$/).optional(),
  token: z.string().regex(/^\S+$/, "A token cannot contain whitespace"),
});

/**
 * Formats the auth line exactly as the Go and JS clients do: `companyId=<id>,Bearer <token>`
 * (no space after the comma) or `Bearer <token>`. Throws on values that would corrupt it.
 */
export function formatAuthLine(line: z.input<typeof authLineSchema>): string {
  const { companyId, token } = authLineSchema.parse(line);
  return companyId === undefined ? `Bearer ${token}` : `companyId=${companyId},Bearer ${token}`;
}

/** A successful token response: the fields clients use (§1.1), Keycloak extras allowed. */
export const tokenResponseSchema = z.object({
  access_token: z.string().min(1),
  /** Seconds. */
  expires_in: z.number().positive().optional(),
  refresh_token: z.string().min(1).optional(),
  /** Seconds (Keycloak); absent means unknown. */
  refresh_expires_in: z.number().min(0).optional(),
});
/** A token response. */
export type TokenResponse = z.infer<typeof tokenResponseSchema>;

/** An OAuth2 error body (`invalid_grant`, `invalid_client`, ...). */
export const oauthErrorSchema = z.object({
  error: z.string(),
  error_description: z.string().optional(),
});
