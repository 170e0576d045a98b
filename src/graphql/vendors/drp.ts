/**
 * DRP's part of the schema: `DrpEvent` fields and `drpEvents`.
 *
 * @module
 */
import type { Event } from "../../model/event.ts";
import type { RelayContext } from "../context.ts";
import { coded } from "../errors.ts";
import { detail, eventPayload, type ResolverMap } from "../resolver_kit.ts";

/** Resolvers for schema/drp.graphql. */
export const drpResolvers: ResolverMap = {
  DrpEvent: {
    object: (e: Event) => detail(e, "DRP").object ?? null,
    original: (e: Event) => detail(e, "DRP").original ?? null,
    principal: (e: Event) => detail(e, "DRP").principal,
  },
  Subscription: {
    drpEvents: {
      subscribe: (_: unknown, args: Record<string, unknown>, ctx: RelayContext) =>
        coded(() => ctx.relay.subscribeVendor("DRP", args)),
      resolve: eventPayload,
    },
  },
};
