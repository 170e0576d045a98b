/**
 * iSymphony's part of the schema: `ISymphonyEvent` fields and `isymphonyEvents`.
 *
 * @module
 */
import type { Event } from "../../model/event.ts";
import type { RelayContext } from "../context.ts";
import { coded } from "../errors.ts";
import { detail, eventPayload, type ResolverMap } from "../resolver_kit.ts";

/** A property as a string field: strings as sent, anything else null. */
function text(name: string): (e: Event) => string | null {
  return (e) => {
    const v = detail(e, "ISYMPHONY").properties[name];
    return typeof v === "string" ? v : null;
  };
}

/** Resolvers for schema/isymphony.graphql. */
export const isymphonyResolvers: ResolverMap = {
  ISymphonyEvent: {
    properties: (e: Event) => detail(e, "ISYMPHONY").properties,
    coreServerId: text("coreServerId"),
    userId: text("userId"),
    username: text("username"),
    agent: text("agent"),
    queue: text("queue"),
    extensionNumber: text("extensionNumber"),
    callSegmentId: text("callSegmentId"),
    callerIdName: text("callerIdName"),
    callerIdNumber: text("callerIdNumber"),
    statusType: text("statusType"),
  },
  Subscription: {
    isymphonyEvents: {
      subscribe: (_: unknown, args: Record<string, unknown>, ctx: RelayContext) =>
        coded(() => ctx.relay.subscribeVendor("ISYMPHONY", args)),
      resolve: eventPayload,
    },
  },
};
