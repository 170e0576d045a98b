/**
 * iland's part of the schema: `IlandEvent` fields and `ilandEvents`.
 *
 * @module
 */
import type { Event } from "../../model/event.ts";
import { ILAND_KINDS } from "../../upstreams/iland/match.ts";
import type { RelayContext } from "../context.ts";
import { coded } from "../errors.ts";
import { detail, eventPayload, type ResolverMap } from "../resolver_kit.ts";

const d = (e: Event) => detail(e, "ILAND");
const KNOWN_KINDS: ReadonlySet<string> = new Set(ILAND_KINDS);

/** Resolvers for schema/iland.graphql. */
export const ilandResolvers: ResolverMap = {
  IlandEvent: {
    kind: (e: Event) => KNOWN_KINDS.has(d(e).kind) ? d(e).kind : null,
    kindName: (e: Event) => d(e).kind,
    entityType: (e: Event) => d(e).entityType,
    companyId: (e: Event) => d(e).companyId,
    ownerType: (e: Event) => d(e).ownerType ?? null,
    ownerId: (e: Event) => d(e).ownerId ?? null,
    taskUuid: (e: Event) => d(e).taskUuid ?? null,
    details: (e: Event) => d(e).details ?? null,
    actorFullName: (e: Event) => d(e).actorFullName ?? null,
    status: (e: Event) => d(e).status ?? null,
    operation: (e: Event) => d(e).operation ?? null,
    operationDescription: (e: Event) => d(e).operationDescription ?? null,
    progress: (e: Event) => d(e).progress ?? null,
    taskType: (e: Event) => d(e).taskType ?? null,
    message: (e: Event) => d(e).message ?? null,
  },
  Subscription: {
    ilandEvents: {
      subscribe: (_: unknown, args: Record<string, unknown>, ctx: RelayContext) =>
        coded(() => ctx.relay.subscribeVendor("ILAND", args)),
      resolve: eventPayload,
    },
  },
};
