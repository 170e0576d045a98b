/**
 * Webinate's part of the schema: `WebinateEvent` fields, `webinateEvents` and the
 * `webinateSend` mutation.
 *
 * @module
 */
import type { Event } from "../../model/event.ts";
import type { RelayContext } from "../context.ts";
import { coded } from "../errors.ts";
import { detail, eventPayload, type ResolverMap } from "../resolver_kit.ts";

type Args = Record<string, unknown>;

/** Resolvers for schema/webinate.graphql. */
export const webinateResolvers: ResolverMap = {
  WebinateEvent: {
    eventType: (e: Event) => detail(e, "WEBINATE").eventType,
    eventName: (e: Event) => e.type,
    username: (e: Event) => detail(e, "WEBINATE").username,
    file: (e: Event) => detail(e, "WEBINATE").file ?? null,
    bucket: (e: Event) => detail(e, "WEBINATE").bucket ?? null,
    message: (e: Event) => detail(e, "WEBINATE").message ?? null,
    val: (e: Event) => detail(e, "WEBINATE").val ?? null,
    error: (e: Event) => detail(e, "WEBINATE").error,
  },
  Subscription: {
    webinateEvents: {
      subscribe: (_: unknown, args: Args, ctx: RelayContext) =>
        coded(() => ctx.relay.subscribeVendor("WEBINATE", args)),
      resolve: eventPayload,
    },
  },
  Mutation: {
    webinateSend: (_: unknown, args: Args, ctx: RelayContext) =>
      coded(() => ctx.relay.send("WEBINATE", args)),
  },
};
