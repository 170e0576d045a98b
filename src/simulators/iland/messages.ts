/**
 * Wire formats of the iland cloud event websocket (`/v1/event-websocket`) and of the Keycloak
 * token endpoint it relies on, as zod schemas (PROTOCOLS.md §1).
 *
 * - Client → server: one plain-text authorization line, `companyId=<id>,Bearer <token>` or
 *   `Bearer <token>` (§1.1 step 3, §1.2). Nothing else exists.
 * - Server → client: the bare greeting `AUTHORIZATION`, then JSON envelopes
 *   `{"type":"EVENT"|"TASK","data":{…}}` (§1.3).
 * - Token endpoint: `application/x-www-form-urlencoded` password and refresh_token grants
 *   (§1.1 "Access token").
 *
 * Also the catalogues (entity types, task statuses/types) and the demo content `emitRandom`
 * draws from.
 *
 * @module
 */
import { z } from "zod";
import { pick } from "../vendor_simulator.ts";

/** The greeting the server sends as soon as the socket opens (§1.1 step 2); not JSON. */
export const AUTHORIZATION = "AUTHORIZATION";

/** Where the event stream lives (§1.1: API base `/v1` plus `/event-websocket`). */
export const ILAND_WS_PATH = "/v1/event-websocket";

/** Keycloak realm `iland-core` token endpoint path (§1.1). */
export const ILAND_TOKEN_PATH = "/auth/realms/iland-core/protocol/openid-connect/token";

// ---------------------------------------------------------------------------------------------
// Client → server: the authorization line.

/** What an authorization line asks for: one company, or every company the user can see. */
export const AuthRequestSchema = z.discriminatedUnion("scope", [
  z.object({ scope: z.literal("company"), companyId: z.string().min(1), token: z.string().min(1) }),
  z.object({ scope: z.literal("all"), token: z.string().min(1) }),
]);
/** A parsed authorization line. */
export type AuthRequest = z.infer<typeof AuthRequestSchema>;

// §1.1 step 3: "No space after the comma; the Go and JS clients both format it exactly this
// way." The simulator is strict on purpose (case, spacing, no trailing newline) so a relay that
// drifts from the clients' format fails here rather than against the real service.
const COMPANY_LINE = /^companyId=([^,\s]+),Bearer (\S+)$/;
const ALL_LINE = /^Bearer (\S+)$/;

/** The single inbound frame (§1.2): parses the text line into an {@link AuthRequest}. */
export const AuthLineSchema = z.string().transform((line, ctx) => {
  const company = COMPANY_LINE.exec(line);
  if (company?.[1] && company[2]) {
    return { scope: "company" as const, companyId: company[1], token: company[2] };
  }
  const all = ALL_LINE.exec(line);
  if (all?.[1]) return { scope: "all" as const, token: all[1] };
  ctx.addIssue({ code: "custom", message: "Expected 'companyId=<id>,Bearer <token>'" });
  return z.NEVER;
}).pipe(AuthRequestSchema);

// ---------------------------------------------------------------------------------------------
// Server → client: EVENT and TASK envelopes (§1.3).

/** `owner_type` values (§1.3). */
export const OWNER_TYPES = ["COMPANY", "USER"] as const;

/** EventJson: exactly the fields of §1.3 (JS event-json.ts; Go `Event` agrees). */
export const EventJsonSchema = z.strictObject({
  uuid: z.string(),
  // §1.7: typed SDKs use UPPER_SNAKE on the wire; the simulator only ever sends that form.
  type: z.string().regex(/^[A-Z0-9_]+$/),
  entity_uuid: z.string(),
  entity_name: z.string(),
  entity_type: z.string().regex(/^[A-Z0-9_]+$/),
  owner_type: z.enum(OWNER_TYPES),
  owner_id: z.string(),
  // Absent when owner_type is USER (§1.3, SDK integration test).
  task_uuid: z.string().optional(),
  initiated_by_username: z.string(),
  initiated_by_full_name: z.string(),
  // Epoch milliseconds (§1.3: the SDK does `new Date(timestamp)`).
  timestamp: z.number().int(),
  details: z.string(),
});
/** One event as sent in an `EVENT` envelope. */
export type EventJson = z.infer<typeof EventJsonSchema>;

/** Task `status` values (§1.3, task-status-type.ts). */
export const TASK_STATUSES = [
  "success",
  "running",
  "error",
  "cancelled",
  "queued",
  "waiting-on-user-input",
  "unknown",
] as const;
/** A task status. */
export type TaskStatus = (typeof TASK_STATUSES)[number];

/** Task `task_type` values of the latest SDK (§1.3). */
export const TASK_TYPES = [
  "ILAND",
  "REPORTING",
  "VCD",
  "VEEAM",
  "VCCR",
  "VI",
  "ZERTO",
  "CATALOG_UPLOAD",
  "VAC",
] as const;

/** TaskJson: the full field set of the latest JS SDK (§1.3; `synced`, not `synchronized`). */
export const TaskJsonSchema = z.strictObject({
  active: z.boolean(),
  company_id: z.string(),
  synced: z.boolean(),
  uuid: z.string(),
  status: z.enum(TASK_STATUSES),
  location_id: z.string(),
  // §1.3: a long lower-case free-form enum; treated as an open string.
  operation: z.string(),
  end_time: z.number().int().nullable(),
  entity_uuid: z.string(),
  entity_name: z.string(),
  initiated_from_ecs: z.boolean(),
  initiation_time: z.number().int(),
  message: z.string().nullable(),
  operation_description: z.string(),
  org_uuid: z.string(),
  other_attributes: z.record(z.string(), z.string()),
  parent_task_uuid: z.string().nullable(),
  progress: z.number(),
  start_time: z.number().int().nullable(),
  sub_tasks: z.array(z.string()),
  task_id: z.string(),
  task_type: z.enum(TASK_TYPES),
  user_full_name: z.string(),
  username: z.string(),
});
/** One task as sent in a `TASK` envelope. */
export type TaskJson = z.infer<typeof TaskJsonSchema>;

/** Every post-auth frame (§1.3: JS `PushUpdate`, Go `SocketData`). */
export const PushUpdateSchema = z.discriminatedUnion("type", [
  z.strictObject({ type: z.literal("EVENT"), data: EventJsonSchema }),
  z.strictObject({ type: z.literal("TASK"), data: TaskJsonSchema }),
]);
/** A post-auth frame. */
export type PushUpdate = z.infer<typeof PushUpdateSchema>;

/** Validates an outbound envelope and serialises it; throws on a shape the vendor never sends. */
export function encodePushUpdate(update: PushUpdate): string {
  return JSON.stringify(PushUpdateSchema.parse(update));
}

// ---------------------------------------------------------------------------------------------
// Token endpoint (Keycloak, realm iland-core).

const optional = z.string().optional();

/** The form fields of a token request, by grant (§1.1 "Access token"). */
export const TokenRequestSchema = z.discriminatedUnion("grant_type", [
  z.object({
    grant_type: z.literal("password"),
    client_id: optional,
    client_secret: optional,
    username: optional,
    password: optional,
  }),
  z.object({
    grant_type: z.literal("refresh_token"),
    client_id: optional,
    client_secret: optional,
    refresh_token: optional,
  }),
]);
/** A parsed token request. */
export type TokenRequest = z.infer<typeof TokenRequestSchema>;

/** A successful token response (Keycloak's field set; §1.1 names the fields clients use). */
export const TokenResponseSchema = z.strictObject({
  access_token: z.string(),
  expires_in: z.number().int(),
  refresh_expires_in: z.number().int(),
  refresh_token: z.string(),
  token_type: z.literal("Bearer"),
  "not-before-policy": z.number().int(),
  session_state: z.string(),
  scope: z.string(),
});
/** A successful token response. */
export type TokenResponse = z.infer<typeof TokenResponseSchema>;

/** An OAuth2 error body as Keycloak sends it. */
export const OAuthErrorSchema = z.strictObject({
  error: z.string(),
  error_description: z.string(),
});
/** An OAuth2 error body. */
export type OAuthError = z.infer<typeof OAuthErrorSchema>;

// ---------------------------------------------------------------------------------------------
// Catalogues for realistic data.

/** `entity_type` values (§1.5, entity-type.ts); an open set on the wire. */
export const ENTITY_TYPES: readonly string[] = (
  "USER COMPANY SUPPORT_TICKET SUPPORT_TICKET_COMMENT SUPPORT_TICKET_ATTACHMENT IAAS_PRODUCT " +
  "IAAS_LOCATION IAAS_ORGANIZATION IAAS_VPG IAAS_VCC_FAILOVER_PLAN IAAS_DISASTER_RECOVERY_RUNBOOK " +
  "IAAS_CATALOG IAAS_MEDIA IAAS_VAPP_TEMPLATE IAAS_VAPP_TEMPLATE_VM IAAS_VDC IAAS_EDGE " +
  "IAAS_STORAGE_PROFILE IAAS_INTERNAL_NETWORK IAAS_VAPP IAAS_VAPP_NETWORK IAAS_VM " +
  "IAAS_PERSISTENT_DISK IAAS_BACKUP_GROUP VCC_BACKUP_PRODUCT VCC_BACKUP_LOCATION " +
  "VCC_BACKUP_TENANT VAC_BACKUP_JOB OBJECT_STORAGE_PRODUCT OBJECT_STORAGE_LOCATION ALERT TASK " +
  "O365_PRODUCT O365_LOCATION O365_ORGANIZATION O365_JOB O365_JOB_SESSION O365_RESTORE_SESSION " +
  "OBJECT_STORAGE_CEPH_PRODUCT OBJECT_STORAGE_CEPH_LOCATION OBJECT_STORAGE_CEPH_TENANT"
).split(" ");

/** A v4-shaped UUID drawn from `random` (deterministic for seeded demo runs). */
export function randomUuid(random: () => number): string {
  const hex = (n: number) => Math.floor(random() * n).toString(16);
  return "xxxxxxxx-xxxx-4xxx-yxxx-xxxxxxxxxxxx".replace(
    /[xy]/g,
    (c) => c === "x" ? hex(16) : (8 + Math.floor(random() * 4)).toString(16),
  );
}

/** The vCloud-style id iland gives IaaS entities: `<location>:urn:vcloud:<kind>:<uuid>`. */
export function vcloudId(location: string, kind: string, uuid: string): string {
  return `${location}:urn:vcloud:${kind}:${uuid}`;
}

// ---------------------------------------------------------------------------------------------
// Demo content: what emitRandom draws from (VM power and lifecycle, edge firewall/NAT, user
// sessions, org changes, and task updates, using §1.5 event types).

/** What {@link randomUpdate} needs from the simulator: who acts, where, and stable entity ids. */
export interface RandomContext {
  username: string;
  fullName: string;
  companyId: string;
  /** A stable vCloud id for (kind, name), so repeated events name the same entity. */
  entityId(kind: string, name: string): string;
}

/** One demo update: a partial EVENT or a partial running TASK, to be completed by defaults. */
export type RandomUpdate =
  | { type: "EVENT"; data: Partial<EventJson> }
  | { type: "TASK"; data: Partial<TaskJson> };

type Describe = (name: string, random: () => number) => string;
const ENTITIES = {
  vm: { entity_type: "IAAS_VM", kind: "vm", names: ["web01", "web02", "db01", "jump-host"] },
  edge: { entity_type: "IAAS_EDGE", kind: "gateway", names: ["edge-gw-prod", "edge-gw-dr"] },
  org: { entity_type: "IAAS_ORGANIZATION", kind: "org", names: ["prod", "dr"] },
} as const;
const FAMILIES: { entity: keyof typeof ENTITIES; types: [string, Describe][] }[] = [
  {
    entity: "vm",
    types: [[
      "VM_POWER_STATE_CHANGE",
      (n, r) => `Virtual machine ${n} powered ${r() < 0.5 ? "on" : "off"}`,
    ]],
  },
  {
    entity: "vm",
    types: [
      ["VM_CREATE", (n) => `Created virtual machine ${n}`],
      ["VM_MODIFY", (n, r) => `Updated CPU count of ${n} to ${2 ** Math.ceil(r() * 3)}`],
      [
        "VM_IP_ADDRESS_CHANGED",
        (n, r) => `IP address of ${n} changed to 10.20.0.${Math.ceil(r() * 250)}`,
      ],
    ],
  },
  {
    entity: "edge",
    types: [
      ["EDGE_FIREWALL_MODIFIED", (n) => `Firewall rules of ${n} updated`],
      ["EDGE_NAT_MODIFIED", (n) => `NAT rules of ${n} updated`],
    ],
  },
  {
    entity: "org",
    types: [
      ["ORG_MODIFY", (n) => `Organization ${n} updated`],
      ["ORG_BILLING_REPORT_GENERATE", (n) => `Billing report generated for ${n}`],
      [
        "ORG_ADD_DNS_RECORD",
        (n, r) => `Added DNS record host${Math.ceil(r() * 99)}.${n}.example.com`,
      ],
    ],
  },
];
const OPERATIONS = [
  ["power off", "Stopping Virtual Machine"],
  ["create snapshot", "Creating snapshot of Virtual Machine"],
  ["update firewall", "Updating firewall of"],
] as const;

/** Draws one realistic update; one in six is a USER session event, one in six a new task. */
export function randomUpdate(random: () => number, ctx: RandomContext): RandomUpdate {
  const actor = { initiated_by_username: ctx.username, initiated_by_full_name: ctx.fullName };
  // Rolls 0-3: company-owned events of the families above; 4: a USER event; 5: a new task.
  const roll = Math.floor(random() * 6);
  const family = FAMILIES[roll];
  if (family) {
    const entity = ENTITIES[family.entity];
    const [type, describe] = pick(random, family.types);
    const name = family.entity === "org"
      ? `${ctx.companyId}-${pick(random, entity.names)}`
      : pick(random, entity.names);
    return {
      type: "EVENT",
      data: {
        uuid: randomUuid(random),
        type,
        entity_uuid: ctx.entityId(entity.kind, name),
        entity_name: name,
        entity_type: entity.entity_type,
        owner_type: "COMPANY",
        owner_id: ctx.companyId,
        task_uuid: randomUuid(random),
        ...actor,
        details: describe(name, random),
      },
    };
  }
  if (roll === 4) {
    // §1.3: USER-owned events carry no task_uuid.
    return {
      type: "EVENT",
      data: {
        uuid: randomUuid(random),
        type: pick(random, ["USER_LOGIN", "USER_LOGOUT"]),
        entity_uuid: ctx.username,
        entity_name: ctx.username,
        entity_type: "USER",
        owner_type: "USER",
        owner_id: ctx.username,
        ...actor,
        details: `User ${ctx.username} session event`,
      },
    };
  }
  const [operation, verb] = pick(random, OPERATIONS);
  const vm = pick(random, ENTITIES.vm.names);
  return {
    type: "TASK",
    data: {
      uuid: randomUuid(random),
      company_id: ctx.companyId,
      status: "running",
      progress: Math.floor(random() * 90),
      operation,
      operation_description: `${verb} ${vm}`,
      entity_uuid: ctx.entityId("vm", vm),
      entity_name: vm,
      org_uuid: ctx.entityId("org", ctx.companyId),
      user_full_name: ctx.fullName,
      username: ctx.username,
    },
  };
}

/** A JWT-shaped opaque token (unsigned: nothing but the simulator ever reads it). */
export function fakeJwt(
  issuer: string,
  username: string,
  typ: string,
  iat: number,
  ttl: number,
): string {
  const b64 = (v: unknown) =>
    btoa(JSON.stringify(v)).replaceAll("+", "-").replaceAll("/", "_").replace(/=+$/, "");
  const claims = {
    exp: iat + ttl,
    iat,
    jti: crypto.randomUUID(),
    iss: issuer,
    typ,
    preferred_username: username,
  };
  return `${b64({ alg: "RS256", typ: "JWT" })}.${b64(claims)}.${b64(crypto.randomUUID())}`;
}
