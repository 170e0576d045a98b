/**
 * Wire shapes of the iSymphony (3.2+) Event API websocket, as zod schemas: the one client
 * frame (`filter`), the two replies (`success`, `error`) and the documented events.
 *
 * Every frame in both directions is a flat JSON object; the server writes its properties in
 * alphabetical order (PROTOCOLS.md §5.3, seed lines 44–47), which {@link serialise} reproduces.
 *
 * @module
 */
import { z } from "zod";

// ---------------------------------------------------------------------------------------------
// Client -> server

/**
 * One property filter. The doc's template (seed line 98) is not valid JSON
 * (`{"property" : "<name>" : "value" : "<v>"}`); the evident intent is this shape
 * (PROTOCOLS.md §5.2 [inferred]). Values must be strings: the doc only shows strings.
 */
export const FilterEntrySchema = z.object({ property: z.string(), value: z.string() });
/** One `{property, value}` filter entry. */
export type FilterEntry = z.infer<typeof FilterEntrySchema>;

/** `correlationId` is optional and echoed back (seed lines 142–163); only strings are shown. */
const CorrelationIdSchema = z.string().nullable().optional();

/** The filter message: replaces the connection's whole filter set (seed lines 90–102). */
export const FilterMessageSchema = z.object({
  type: z.literal("filter"),
  correlationId: CorrelationIdSchema,
  filters: z.array(FilterEntrySchema),
});
/** A parsed filter message. */
export type FilterMessage = z.infer<typeof FilterMessageSchema>;

/**
 * Every client frame the server understands. The doc documents only `filter`
 * (PROTOCOLS.md §5.2); the union is kept so a new type is one more member.
 */
export const ClientMessageSchema = z.discriminatedUnion("type", [FilterMessageSchema]);
/** A parsed client frame. */
export type ClientMessage = z.infer<typeof ClientMessageSchema>;

/**
 * The loose envelope read first, so an unknown `type` or a bad `correlationId` can still be
 * answered with the right error text and the caller's correlation id.
 */
export const EnvelopeSchema = z.looseObject({
  type: z.unknown().optional(),
  correlationId: z.unknown().optional(),
});

// ---------------------------------------------------------------------------------------------
// Server -> client: replies to a filter message (PROTOCOLS.md §5.3, seed lines 113–140)

/** `success`: the filter was applied. */
export const SuccessMessageSchema = z.object({
  type: z.literal("success"),
  correlationId: z.string().nullable(),
  time: z.number().int(),
});
/** `error`: the filter message could not be processed; the previous filter set stays. */
export const ErrorMessageSchema = z.object({
  type: z.literal("error"),
  error: z.string(),
  correlationId: z.string().nullable(),
  time: z.number().int(),
});
/** A reply to a filter message. */
export const ReplyMessageSchema = z.discriminatedUnion("type", [
  SuccessMessageSchema,
  ErrorMessageSchema,
]);
/** A reply to a filter message. */
export type ReplyMessage = z.infer<typeof ReplyMessageSchema>;

// ---------------------------------------------------------------------------------------------
// Server -> client: events (PROTOCOLS.md §5.5). Every event has `type` and `time` (seed
// lines 67–72); the documented ones also carry `coreServerId` (seed line 56).

const base = { time: z.number().int(), coreServerId: z.string() };
const uuid = z.string();
const nullableString = z.string().nullable();

/** `statusType` values of the User Status event (PROTOCOLS.md §5.5). */
export const STATUS_TYPES = [
  "available",
  "unavailable",
  "away",
  "xa",
  "dnd",
  "chat",
  "altblue",
  "altgreen",
  "altpink",
  "altpurple",
  "altred",
] as const;

const userSession = {
  ...base,
  userId: uuid,
  username: z.string(),
  userLoginId: uuid,
  ip: z.string(),
  port: z.number().int(),
};

/** Client UI login (seed lines 52–64 is this exact event). */
export const UserLoginEventSchema = z.object({ type: z.literal("userLogin"), ...userSession });
/** Client UI logout; same properties as userLogin. */
export const UserLogoutEventSchema = z.object({ type: z.literal("userLogout"), ...userSession });

/** Status change of a licensed user; `returnTime` is epoch ms or -1. */
export const UserStatusEventSchema = z.object({
  type: z.literal("userStatus"),
  ...base,
  userId: uuid,
  username: z.string(),
  name: z.string(),
  statusType: z.enum(STATUS_TYPES),
  note: z.string(),
  returnTime: z.number().int(),
  userCreated: z.boolean(),
});

const agent = {
  ...base,
  agentId: uuid,
  agent: z.string(),
  /** Asterisk device state, e.g. `NOT_INUSE`. */
  state: z.string(),
  queueId: uuid,
  queue: z.string(),
  extensionId: uuid,
  extensionNumber: z.string(),
  userId: uuid,
  username: z.string(),
};

/** An agent logged into a queue. */
export const AgentLoginEventSchema = z.object({ type: z.literal("agentLogin"), ...agent });
/** An agent logged out of a queue. */
export const AgentLogoutEventSchema = z.object({ type: z.literal("agentLogout"), ...agent });

/** One call segment's identity; extension/user fields are null for outside parties. */
const segment = {
  callSegmentId: uuid,
  callerIdName: z.string(),
  callerIdNumber: z.string(),
  did: nullableString,
  extensionId: nullableString,
  extensionNumber: nullableString,
  userId: nullableString,
  username: nullableString,
};

/** A segment hung up. */
export const HangupEventSchema = z.object({ type: z.literal("hangup"), ...base, ...segment });

/** Two linked call segments were unlinked (hangup or transfer); every field twice, 1 and 2. */
export const LinkEndEventSchema = z.object({
  type: z.literal("linkEnd"),
  ...base,
  ...Object.fromEntries(Object.entries(segment).map(([k, v]) => [`${k}1`, v])) as Suffixed<"1">,
  ...Object.fromEntries(Object.entries(segment).map(([k, v]) => [`${k}2`, v])) as Suffixed<"2">,
});
type Suffixed<S extends string> = { [K in keyof typeof segment as `${K}${S}`]: typeof segment[K] };

/** A call left a conference room (3.3+). */
export const ConfRoomCallLeaveEventSchema = z.object({
  type: z.literal("confRoomCallLeave"),
  ...base,
  ...segment,
  conferenceRoomId: uuid,
  conferenceRoomName: z.string(),
});

/**
 * A segment dialled out. [unverified] The doc only names `dial` in its filter examples
 * (seed line 151); these properties are invented after the hangup event plus the number dialled.
 */
export const DialEventSchema = z.object({
  type: z.literal("dial"),
  ...base,
  ...segment,
  dialedNumber: z.string(),
});

/** Every event this simulator knows how to build. */
export const ISymphonyEventSchema = z.discriminatedUnion("type", [
  UserLoginEventSchema,
  UserLogoutEventSchema,
  UserStatusEventSchema,
  AgentLoginEventSchema,
  AgentLogoutEventSchema,
  LinkEndEventSchema,
  HangupEventSchema,
  ConfRoomCallLeaveEventSchema,
  DialEventSchema,
]);
/** A complete event as sent on the wire. */
export type ISymphonyEvent = z.infer<typeof ISymphonyEventSchema>;
/** The documented event names. */
export type ISymphonyEventType = ISymphonyEvent["type"];

/** An event with only `type` required; the simulator fills every other property. */
export type ISymphonyEventInput = _PartialEvent<ISymphonyEvent>;
/** Distributes over the union so each member keeps its own properties. */
type _PartialEvent<E> = E extends { type: infer T } ? { type: T } & Partial<Omit<E, "type">>
  : never;

/** A JSON value an event property may hold (the documented events are flat). */
export type PropertyValue = string | number | boolean | null;

/** Writes a frame with its properties in alphabetical order, as the server does. */
export function serialise(frame: Readonly<Record<string, unknown>>): string {
  const keys = Object.keys(frame).sort();
  return JSON.stringify(frame, keys);
}

// ---------------------------------------------------------------------------------------------
// Realistic defaults: a small PBX directory the simulator builds events from, so ids stay
// consistent between events (the same user always has the same userId until a restart).

/** A licensed user bound to an extension. */
export interface DirectoryUser {
  userId: string;
  username: string;
  name: string;
  extensionId: string;
  extensionNumber: string;
  /** Where this user's client UI logs in from. */
  ip: string;
}

/** The objects of one server lifetime; UUIDs are new after each restart (seed line 79). */
export interface Directory {
  coreServerId: string;
  users: readonly DirectoryUser[];
  queues: readonly { queueId: string; queue: string }[];
  conferenceRooms: readonly { conferenceRoomId: string; conferenceRoomName: string }[];
  /** agentId per `${userId}/${queueId}` (a queue member object). */
  agentIds: Map<string, string>;
  /** Open client UI sessions per userId, so a logout repeats its login's id, ip and port. */
  sessions: Map<string, { userLoginId: string; port: number }>;
  /** `${userId}/${queueId}` of agents currently logged in (for realistic random toggling). */
  agentsLoggedIn: Set<string>;
}

const PEOPLE = [
  ["mike", "Mike Young"],
  ["sarah", "Sarah Chen"],
  ["dave", "David Okafor"],
  ["priya", "Priya Raman"],
  ["tom", "Tom Becker"],
  ["lena", "Lena Fischer"],
] as const;

/** Builds a fresh directory with new UUIDs. */
export function createDirectory(): Directory {
  const id = () => crypto.randomUUID();
  return {
    coreServerId: id(),
    users: PEOPLE.map(([username, name], i) => ({
      userId: id(),
      username,
      name,
      extensionId: id(),
      extensionNumber: String(201 + i),
      ip: `10.10.0.${21 + i}`,
    })),
    queues: [{ queueId: id(), queue: "Support" }, { queueId: id(), queue: "Sales" }],
    conferenceRooms: [{ conferenceRoomId: id(), conferenceRoomName: "Main Conference" }],
    agentIds: new Map(),
    sessions: new Map(),
    agentsLoggedIn: new Set(),
  };
}

/** An outside caller on a trunk: no extension or user (PROTOCOLS.md §5.5 "may be null"). */
const OUTSIDE = {
  callerIdName: "WIRELESS CALLER",
  callerIdNumber: "+14155550123",
  did: "+18005550100",
  extensionId: null,
  extensionNumber: null,
  userId: null,
  username: null,
};

/**
 * Every property `input.type` needs except `time` and `coreServerId`, taken from the user named
 * by `input.username`/`input.userId` (or the first user) and the queue named by `input.queue`.
 * Explicit input properties are applied over these by the caller.
 */
export function eventDefaults(
  dir: Directory,
  input: ISymphonyEventInput,
): Record<string, PropertyValue> {
  const given = input as Partial<Record<string, unknown>>;
  // linkEnd names its inside party as username1/userId1.
  const username = given.username ?? given.username1;
  const userId = given.userId ?? given.userId1;
  const user = dir.users.find((u) => u.username === username || u.userId === userId) ??
    dir.users[0]!;
  const inside = {
    callSegmentId: crypto.randomUUID(),
    callerIdName: user.name,
    callerIdNumber: user.extensionNumber,
    did: null,
    extensionId: user.extensionId,
    extensionNumber: user.extensionNumber,
    userId: user.userId,
    username: user.username,
  };
  const who = { userId: user.userId, username: user.username };
  switch (input.type) {
    case "userLogin":
    case "userLogout": {
      const session = dir.sessions.get(user.userId) ??
        { userLoginId: crypto.randomUUID(), port: 57042 };
      if (input.type === "userLogin") dir.sessions.set(user.userId, session);
      else dir.sessions.delete(user.userId);
      return { ...who, ...session, ip: user.ip };
    }
    case "userStatus":
      return {
        ...who,
        name: user.name,
        statusType: "available",
        note: "",
        returnTime: -1,
        userCreated: false,
      };
    case "agentLogin":
    case "agentLogout": {
      const queue =
        dir.queues.find((q) => q.queue === given.queue || q.queueId === given.queueId) ??
          dir.queues[0]!;
      const key = `${user.userId}/${queue.queueId}`;
      const agentId = dir.agentIds.get(key) ?? crypto.randomUUID();
      dir.agentIds.set(key, agentId);
      if (input.type === "agentLogin") dir.agentsLoggedIn.add(key);
      else dir.agentsLoggedIn.delete(key);
      return {
        ...who,
        ...queue,
        agentId,
        agent: user.name,
        state: "NOT_INUSE",
        extensionId: user.extensionId,
        extensionNumber: user.extensionNumber,
      };
    }
    case "hangup":
    case "dial":
      return { ...inside, ...(input.type === "dial" ? { dialedNumber: "+14155550123" } : {}) };
    case "confRoomCallLeave":
      return { ...inside, ...dir.conferenceRooms[0]! };
    case "linkEnd": {
      const outside = { ...OUTSIDE, callSegmentId: crypto.randomUUID() };
      return {
        ...Object.fromEntries(Object.entries(inside).map(([k, v]) => [`${k}1`, v])),
        ...Object.fromEntries(Object.entries(outside).map(([k, v]) => [`${k}2`, v])),
      };
    }
  }
}
