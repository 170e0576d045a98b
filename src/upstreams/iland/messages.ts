/**
 * iland event websocket frames and token endpoint bodies (PROTOCOLS.md §1.1, §1.3).
 *
 * Inbound schemas are deliberately lenient where the SDKs disagree or a real server may
 * leave a field out (the JS and Go models differ in detail); they insist on what the relay
 * needs to map an event: the envelope `type`, the event/task id and its `type`/`status`.
 *
 * @module
 */
import { z } from "zod";

/** The server's first frame: a bare text prompt, not JSON (§1.1 step 2). */
export const AUTHORIZATION_PROMPT = "AUTHORIZATION";

const text = z.string().nullish();
const millis = z.number().nullish();

/** EventJson (§1.3, JS event-json.ts; Go `Event` agrees). */
export const ilandEventSchema = z.object({
  uuid: z.string(),
  type: z.string().min(1),
  entity_uuid: text,
  entity_name: text,
  entity_type: text,
  /** `COMPANY` or `USER`; kept open in case iland adds owners. */
  owner_type: text,
  owner_id: text,
  /** Absent when owner_type is USER. */
  task_uuid: text,
  initiated_by_username: text,
  initiated_by_full_name: text,
  /** Epoch milliseconds. */
  timestamp: millis,
  details: text,
});
/** One iland event. */
export type IlandEventJson = z.infer<typeof ilandEventSchema>;

/** TaskJson (§1.3, latest JS task-json.ts; the older SDK said `synchronized`). */
export const ilandTaskSchema = z.object({
  uuid: z.string(),
  /** success, running, error, cancelled, queued, waiting-on-user-input, unknown. */
  status: z.string().min(1),
  company_id: text,
  active: z.boolean().nullish(),
  synced: z.boolean().nullish(),
  synchronized: z.boolean().nullish(),
  location_id: text,
  /** Open lower-case phrase (`power on`, `create snapshot`, ...). */
  operation: text,
  operation_description: text,
  entity_uuid: text,
  entity_name: text,
  initiated_from_ecs: z.boolean().nullish(),
  initiation_time: millis,
  start_time: millis,
  end_time: millis,
  message: text,
  org_uuid: text,
  other_attributes: z.record(z.string(), z.unknown()).nullish(),
  parent_task_uuid: text,
  progress: z.number().nullish(),
  sub_tasks: z.array(z.string()).nullish(),
  task_id: text,
  /** ILAND, VCD, VEEAM, ... (older SDKs lower-case). */
  task_type: text,
  user_full_name: text,
  username: text,
});
/** One iland task update. */
export type IlandTaskJson = z.infer<typeof ilandTaskSchema>;

/** Every frame after the auth line (§1.3: JS `PushUpdate`, Go `SocketData`). */
export const ilandPushSchema = z.discriminatedUnion("type", [
  z.object({ type: z.literal("EVENT"), data: ilandEventSchema }),
  z.object({ type: z.literal("TASK"), data: ilandTaskSchema }),
]);
/** One pushed update. */
export type IlandPush = z.infer<typeof ilandPushSchema>;

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
