/**
 * Resolvers: thin mappings from GraphQL arguments to the relay service, and from the
 * shared event model to the schema's types. No vendor wire format appears here.
 *
 * @module
 */
import type { Event, Vendor } from "../model/event.ts";
import type { SourceInfo } from "../relay.ts";
import type { RelayContext } from "./context.ts";
import { coded } from "./errors.ts";
import { DateTimeScalar, JSONScalar } from "./scalars.ts";

/** The GraphQL object type of each vendor's events. */
export const EVENT_TYPENAMES: Record<Vendor, string> = {
  DRP: "DrpEvent",
  ILAND: "IlandEvent",
  ISYMPHONY: "ISymphonyEvent",
  KAZOO: "KazooEvent",
  WEBINATE: "WebinateEvent",
};

type Args = Record<string, unknown>;

function isoOrNull(ms: number | undefined): string | null {
  return ms === undefined ? null : new Date(ms).toISOString();
}

function detail<V extends Vendor>(e: Event, vendor: V): Extract<Event["detail"], { vendor: V }> {
  if (e.detail.vendor !== vendor) throw new Error(`Event ${e.id} is not a ${vendor} event`);
  return e.detail as Extract<Event["detail"], { vendor: V }>;
}

/** Resolves a subscription field's payload: the event itself. */
const identity = (e: Event) => e;

/** Every resolver of the schema. */
export const resolvers = {
  DateTime: DateTimeScalar,
  JSON: JSONScalar,
  Event: {
    __resolveType: (e: Event) => EVENT_TYPENAMES[e.vendor],
  },
  DrpEvent: {
    object: (e: Event) => detail(e, "DRP").object ?? null,
    original: (e: Event) => detail(e, "DRP").original ?? null,
    principal: (e: Event) => detail(e, "DRP").principal,
  },
  Source: {
    state: (s: SourceInfo) => s.connection.state,
    connectedSince: (s: SourceInfo) => isoOrNull(s.connectedSince),
    lastEventAt: (s: SourceInfo) => isoOrNull(s.lastEventAt),
    lastErrorAt: (s: SourceInfo) => isoOrNull(s.lastErrorAt),
    lastError: (s: SourceInfo) => s.lastError ?? null,
  },
  Query: {
    sources: (_: unknown, __: Args, ctx: RelayContext) => ctx.relay.sources(),
    source: (_: unknown, args: Args, ctx: RelayContext) =>
      ctx.relay.source(String(args.name)) ?? null,
    recentEvents: (_: unknown, args: Args, ctx: RelayContext) =>
      coded(() =>
        ctx.relay.recentEvents({
          sources: args.sources as string[] | null,
          vendors: args.vendors as Vendor[] | null,
          types: args.types as string[] | null,
          limit: typeof args.limit === "number" ? args.limit : 50,
        })
      ),
  },
  Subscription: {
    drpEvents: {
      subscribe: (_: unknown, args: Args, ctx: RelayContext) =>
        coded(() => ctx.relay.subscribeVendor("DRP", args)),
      resolve: identity,
    },
    events: {
      subscribe: (_: unknown, args: Args, ctx: RelayContext) =>
        coded(() =>
          ctx.relay.subscribeEvents({
            sources: args.sources as string[] | null,
            vendors: args.vendors as Vendor[] | null,
            types: args.types as string[] | null,
            after: args.after,
          })
        ),
      resolve: identity,
    },
  },
};
