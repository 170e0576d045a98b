/**
 * What every resolver gets as its GraphQL context.
 *
 * @module
 */
import type { Relay } from "../relay.ts";

/** The resolver context. */
export interface RelayContext {
  relay: Relay;
}
