/**
 * The iSymphony vendor module.
 *
 * @module
 */
import type { VendorModule } from "../vendor_module.ts";
import { type ISymphonySourceConfig, isymphonySourceSchema } from "./config.ts";
import { ISymphonyConnector } from "./connector.ts";
import { filterInterest, planISymphonyArgs, planISymphonyTypes } from "./plan.ts";

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
  standing: (config) => config.standing.map((filters) => filterInterest(filters)),
};
