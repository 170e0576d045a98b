/**
 * Wire formats of the Webinate "users" server socket API, both generations, as the
 * simulator speaks them (PROTOCOLS.md §3.2–3.3; seeds/webinate-users-websocket.txt).
 *
 * - Gen A (`MKHenson/users` ≤ 8862f53): every frame carries a numeric `eventType`. Clients
 *   may send Echo (10) and MetaRequest (9); the server broadcasts user/file/bucket events 1–8.
 * - Gen B (508cc8e → `Webinate/mantle`): the same events named by a string `type`; clients
 *   may only send `MetaRequest`.
 *
 * Inbound schemas are deliberately loose (`z.unknown()` payload fields): the real server
 * never validates a frame beyond looking up its type, so neither may the simulator.
 *
 * @module
 */
import { z } from "zod";
import { pick } from "../vendor_simulator.ts";

/** Gen A `EventType` enum (PROTOCOLS.md §3.3; socket-event-types.ts @8862f53). */
export const WEBINATE_EVENT_TYPE = {
  Login: 1,
  Logout: 2,
  Activated: 3,
  Removed: 4,
  FileUploaded: 5,
  FileRemoved: 6,
  BucketUploaded: 7,
  BucketRemoved: 8,
  MetaRequest: 9,
  Echo: 10,
} as const;
/** A name of {@link WEBINATE_EVENT_TYPE}; Gen B sends these names as `type`. */
export type WebinateEventName = keyof typeof WEBINATE_EVENT_TYPE;

// ---- client → server -------------------------------------------------------------------

// PROTOCOLS.md §3.2 [code]: Gen A dispatches on `EventType[event.eventType]`, a TS numeric
// enum lookup, so the digit string "10" reaches the Echo handler just as 10 does.
/** Gen A Echo request: `{"eventType":10,"message":…,"broadcast"?:bool}`. */
export const genAEchoFrame = z.object({
  eventType: z.literal([10, "10"]),
  message: z.unknown().optional(),
  broadcast: z.unknown().optional(),
});

/** Gen A MetaRequest: `{"eventType":9,"username":…,"property"?:…,"val"?:…}`. */
export const genAMetaFrame = z.object({
  eventType: z.literal([9, "9"]),
  username: z.unknown().optional(),
  property: z.unknown().optional(),
  val: z.unknown().optional(),
});

/** The Gen A frames the server reacts to; anything else gets no reply (§3.2). */
export const genAClientFrame = z.discriminatedUnion("eventType", [genAEchoFrame, genAMetaFrame]);
/** A Gen A client frame the server handles. */
export type GenAClientFrame = z.infer<typeof genAClientFrame>;
/** The MetaRequest part of {@link GenAClientFrame}. */
export type GenAMetaFrame = z.infer<typeof genAMetaFrame>;

/** Gen B MetaRequest: `{"type":"MetaRequest","username":…,"property"?:…,"val"?:…}` (§3.2). */
export const genBMetaFrame = z.object({
  type: z.literal("MetaRequest"),
  username: z.unknown().optional(),
  property: z.unknown().optional(),
  val: z.unknown().optional(),
});
/** The Gen B frames the server reacts to (only MetaRequest; Echo no longer exists). */
export const genBClientFrame = z.discriminatedUnion("type", [genBMetaFrame]);
/** A Gen B client frame the server handles. */
export type GenBClientFrame = z.infer<typeof genBClientFrame>;

// ---- server → client -------------------------------------------------------------------

/** A file entry as the server serialises it (§3.3; `IFileEntry`, bucket-manager.ts). */
export const webinateFile = z.object({
  _id: z.string(),
  name: z.string(),
  user: z.string(),
  identifier: z.string(),
  bucketId: z.string(),
  bucketName: z.string(),
  publicURL: z.string(),
  created: z.number(),
  size: z.number(),
  mimeType: z.string(),
  isPublic: z.boolean(),
  numDownloads: z.number(),
  parentFile: z.string().nullable(),
  meta: z.record(z.string(), z.unknown()),
});
/** A file object inside FileUploaded/FileRemoved. */
export type WebinateFile = z.infer<typeof webinateFile>;

/** A bucket entry as the server serialises it (§3.3; `IBucketEntry`). */
export const webinateBucket = z.object({
  _id: z.string(),
  name: z.string(),
  identifier: z.string(),
  user: z.string(),
  created: z.number(),
  memoryUsed: z.number(),
  meta: z.record(z.string(), z.unknown()),
});
/** A bucket object inside BucketUploaded/BucketRemoved. */
export type WebinateBucket = z.infer<typeof webinateBucket>;

const username = z.string();
const userEventA = <T extends 1 | 2 | 3 | 4>(eventType: T) =>
  z.object({ eventType: z.literal(eventType), username });

/** Gen A server events 1–8 (§3.3 table); `FileRemoved`/`BucketRemoved` carry no username. */
export const genAServerEvent = z.discriminatedUnion("eventType", [
  userEventA(1),
  userEventA(2),
  userEventA(3),
  userEventA(4),
  z.object({ eventType: z.literal(5), username, file: webinateFile }),
  z.object({ eventType: z.literal(6), file: webinateFile }),
  z.object({ eventType: z.literal(7), username, bucket: webinateBucket }),
  z.object({ eventType: z.literal(8), bucket: webinateBucket }),
]);
/** A Gen A server event frame. */
export type GenAServerEvent = z.infer<typeof genAServerEvent>;

const userEventB = <T extends "Login" | "Logout" | "Activated" | "Removed">(type: T) =>
  z.object({ type: z.literal(type), username });

/**
 * Gen B server events (§3.3): names instead of numbers, and every event carries the
 * username it is about, because delivery is targeted by it (§3.4).
 */
export const genBServerEvent = z.discriminatedUnion("type", [
  userEventB("Login"),
  userEventB("Logout"),
  userEventB("Activated"),
  userEventB("Removed"),
  z.object({ type: z.literal("FileUploaded"), username, file: webinateFile }),
  z.object({ type: z.literal("FileRemoved"), username, file: webinateFile }),
  z.object({ type: z.literal("BucketUploaded"), username, bucket: webinateBucket }),
  z.object({ type: z.literal("BucketRemoved"), username, bucket: webinateBucket }),
]);
/** A Gen B server event frame. */
export type GenBServerEvent = z.infer<typeof genBServerEvent>;

// ---- what tests and demo mode hand to `emit()` -----------------------------------------

/** A server event to emit, by name; missing fields get realistic defaults. */
export type WebinateEventInput =
  | { type: "Login" | "Logout" | "Activated" | "Removed"; username?: string }
  | { type: "FileUploaded" | "FileRemoved"; username?: string; file?: Partial<WebinateFile> }
  | {
    type: "BucketUploaded" | "BucketRemoved";
    username?: string;
    bucket?: Partial<WebinateBucket>;
  };

const ALNUM = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";

/** `len` characters drawn from `alphabet` with `random`. */
export function randomString(random: () => number, len: number, alphabet = ALNUM): string {
  let text = "";
  for (let i = 0; i < len; i++) text += alphabet.charAt(Math.floor(random() * alphabet.length));
  return text;
}

/** A MongoDB ObjectId as the server's JSON shows it: 24 lowercase hex digits. */
export function objectId(random: () => number): string {
  return randomString(random, 24, "0123456789abcdef");
}

/** Fills a bucket the way `createBucket(username + "-bucket", username)` would. */
export function buildBucket(
  user: string,
  partial: Partial<WebinateBucket>,
  random: () => number,
  now: number,
): WebinateBucket {
  return {
    _id: objectId(random),
    name: `${user}-bucket`,
    identifier: `webinate-${randomString(random, 10, "abcdefghijklmnopqrstuvwxyz0123456789")}`,
    user,
    created: now,
    memoryUsed: 0,
    meta: {},
    ...partial,
  };
}

/**
 * Fills a file the way the upload path registers one: `bucketId` is the bucket's
 * identifier, `publicURL` the Google Storage URL, `parentFile` null (bucket-manager.ts).
 */
export function buildFile(
  user: string,
  partial: Partial<WebinateFile>,
  random: () => number,
  now: number,
): WebinateFile {
  const bucketId = partial.bucketId ??
    `webinate-${randomString(random, 10, "abcdefghijklmnopqrstuvwxyz0123456789")}`;
  const identifier = partial.identifier ?? randomString(random, 16);
  return {
    _id: objectId(random),
    name: "avatar.png",
    user,
    identifier,
    bucketId,
    bucketName: `${user}-bucket`,
    publicURL: `https://storage.googleapis.com/${bucketId}/${identifier}`,
    created: now,
    size: 48213,
    mimeType: "image/png",
    isPublic: true,
    numDownloads: 0,
    parentFile: null,
    meta: {},
    ...partial,
  };
}

/** An event frame ready to send, with the entities it carries. */
export interface BuiltServerEvent {
  frame: Record<string, unknown>;
  /** The user the event is about (Gen B delivery target). */
  username: string;
  file?: WebinateFile;
  bucket?: WebinateBucket;
}

/**
 * Fills `event` with defaults and shapes it for `generation`, validated against
 * {@link genAServerEvent} / {@link genBServerEvent} before anything is sent.
 */
export function buildServerEvent(
  generation: "A" | "B",
  event: WebinateEventInput,
  defaults: { username: string; random: () => number; now: number },
): BuiltServerEvent {
  const { random, now } = defaults;
  const out: BuiltServerEvent = { frame: {}, username: defaults.username };
  const body: Record<string, unknown> = {};
  if (event.type === "FileUploaded" || event.type === "FileRemoved") {
    out.file = buildFile(out.username, event.file ?? {}, random, now);
    out.username = out.file.user;
    body.file = out.file;
  } else if (event.type === "BucketUploaded" || event.type === "BucketRemoved") {
    out.bucket = buildBucket(out.username, event.bucket ?? {}, random, now);
    out.username = out.bucket.user;
    body.bucket = out.bucket;
  }
  if (generation === "A") {
    // §3.3: FileRemoved (6) and BucketRemoved (8) carry no username in Gen A.
    const removed = event.type === "FileRemoved" || event.type === "BucketRemoved";
    out.frame = genAServerEvent.parse({
      eventType: WEBINATE_EVENT_TYPE[event.type],
      ...(removed ? {} : { username: out.username }),
      ...body,
    });
  } else {
    // §3.3 Gen B: every token names its user (users.ts / bucket-manager.ts @HEAD).
    out.frame = genBServerEvent.parse({ type: event.type, ...body, username: out.username });
  }
  return out;
}

/** The result of a MetaRequest: the `val` to return or the `error` text. */
export type MetaOutcome = { ok: true; val: unknown } | { ok: false; error: string };

/**
 * socket-api.ts `onMeta` over an in-memory user table (username → meta), PROTOCOLS.md §3.2:
 * property+val sets one key (→ true), property alone gets it, a truthy val alone replaces
 * the whole meta (→ true), neither gets all. Gen A answers `err.toString()` (thrown Errors
 * read "Error: …", the rejected "Could not find user" string does not) and checks no
 * permission; Gen B answers `err.message` and requires an authorised third party, checked
 * after the user lookup.
 */
export function applyMetaRequest(
  users: Map<string, unknown>,
  frame: GenAMetaFrame | GenBClientFrame,
  context: { generation: "A" | "B"; thirdParty: boolean },
): MetaOutcome {
  const fail = (message: string, isError = true): MetaOutcome => ({
    ok: false,
    error: context.generation === "A" && isError ? `Error: ${message}` : message,
  });
  // users.ts getUser: validator.trim() stringifies (undefined → ""), then validates.
  const name = validatorString(frame.username).trim();
  if (name === "") return fail("Please enter a valid username");
  if (!/^[0-9A-Z]+$/i.test(name) && !/^[^\s@]+@[^\s@]+\.[^\s@]+$/.test(name)) {
    return fail("Please only use alpha numeric characters for your username");
  }
  if (!users.has(name)) return fail(`Could not find user ${String(frame.username)}`, false);
  if (context.generation === "B" && !context.thirdParty) {
    return fail("You do not have permission to make this request");
  }
  const meta = users.get(name);
  const { property, val } = frame;
  if (property && val !== undefined) {
    const next = isRecord(meta) ? meta : {};
    next[String(property)] = val;
    users.set(name, next);
    return { ok: true, val: true };
  }
  // `Object()` keeps JS indexing semantics for a non-object meta, as `meta[name]` would.
  if (property) return { ok: true, val: Object(meta)[String(property)] };
  if (val) {
    users.set(name, val);
    return { ok: true, val: true };
  }
  return { ok: true, val: meta };
}

/** validator@4 `toString`: null/undefined/NaN → "", anything else via String(). */
function validatorString(input: unknown): string {
  if (input === null || input === undefined) return "";
  if (typeof input === "number" && Number.isNaN(input)) return "";
  return String(input);
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** Usernames demo mode plays with (alphanumeric, as `getUser` demands). */
export const DEMO_USERS = ["alice", "bjones", "carol88", "dmitri", "erin"] as const;
const DEMO_FILES = [
  { name: "avatar.png", mimeType: "image/png", size: 48213 },
  { name: "screenshot-0412.png", mimeType: "image/png", size: 731044 },
  { name: "invoice-2016-07.pdf", mimeType: "application/pdf", size: 88120 },
  { name: "contract-signed.pdf", mimeType: "application/pdf", size: 1204551 },
  { name: "holiday.jpg", mimeType: "image/jpeg", size: 2250871 },
] as const;

/**
 * One plausible event for demo mode: mostly logins/logouts and uploads; removals take
 * (and drop) an entity from `recent` so they name files and buckets that were uploaded.
 */
export function randomEventInput(
  random: () => number,
  recent: { files: WebinateFile[]; buckets: WebinateBucket[] },
): WebinateEventInput {
  const username = pick(random, DEMO_USERS);
  const roll = random();
  if (roll < 0.25) return { type: "Login", username };
  if (roll < 0.4) return { type: "Logout", username };
  if (roll < 0.7) {
    const spec = pick(random, DEMO_FILES);
    const size = Math.round(spec.size * (0.5 + random()));
    return { type: "FileUploaded", username, file: { ...spec, size } };
  }
  if (roll < 0.8 && recent.files.length > 0) {
    const file = recent.files.splice(Math.floor(random() * recent.files.length), 1)[0];
    if (file) return { type: "FileRemoved", username: file.user, file };
  }
  if (roll < 0.88) return { type: "BucketUploaded", username };
  if (roll < 0.94 && recent.buckets.length > 0) {
    const bucket = recent.buckets.splice(Math.floor(random() * recent.buckets.length), 1)[0];
    if (bucket) return { type: "BucketRemoved", username: bucket.user, bucket };
  }
  return { type: random() < 0.7 ? "Activated" : "Removed", username };
}
