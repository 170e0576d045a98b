/**
 * What every resolver gets as its GraphQL context.
 *
 * @module
 */
import type { Event } from "../model/event.ts";
import type { Relay } from "../relay.ts";

/** The resolver context. */
export interface RelayContext {
  relay: Relay;
  /** The event behind the subscription result executed last (for delivery metrics). */
  lastEvent?: Event | undefined;
}
