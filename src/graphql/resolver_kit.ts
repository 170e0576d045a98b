/**
 * Small helpers the per-vendor resolver files share.
 *
 * @module
 */

import { GraphQLScalarType } from "graphql";
import type { Event, EventDetail, Vendor } from "../model/event.ts";
import type { RelayContext } from "./context.ts";

/** A resolver map: type name -> field resolvers (or a scalar). */
export type ResolverMap = Record<string, Record<string, unknown> | GraphQLScalarType>;

/** The vendor detail of an event, narrowed; throws if the event is another vendor's. */
export function detail<V extends Vendor>(e: Event, vendor: V): Extract<EventDetail, { vendor: V }> {
  if (e.detail.vendor !== vendor) throw new Error(`Event ${e.id} is not a ${vendor} event`);
  return e.detail as Extract<EventDetail, { vendor: V }>;
}

/**
 * A subscription field's payload is the event itself. The event is also noted on the
 * context (one write per result, shared by every socket of a shared stream), so delivery
 * metrics know which source and receive time the result being written carries.
 */
export const eventPayload = (e: Event, _args: unknown, ctx: RelayContext): Event => {
  ctx.lastEvent = e;
  return e;
};

/** Merges resolver maps type by type (later fields win). */
export function mergeResolvers(maps: readonly ResolverMap[]): ResolverMap {
  const out: ResolverMap = {};
  for (const map of maps) {
    for (const [type, fields] of Object.entries(map)) {
      const prev = out[type];
      out[type] = fields instanceof GraphQLScalarType || prev instanceof GraphQLScalarType
        ? fields
        : { ...prev, ...fields };
    }
  }
  return out;
}
