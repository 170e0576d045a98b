/**
 * Kazoo wire shapes: the blackhole client/server frames (zod), Crossbar's auth endpoints
 * (`user_auth`, `api_auth`) with their request bodies and response envelopes, and builders for
 * realistic AMQP event payloads (call events from ecallmgr, document changes from kapi_conf)
 * before blackhole normalises them.
 *
 * Blackhole replies are `{"action":"reply","request_id",status,data}`; events are
 * `{"action":"event",subscribed_key,subscription_key,name,routing_key,data}` where `data` is
 * the AMQP payload with keys lower-cased and `-` turned into `_` (PROTOCOLS.md §4.3).
 *
 * @module
 */
import { createHash } from "node:crypto";
import { z } from "zod";
import {
  accountDb,
  accountModb,
  DOC_MODB_TYPES,
  encodeAmqp,
  type KazooAccount,
  type KazooUser,
  normalizeAccountName,
} from "./bindings.ts";

/**
 * One client frame as blackhole_socket_handler decodes it: a JSON object whose `action`
 * defaults to `"noop"` (PROTOCOLS.md §4.2). Anything else (a JSON array or scalar, a
 * non-string `action`) crashes the real handler, which the simulator turns into a drop.
 */
export const ClientFrame = z.looseObject({
  action: z.string().default("noop"),
  /** Checked by the authenticate step; its type decides the error text. */
  auth_token: z.unknown().optional(),
  /** Echoed verbatim in the reply; generated (32 hex) when absent. */
  request_id: z.unknown().optional(),
  /** `subscribe`/`unsubscribe`: `{account_id, binding}`. */
  data: z.unknown().optional(),
});
/** A decoded client frame. */
export type ClientFrame = z.infer<typeof ClientFrame>;

/** A reply to one client frame (blackhole_data_emitter:reply/4). */
export const ReplyFrame = z.object({
  action: z.literal("reply"),
  request_id: z.unknown(),
  status: z.enum(["success", "error"]),
  data: z.record(z.string(), z.unknown()),
});
/** A reply frame. */
export type ReplyFrame = z.infer<typeof ReplyFrame>;

/** An event pushed for one matching session binding (blackhole_data_emitter:event/4). */
export const EventFrame = z.object({
  action: z.literal("event"),
  subscribed_key: z.string(),
  subscription_key: z.string(),
  name: z.string(),
  routing_key: z.string(),
  data: z.record(z.string(), z.unknown()),
});
/** An event frame. */
export type EventFrame = z.infer<typeof EventFrame>;

/** Everything blackhole sends: replies and events, told apart by `action`. */
export const ServerFrame = z.discriminatedUnion("action", [ReplyFrame, EventFrame]);
/** A server frame. */
export type ServerFrame = z.infer<typeof ServerFrame>;

/** Checks an outbound frame against {@link ServerFrame} and serialises it. */
export function stringifyServerFrame(frame: ServerFrame): string {
  return JSON.stringify(ServerFrame.parse(frame));
}

/** `PUT /v2/user_auth` body (how_to_authenticate.md). */
export const UserAuthRequest = z.object({
  data: z.looseObject({
    /** md5 (or sha1 with `method: "sha"`) hex of `lower(user):pass`. */
    credentials: z.string(),
    account_name: z.string().optional(),
    account_realm: z.string().optional(),
  }),
  method: z.enum(["md5", "sha"]).optional(),
});
/** A user_auth request body. */
export type UserAuthRequest = z.infer<typeof UserAuthRequest>;

/** `PUT /v2/api_auth` body. */
export const ApiAuthRequest = z.object({ data: z.looseObject({ api_key: z.string() }) });
/** An api_auth request body. */
export type ApiAuthRequest = z.infer<typeof ApiAuthRequest>;

/**
 * kz_json:normalize_jobj/1: keys lower-cased with `-` -> `_`, recursively (arrays too);
 * values untouched.
 */
export function normalizeKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(normalizeKeys);
  if (value === null || typeof value !== "object") return value;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) {
    out[k.toLowerCase().replaceAll("-", "_")] = normalizeKeys(v);
  }
  return out;
}

/** Seconds between 0000-01-01 and 1970-01-01: Kazoo timestamps are gregorian seconds. */
const GREGORIAN_OFFSET = 62167219200;

/** `now` (ms since the epoch) as Kazoo's gregorian seconds. */
export function gregorianSeconds(now: number): number {
  return Math.floor(now / 1000) + GREGORIAN_OFFSET;
}

/** Random lower-case hex of `length` digits (Kazoo ids, msg ids, request ids). */
export function randomHex(length = 32): string {
  const bytes = crypto.getRandomValues(new Uint8Array(Math.ceil(length / 2)));
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("").slice(0, length);
}

/** Inputs for {@link callEventPayload}. */
export interface CallEventInput {
  accountId: string;
  /** `CHANNEL_CREATE`, `CHANNEL_ANSWER`, … */
  event: string;
  callId: string;
  /** AMQP-shaped overrides (`Caller-ID-Name`, `Custom-Channel-Vars`, …), merged last. */
  data?: Record<string, unknown>;
  now: number;
}

/**
 * A call event as ecallmgr publishes it (AMQP header style), and the routing key blackhole
 * gives it: `call.<ACCOUNT_ID>.<EVENT>.<encoded call id>` (blackhole_listener
 * handle_hook_event/3).
 */
export function callEventPayload(
  input: CallEventInput,
): { routingKey: string; payload: Record<string, unknown> } {
  const { accountId, event, callId, now } = input;
  const base: Record<string, unknown> = {
    "Event-Category": "call_event",
    "Event-Name": event,
    "App-Name": "ecallmgr",
    "App-Version": "4.3.0",
    "Msg-ID": randomHex(32),
    "Call-ID": callId,
    "Call-Direction": "inbound",
    "Caller-ID-Name": "Alice Example",
    "Caller-ID-Number": "+14155550100",
    "Callee-ID-Name": "Front Desk",
    "Callee-ID-Number": "1000",
    "Timestamp": gregorianSeconds(now),
    "Channel-State": event === "CHANNEL_DESTROY" ? "DESTROY" : "EXECUTE",
    "Custom-Channel-Vars": { "Account-ID": accountId, "Authorizing-Type": "device" },
  };
  if (event === "CHANNEL_ANSWER") base["Channel-Answer-State"] = "answered";
  if (event === "CHANNEL_DESTROY") {
    Object.assign(base, {
      "Hangup-Cause": "NORMAL_CLEARING",
      "Hangup-Code": "sip:200",
      "Duration-Seconds": 42,
      "Billing-Seconds": 37,
    });
  }
  return {
    routingKey: `call.${accountId}.${event}.${encodeAmqp(callId)}`,
    payload: { ...base, ...input.data },
  };
}

/** Inputs for {@link docChangePayload}. */
export interface DocChangeInput {
  accountId: string;
  /** `doc_created`, `doc_edited`, `doc_deleted`. */
  action: string;
  /** `user`, `device`, `callflow`, … (`fax`/`mailbox_message` live in the MODB). */
  type: string;
  id: string;
  data?: Record<string, unknown>;
  now: number;
}

/**
 * A document change as kapi_conf publishes it, with the routing key
 * `<action>.<db>.<type>.<encoded id>` (kz_amqp_util:document_routing_key/4).
 */
export function docChangePayload(
  input: DocChangeInput,
): { routingKey: string; payload: Record<string, unknown> } {
  const { accountId, action, type, id, now } = input;
  const db = DOC_MODB_TYPES.includes(type) ? accountModb(accountId, now) : accountDb(accountId);
  const stamp = gregorianSeconds(now);
  const payload: Record<string, unknown> = {
    "Event-Category": "configuration",
    "Event-Name": action,
    "App-Name": "kazoo_data",
    "App-Version": "4.3.0",
    "Msg-ID": randomHex(32),
    "ID": id,
    "Rev": `${action === "doc_created" ? 1 : 2}-${randomHex(32)}`,
    "Type": type,
    "Database": db,
    "Account-ID": accountId,
    "Date-Created": action === "doc_created" ? stamp : stamp - 86400,
    "Date-Modified": stamp,
    "Is-Soft-Deleted": false,
    ...input.data,
  };
  return { routingKey: `${action}.${db}.${type}.${encodeAmqp(id)}`, payload };
}

/** Crossbar's version string in response envelopes. */
export const CROSSBAR_VERSION = "4.3.23";

/** A Crossbar JSON response: `body` inside the usual envelope fields. */
export function crossbarReply(status: number, body: Record<string, unknown>): Response {
  return Response.json({
    auth_token: "",
    revision: "automatic",
    timestamp: new Date().toISOString().replace(/\.\d+Z$/, "Z"),
    version: CROSSBAR_VERSION,
    node: "kazoo-sim",
    request_id: randomHex(32),
    ...body,
  }, { status });
}

/** Crossbar's 401 for bad credentials. */
export function invalidCredentials(): Response {
  return crossbarReply(401, {
    data: { message: "invalid credentials" },
    error: "401",
    message: "invalid credentials",
    status: "error",
  });
}

/** Crossbar's 400 for a request body without a required field. */
export function missingField(field: string): Response {
  return crossbarReply(400, {
    data: { [field]: { required: { message: "Field is required but missing" } } },
    error: "400",
    message: "invalid request",
    status: "error",
  });
}

/** The user_auth `credentials` value: md5 (or sha1) hex of `lower(username):password`. */
export function credentialsHash(
  username: string,
  password: string,
  method: "md5" | "sha" = "md5",
): string {
  return createHash(method === "sha" ? "sha1" : "md5")
    .update(`${username.toLowerCase()}:${password}`)
    .digest("hex");
}

/**
 * A JWT-shaped auth token (`header.claims.signature`, base64url) like kazoo_auth issues; the
 * signature is random, so only the simulator's token table makes it valid.
 */
export function mintToken(claims: { account_id: string; owner_id?: string; exp: number }): string {
  const b64url = (text: string) =>
    btoa(text).replaceAll("+", "-").replaceAll("/", "_").replace(/=+$/, "");
  const header = b64url(JSON.stringify({ alg: "RS256", typ: "JWT" }));
  const body = b64url(JSON.stringify({ iss: "kazoo", method: "cb_user_auth", ...claims }));
  return `${header}.${body}.${b64url(randomHex(64))}`;
}

/** Caller names and numbers for demo calls. */
export const DEMO_CALLERS: readonly (readonly [string, string])[] = [
  ["Alice Johnson", "+14155550101"],
  ["Bob Martinez", "+14155550102"],
  ["Carol Nguyen", "+12125550147"],
  ["Front Desk", "1000"],
  ["Sales Queue", "2001"],
  ["Dave O'Brien", "+442079460958"],
];

/** `length` hex digits drawn from `random` (deterministic demo ids). */
export function hexFrom(random: () => number, length: number): string {
  return Array.from({ length }, () => Math.floor(random() * 16).toString(16)).join("");
}

/** What {@link crossbarAuth} needs to know about accounts, users and tokens. */
export interface CrossbarDirectory {
  /** The account tree; the first entry is the master (reseller) account. */
  accounts: readonly KazooAccount[];
  users: readonly KazooUser[];
  /** Fault knob: refuse every login. */
  rejectCredentials: boolean;
  issueToken(options: { accountId: string; superDuperAdmin: boolean }): string;
}

/**
 * Crossbar's auth endpoints (PROTOCOLS.md §4.1): `PUT /v2/user_auth` and `PUT /v2/api_auth`
 * answer 201 with `auth_token` and `data.account_id`, or 401 `invalid credentials`.
 */
export async function crossbarAuth(req: Request, dir: CrossbarDirectory): Promise<Response> {
  const path = new URL(req.url).pathname.replace(/\/+$/, "");
  if (path !== "/v2/user_auth" && path !== "/v2/api_auth") {
    return crossbarReply(404, { status: "error", error: "404", message: "bad_identifier" });
  }
  if (req.method !== "PUT") {
    return crossbarReply(405, { status: "error", error: "405", message: "method_not_allowed" });
  }
  const body: unknown = await req.json().catch(() => undefined);
  return path === "/v2/user_auth" ? userAuth(body, dir) : apiAuth(body, dir);
}

/** md5 (or sha1) of `lower(user):pass`, plus `account_name` or `account_realm`. */
function userAuth(body: unknown, dir: CrossbarDirectory): Response {
  const parsed = UserAuthRequest.safeParse(body);
  if (!parsed.success) return missingField("credentials");
  const { credentials, account_name: name, account_realm: realm } = parsed.data.data;
  const method = parsed.data.method ?? "md5";
  const user = dir.rejectCredentials ? undefined : dir.users.find((u) => {
    const account = dir.accounts.find((a) => a.id === u.accountId);
    const named =
      (name !== undefined && normalizeAccountName(name) === normalizeAccountName(account?.name)) ||
      (realm !== undefined && realm.toLowerCase() === account?.realm?.toLowerCase());
    return named && credentialsHash(u.username, u.password, method) === credentials.toLowerCase();
  });
  if (!user) return invalidCredentials();
  const token = dir.issueToken({
    accountId: user.accountId,
    superDuperAdmin: user.superDuperAdmin ?? false,
  });
  return authOk(dir, token, user.accountId, { owner_id: user.ownerId ?? randomHex(32) });
}

function apiAuth(body: unknown, dir: CrossbarDirectory): Response {
  const parsed = ApiAuthRequest.safeParse(body);
  if (!parsed.success) return missingField("api_key");
  const key = parsed.data.data.api_key;
  const account = dir.rejectCredentials
    ? undefined
    : dir.accounts.find((a) => a.apiKey !== undefined && a.apiKey === key);
  if (!account) return invalidCredentials();
  const token = dir.issueToken({ accountId: account.id, superDuperAdmin: false });
  return authOk(dir, token, account.id, {});
}

function authOk(
  dir: CrossbarDirectory,
  token: string,
  accountId: string,
  extra: Record<string, unknown>,
): Response {
  const account = dir.accounts.find((a) => a.id === accountId);
  const master = dir.accounts[0]?.id;
  return crossbarReply(201, {
    auth_token: token,
    data: {
      account_id: accountId,
      ...extra,
      reseller_id: master,
      is_reseller: accountId === master,
      account_name: account?.name,
      language: "en-US",
      apps: [],
    },
    status: "success",
  });
}
