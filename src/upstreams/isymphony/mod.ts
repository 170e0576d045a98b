/**
 * The iSymphony vendor module.
 *
 * @module
 */
import type { VendorModule } from "../vendor_module.ts";
import { type ISymphonySourceConfig, isymphonySourceSchema } from "./config.ts";
import { ISymphonyConnector } from "./connector.ts";
import { filterInterest, planISymphonyArgs, planISymphonyTypes } from "./plan.ts";

const ALL_EVENTS_KEY = filterInterest([]).key;

/** Wires iSymphony sources. */
export const isymphonyModule: VendorModule<ISymphonySourceConfig> = {
  kind: "isymphony",
  vendor: "ISYMPHONY",
  configSchema: isymphonySourceSchema,
  createConnectors: (config, deps) => [
    new ISymphonyConnector({ config, caCerts: deps.caCerts, ctx: deps.ctx, clock: deps.clock }),
  ],
  plan: planISymphonyArgs,
  planTypes: planISymphonyTypes,
  // The empty filter set takes every event, so it vouches for any narrower set.
  interestCovers: (wide) => wide === ALL_EVENTS_KEY,
  standing: (config) => config.standing.map((filters) => filterInterest(filters)),
};
