/**
 * Kazoo's part of the schema: `KazooEvent` fields and `kazooEvents`.
 *
 * @module
 */
import type { Event } from "../../model/event.ts";
import type { RelayContext } from "../context.ts";
import { coded } from "../errors.ts";
import { detail, eventPayload, type ResolverMap } from "../resolver_kit.ts";

/** Resolvers for schema/kazoo.graphql. */
export const kazooResolvers: ResolverMap = {
  KazooEvent: {
    name: (e: Event) => e.type,
    accountId: (e: Event) => detail(e, "KAZOO").accountId,
    routingKey: (e: Event) => detail(e, "KAZOO").routingKey,
    binding: (e: Event) => detail(e, "KAZOO").binding,
    callId: (e: Event) => detail(e, "KAZOO").callId,
    data: (e: Event) => detail(e, "KAZOO").data ?? null,
  },
  Subscription: {
    kazooEvents: {
      subscribe: (_: unknown, args: Record<string, unknown>, ctx: RelayContext) =>
        coded(() => ctx.relay.subscribeVendor("KAZOO", args)),
      resolve: eventPayload,
    },
  },
};
