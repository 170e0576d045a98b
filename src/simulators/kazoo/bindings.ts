/**
 * Kazoo blackhole binding rules (4.3 code behaviour), shared by the simulator: how each module
 * validates a client binding, which internal AMQP-style keys a binding subscribes to, how a
 * routing key matches those keys, and the account tree that authorizes a subscription.
 *
 * A client binding is `<module>.<keys...>`; the module (first segment) picks the validator and
 * the key builder (PROTOCOLS.md §4.4). Internal keys carry the account (`call.<ACCOUNT_ID>.…`,
 * `<action>.<account db>.<type>.*`), and events are delivered when their routing key matches an
 * internal key with AMQP rules: `*` is exactly one dot-segment, `#` zero or more.
 *
 * @module
 */

/** Call events bh_call listens to; `call.*.<CALL_ID>` expands to all nine (PROTOCOLS.md §4.4). */
export const CALL_EVENTS = [
  "CHANNEL_CREATE",
  "CHANNEL_ANSWER",
  "CHANNEL_DESTROY",
  "CHANNEL_HOLD",
  "CHANNEL_UNHOLD",
  "CHANNEL_BRIDGE",
  "PARK_PARKED",
  "PARK_RETRIEVED",
  "PARK_ABANDONED",
] as const;
/** One of {@link CALL_EVENTS}. */
export type CallEventName = typeof CALL_EVENTS[number];

/** Document actions (kapi_conf.hrl `DOC_ACTIONS`). */
export const DOC_ACTIONS = ["doc_created", "doc_edited", "doc_deleted"] as const;
/** One of {@link DOC_ACTIONS}. */
export type DocAction = typeof DOC_ACTIONS[number];

/** Document types bh_object accepts (doc_types.hrl `DOC_TYPES`). */
export const DOC_TYPES = [
  "account",
  "callflow",
  "device",
  "faxbox",
  "media",
  "user",
  "vmbox",
  "fax",
  "mailbox_message",
  "call_recording",
] as const;
/** One of {@link DOC_TYPES}. */
export type DocType = typeof DOC_TYPES[number];

/** Types stored in the account's monthly database (doc_types.hrl `DOC_MODB_TYPES`). */
export const DOC_MODB_TYPES: readonly string[] = ["fax", "mailbox_message"];

/** Conference events accepted in `conference.event.<CONF_ID>.*.<EVENT>` (PROTOCOLS.md §4.4). */
export const CONFERENCE_EVENTS: readonly string[] = [
  "conference-create",
  "conference-destroy",
  "lock",
  "unlock",
  "add-member",
  "del-member",
  "stop-talking",
  "start-talking",
  "mute-member",
  "unmute-member",
  "deaf-member",
  "undeaf-member",
  "*",
];

/** What a valid client binding subscribes to. */
export interface BindingPlan {
  /** The client binding as echoed in `subscribed` and `subscribed_key`. */
  requested: string;
  /** Internal AMQP-style keys; one session binding (and one `subscribed` entry) each. */
  subscribed: string[];
}

const has = (list: readonly string[], value: string) => list.includes(value);

/** kz_binary:join/1: the separator is ", ". */
const join = (keys: readonly string[]) => keys.join(", ");

/**
 * Module-level validation of a client binding. Returns the vendor's error text, or `undefined`
 * when the binding is acceptable *or* no module claims it (that case fails later, at the
 * command step, with `no available subscriptions to requested binding`).
 */
export function validateBinding(binding: string): string | undefined {
  // bh_events: `[Key | Keys] = binary:split(Binding, <<".">>, [global])`.
  const [module, ...keys] = binding.split(".");
  switch (module) {
    case "call": {
      // bh_call:validate/2: exactly `[Event, CallId]`; Event `*` or one of the nine.
      const [event] = keys;
      if (keys.length !== 2 || event === undefined) {
        return `invalid format for call subscription : ${join(keys)}`;
      }
      if (event === "*" || has(CALL_EVENTS, event)) return undefined;
      return `event ${event} not supported`;
    }
    case "object": {
      // bh_object:validate/2 (4.3): `[Action, Type]`, each `*` or a known value.
      const [action, type] = keys;
      if (keys.length !== 2 || action === undefined || type === undefined) {
        return `invalid format for object subscription : ${join(keys)}`;
      }
      if (action === "*" && type === "*") return undefined;
      if (type === "*") {
        return has(DOC_ACTIONS, action) ? undefined : `event ${action}.* not supported`;
      }
      if (action === "*") {
        return has(DOC_TYPES, type) ? undefined : `event *.${type} not supported`;
      }
      return has(DOC_ACTIONS, action) && has(DOC_TYPES, type)
        ? undefined
        : `event ${action}.${type} not supported`;
    }
    case "fax": {
      // bh_fax:validate/2: `status.<FAX_ID>` or `object.<ACTION>`; neither slot is checked.
      const [kind] = keys;
      if (keys.length === 2 && (kind === "status" || kind === "object")) return undefined;
      return `invalid format for fax subscription : ${join(keys)}`;
    }
    case "conference":
      return validateConference(keys);
    default:
      // No bh_* module bound to `blackhole.events.validate.<Key>`: the map is empty -> ok.
      // That includes `presence` (4.3 has no bh_presence) and README-style `doc_created.*`.
      return undefined;
  }
}

/** PROTOCOLS.md §4.4 conference row: CONF_ID must not be `*`; the call-id slot must be `*`. */
function validateConference(keys: string[]): string | undefined {
  const [kind, conferenceId, callSlot, event] = keys;
  const invalid = `invalid format for conference subscription : ${join(keys)}`;
  if (kind === "command" && keys.length === 2) {
    return conferenceId === "*" ? "ConferenceId required" : undefined;
  }
  if (kind !== "event" || (keys.length !== 3 && keys.length !== 4)) return invalid;
  if (conferenceId === "*") return "ConferenceId required";
  // [inferred] a specific call id in the call slot is not a documented shape.
  if (callSlot !== "*") return invalid;
  if (event !== undefined && !CONFERENCE_EVENTS.includes(event)) {
    return `Unsupported conference event ${event}`;
  }
  return undefined;
}

/**
 * The internal keys a (validated) client binding subscribes for `accountId`, or `undefined`
 * when no module handles it (-> `no available subscriptions to requested binding`).
 * `now` picks the monthly database for MODB-backed types (kazoo_modb:get_modb/1).
 */
export function planBinding(
  binding: string,
  options: { accountId: string; now: number },
): BindingPlan | undefined {
  const { accountId, now } = options;
  const [module, ...keys] = binding.split(".");
  const [first = "", second = "", third, fourth] = keys;
  switch (module) {
    case "call": {
      // bh_call:bindings/2: `*` expands to one key per event, all under the same request.
      const events = first === "*" ? CALL_EVENTS : [first];
      return {
        requested: `call.${first}.${second}`,
        subscribed: events.map((e) => `call.${accountId}.${e}.${second}`),
      };
    }
    case "object": {
      // bh_object:bindings/2: account DB and/or MODB doc-change keys `<action>.<db>.<type>.*`.
      const [action, type] = [first, second];
      const db = accountDb(accountId);
      const modb = accountModb(accountId, now);
      const subscribed = type === "*"
        ? [`${action}.${db}.*.*`, `${action}.${modb}.*.*`]
        : [`${action}.${DOC_MODB_TYPES.includes(type) ? modb : db}.${type}.*`];
      return { requested: `object.${action}.${type}`, subscribed };
    }
    case "fax":
      // bh_fax:bindings/2.
      return first === "status"
        ? { requested: `fax.status.${second}`, subscribed: [`fax.status.${accountId}.${second}`] }
        : {
          requested: `fax.object.${second}`,
          subscribed: [`${second}.${accountModb(accountId, now)}.fax.*`],
        };
    case "conference": {
      if (first === "command") {
        // bh_conference: command keys carry no account.
        return { requested: binding, subscribed: [`conference.command.${second}`] };
      }
      // [inferred] internal shape `conference.event.<ACCOUNT>.<CONF>.<CALL>.<EVENT>`.
      const event = fourth ?? "*";
      return {
        requested: binding,
        subscribed: [`conference.event.${accountId}.${second}.${third ?? "*"}.${event}`],
      };
    }
    default:
      return undefined;
  }
}

/**
 * AMQP topic matching as blackhole_bindings does it: `*` matches exactly one segment, `#`
 * zero or more; everything else must be equal.
 */
export function amqpMatch(pattern: string, routingKey: string): boolean {
  return matchSegments(pattern.split("."), 0, routingKey.split("."), 0);
}

function matchSegments(p: string[], i: number, k: string[], j: number): boolean {
  if (i === p.length) return j === k.length;
  const seg = p[i];
  if (seg === "#") {
    // Zero or more: try every possible tail.
    for (let n = j; n <= k.length; n++) if (matchSegments(p, i + 1, k, n)) return true;
    return false;
  }
  if (j === k.length) return false;
  if (seg !== "*" && seg !== k[j]) return false;
  return matchSegments(p, i + 1, k, j + 1);
}

/**
 * kz_amqp_util:encode/1: makes a value safe as one routing-key segment (call ids may hold
 * dots); `*` alone stays a wildcard.
 */
export function encodeAmqp(value: string): string {
  if (value === "*") return value;
  return value.replaceAll(".", "%2E").replaceAll("*", "%2A").replaceAll("#", "%23");
}

/** kz_util:format_account_db/1 (encoded form): `account%2Fab%2Fcd%2Fefgh…`. */
export function accountDb(accountId: string): string {
  if (accountId === "*") return "*";
  return `account%2F${accountId.slice(0, 2)}%2F${accountId.slice(2, 4)}%2F${accountId.slice(4)}`;
}

/** kazoo_modb:get_modb/1: the account DB suffixed with `-YYYYMM` of `now` (UTC). */
export function accountModb(accountId: string, now: number): string {
  if (accountId === "*") return "*";
  const d = new Date(now);
  const month = String(d.getUTCMonth() + 1).padStart(2, "0");
  return `${accountDb(accountId)}-${d.getUTCFullYear()}${month}`;
}

/** One session binding: the client binding and one internal AMQP-style key it expanded to. */
export interface KazooSubscription {
  binding: string;
  key: string;
}

/** Everything {@link subscriptionCommand} needs from the socket and the token. */
export interface SubscriptionRequest {
  action: "subscribe" | "unsubscribe";
  /** The frame's `data` as received. */
  data: unknown;
  /** The socket's current bindings (not modified). */
  bindings: readonly KazooSubscription[];
  /** The pinned (or just authenticated) account. */
  authAccountId: string;
  superDuperAdmin: boolean;
  /** Whether `accountId` is `authAccountId` or one of its descendants. */
  inHierarchy(accountId: unknown): boolean;
  now: number;
}

/** The result of a subscription action: new bindings and reply data, an error text, or a crash. */
export type SubscriptionResult =
  | { ok: true; bindings: KazooSubscription[]; data: Record<string, unknown> }
  | { ok: false; error: string }
  | "crash";

/**
 * bh_events validate -> authorize -> subscribe/unsubscribe for one frame (PROTOCOLS.md §4.2-§4.4),
 * as a pure function over the socket's bindings.
 */
export function subscriptionCommand(req: SubscriptionRequest): SubscriptionResult {
  const data = req.data;
  // bh_events:validate/2: data must have keys, then both SUBSCRIBE_KEYS.
  if (typeof data !== "object" || data === null || Array.isArray(data)) {
    return { ok: false, error: "missing required keys in data object" };
  }
  if (Object.keys(data).length === 0) {
    return { ok: false, error: "missing required keys in data object" };
  }
  const missing = ["account_id", "binding"].filter((k) => !(k in data));
  if (missing.length > 0) {
    return { ok: false, error: `missing required keys : ${missing.join(", ")}` };
  }
  const { account_id: accountId, binding } = data as Record<string, unknown>;
  // §4.2: binary:split/3 on a non-string binding crashes the handler -> drop, no reply.
  if (typeof binding !== "string") return "crash";
  const invalid = validateBinding(binding);
  if (invalid) return { ok: false, error: invalid };
  if (req.action === "subscribe") {
    // bh_authz_subscribe (subscribe only): own account or a descendant; `*` for super-duper admins.
    if (accountId === "*" && !req.superDuperAdmin) {
      return { ok: false, error: "unauthorized wildcard account id" };
    }
    if (accountId !== "*" && !req.inHierarchy(accountId)) {
      return { ok: false, error: "unauthorized account id" };
    }
  }
  // [inferred] building keys from a non-string account id crashes like the binding split does.
  if (typeof accountId !== "string") return "crash";
  const plan = planBinding(binding, { accountId, now: req.now });
  if (!plan) return { ok: false, error: "no available subscriptions to requested binding" };
  const pairs = plan.subscribed.map((key) => ({ binding: plan.requested, key }));
  const same = (a: KazooSubscription) => (b: KazooSubscription) =>
    a.binding === b.binding && a.key === b.key;
  if (req.action === "subscribe") {
    // §4.3: re-subscribing is idempotent (only missing pairs are added); the reply lists every
    // session binding's client string, one per internal key (`call.*.*` appears 9 times).
    const bindings = [...req.bindings, ...pairs.filter((p) => !req.bindings.some(same(p)))];
    return { ok: true, bindings, data: { subscribed: bindings.map((b) => b.binding) } };
  }
  // §4.3: unsubscribing an unknown binding still succeeds and lists it under `unsubscribed`.
  // No authorization here: bh_events binds authorize for subscribe only.
  const bindings = req.bindings.filter((b) => !pairs.some(same(b)));
  const subscribed = bindings.map((b) => b.binding);
  return { ok: true, bindings, data: { unsubscribed: [plan.requested], subscribed } };
}

/** One account in the simulated hierarchy. */
export interface KazooAccount {
  /** 32 lower-case hex digits. */
  id: string;
  name: string;
  realm?: string;
  /** Absent for the master (root) account. */
  parentId?: string;
  /** Enables `PUT /v2/api_auth` for this account. */
  apiKey?: string;
}

/** A Crossbar user that can log in with `user_auth`. */
export interface KazooUser {
  username: string;
  password: string;
  accountId: string;
  ownerId?: string;
  /** May subscribe with `account_id: "*"` (PROTOCOLS.md §4.4). */
  superDuperAdmin?: boolean;
}

/** master -> {Acme Corp -> Acme East, Globex}. */
export const DEFAULT_ACCOUNTS: readonly KazooAccount[] = [
  {
    id: "6b71cb72c876b5b1396a335f8f8a2594",
    name: "master",
    realm: "master.sip.example.com",
    apiKey: "3f5c0a5e9d1b4c7a8e2f6d0b9a7c5e3f1d2b4a6c8e0f9d7b5a3c1e2f4d6b8a0c",
  },
  {
    id: "3a3c5b8e1c2d4f6a8b0c9d7e5f4a3b21",
    name: "Acme Corp",
    realm: "acme.sip.example.com",
    parentId: "6b71cb72c876b5b1396a335f8f8a2594",
  },
  {
    id: "9e8d7c6b5a4f3e2d1c0b9a8f7e6d5c4b",
    name: "Acme East",
    parentId: "3a3c5b8e1c2d4f6a8b0c9d7e5f4a3b21",
  },
  {
    id: "0f1e2d3c4b5a69788796a5b4c3d2e1f0",
    name: "Globex",
    parentId: "6b71cb72c876b5b1396a335f8f8a2594",
  },
];

/**
 * kzd_accounts:is_in_account_hierarchy/3 with `IncludeSelf`: whether `accountId` is
 * `authAccountId` or one of its descendants in `accounts`.
 */
export function inHierarchy(
  accounts: readonly KazooAccount[],
  authAccountId: string,
  accountId: unknown,
): boolean {
  let account = accounts.find((a) => a.id === accountId);
  while (account) {
    if (account.id === authAccountId) return true;
    const parentId = account.parentId;
    account = parentId === undefined ? undefined : accounts.find((a) => a.id === parentId);
  }
  return false;
}

/** kzd_accounts:normalize_name/1: lower-case, letters and digits only. */
export function normalizeAccountName(name: string | undefined): string {
  return (name ?? "").toLowerCase().replace(/[^a-z0-9]/g, "");
}
