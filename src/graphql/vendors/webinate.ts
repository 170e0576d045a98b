/**
 * Webinate's part of the schema: `WebinateEvent` fields, `webinateEvents` and the
 * `webinateSend` mutation.
 *
 * @module
 */
import { GraphQLError } from "graphql";
import { RelayError } from "../../model/errors.ts";
import type { Event } from "../../model/event.ts";
import type { RelayContext } from "../context.ts";
import { coded } from "../errors.ts";
import { detail, identity, type ResolverMap } from "../resolver_kit.ts";

type Args = Record<string, unknown>;

/**
 * `{eventType, ...payload}` as text. The argument's eventType wins over one inside the
 * payload, so the frame always is what the caller named.
 */
function clientFrame(eventType: unknown, payload: unknown): string {
  if (typeof eventType !== "number" || !Number.isInteger(eventType)) {
    throw new GraphQLError("eventType must be an Int", {
      extensions: { code: "BAD_USER_INPUT" },
    });
  }
  if (payload !== undefined && payload !== null) {
    if (typeof payload !== "object" || Array.isArray(payload)) {
      throw new GraphQLError("payload must be a JSON object (its fields are sent with eventType)", {
        extensions: { code: "BAD_USER_INPUT" },
      });
    }
  }
  const { eventType: _ignored, ...rest } = (payload ?? {}) as Record<string, unknown>;
  return JSON.stringify({ eventType, ...rest });
}

/** Sends one client frame; a source that is not READY is an error, not a silent false. */
function send(args: Args, ctx: RelayContext): boolean {
  const frame = clientFrame(args.eventType, args.payload);
  const name = args.source as string | null | undefined;
  if (ctx.relay.send("WEBINATE", name, frame)) return true;
  const resolved = ctx.relay.resolveSource("WEBINATE", name).config.name;
  const state = ctx.relay.source(resolved)?.connection.state ?? "unknown";
  throw new RelayError(
    "SOURCE_UNAVAILABLE",
    `Webinate source "${resolved}" is not connected (state ${state}); nothing was sent`,
  );
}

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
      resolve: identity,
    },
  },
  Mutation: {
    webinateSend: (_: unknown, args: Args, ctx: RelayContext) => coded(() => send(args, ctx)),
  },
};
