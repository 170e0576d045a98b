/**
 * Maps an iSymphony event frame to the shared event model.
 *
 * @module
 */
import type { UpstreamEvent } from "../../model/event.ts";
import { toIsoTime } from "../../model/event.ts";
import type { EventFrame } from "./messages.ts";

/**
 * One event in the shared model. `properties` is the object as received: it is both the
 * payload and the detail (read-only from here on).
 */
export function toISymphonyEvent(
  source: string,
  e: EventFrame,
  properties: Record<string, unknown>,
  receivedAt: string,
): UpstreamEvent {
  return {
    source,
    vendor: "ISYMPHONY",
    type: e.type,
    // Event names carry their verb (agentLogin, userLogout): there is no separate action.
    action: null,
    key: firstString(properties, KEY_PROPERTIES),
    subject: firstString(properties, SUBJECT_PROPERTIES),
    actor: firstString(properties, ["username"]),
    time: toIsoTime(e.time, receivedAt),
    receivedAt,
    payload: properties,
    detail: { vendor: "ISYMPHONY", properties },
  };
}

/**
 * Where an event's `key` comes from, first present wins: the call segment for call events,
 * the agent (queue membership) for agent events, then the user, then other object ids.
 */
const KEY_PROPERTIES = [
  "callSegmentId",
  "callSegmentId1",
  "agentId",
  "userId",
  "userId1",
  "conferenceRoomId",
  "queueId",
  "extensionId",
] as const;

/** Where `subject` comes from: the agent's or user's display name, else the login name. */
const SUBJECT_PROPERTIES = [
  "agent",
  "name",
  "username",
  "username1",
  "callerIdName",
  "callerIdName1",
  "conferenceRoomName",
] as const;

function firstString(
  properties: Readonly<Record<string, unknown>>,
  names: readonly string[],
): string | null {
  for (const name of names) {
    const v = properties[name];
    if (typeof v === "string" && v !== "") return v;
  }
  return null;
}
