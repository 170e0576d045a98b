/**
 * Resolvers: thin mappings from GraphQL arguments to the relay service, and from the
 * shared event model to the schema's types. No vendor wire format appears here.
 *
 * @module
 */
import type { ClusterInfo, ClusterNodeInfo } from "../cluster/node.ts";
import type { Event, Vendor } from "../model/event.ts";
import type { Gap } from "../hub/coverage.ts";
import type { InterestEntry } from "../hub/interest_table.ts";
import type { SourceInfo } from "../relay.ts";
import type { RelayContext } from "./context.ts";
import { coded } from "./errors.ts";
import { eventPayload, mergeResolvers, type ResolverMap } from "./resolver_kit.ts";
import { DateTimeScalar, JSONScalar } from "./scalars.ts";
import { drpResolvers } from "./vendors/drp.ts";
import { kazooResolvers } from "./vendors/kazoo.ts";
import { isymphonyResolvers } from "./vendors/isymphony.ts";
import { ilandResolvers } from "./vendors/iland.ts";
import { webinateResolvers } from "./vendors/webinate.ts";

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

/** The vendor-neutral resolvers: scalars, Event, Source, queries and `events`. */
const baseResolvers: ResolverMap = {
  DateTime: DateTimeScalar,
  JSON: JSONScalar,
  Event: {
    __resolveType: (e: Event) => EVENT_TYPENAMES[e.vendor],
  },
  Source: {
    state: (s: SourceInfo) => s.connection.state,
    connectedSince: (s: SourceInfo) => isoOrNull(s.connectedSince),
    lastEventAt: (s: SourceInfo) => isoOrNull(s.lastEventAt),
    lastErrorAt: (s: SourceInfo) => isoOrNull(s.lastErrorAt),
    lastError: (s: SourceInfo) => s.lastError ?? null,
    holder: (s: SourceInfo) => s.holder ?? null,
    framesDroppedByReason: (s: SourceInfo) =>
      [...s.dropsByReason].map(([reason, count]) => ({ reason, count })),
  },
  SourceGap: {
    interest: (g: Gap) => g.key ?? null,
    from: (g: Gap) => new Date(g.from.at).toISOString(),
    to: (g: Gap) => (g.to ? new Date(g.to.at).toISOString() : null),
  },
  SourceInterest: {
    subscribers: (i: InterestEntry) => i.holders,
    lingering: (i: InterestEntry) => i.lingeringUntil !== undefined,
    lingeringUntil: (i: InterestEntry) => isoOrNull(i.lingeringUntil),
  },
  Cluster: {
    role: (c: ClusterInfo) => c.role.toUpperCase(),
  },
  ClusterNode: {
    role: (n: ClusterNodeInfo) => n.role.toUpperCase(),
    lastSeenAt: (n: ClusterNodeInfo) => new Date(n.lastSeenAt).toISOString(),
  },
  Query: {
    cluster: (_: unknown, __: Args, ctx: RelayContext) => ctx.relay.cluster() ?? null,
    sources: (_: unknown, __: Args, ctx: RelayContext) => coded(() => ctx.relay.sources()),
    source: (_: unknown, args: Args, ctx: RelayContext) =>
      coded(() => ctx.relay.source(String(args.name)) ?? null),
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
      resolve: eventPayload,
    },
  },
};

/** Every resolver of the schema: the base plus one map per vendor. */
/** `cursor` on every event type: the composite cursor on `events`, else the id. */
const cursorResolvers: ResolverMap = Object.fromEntries(
  Object.values(EVENT_TYPENAMES).map((type) => [type, { cursor: (e: Event) => e.cursor ?? e.id }]),
);

export const resolvers: ResolverMap = mergeResolvers([
  baseResolvers,
  cursorResolvers,
  drpResolvers,
  kazooResolvers,
  isymphonyResolvers,
  ilandResolvers,
  webinateResolvers,
]);
