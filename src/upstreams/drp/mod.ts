/**
 * The DRP vendor module.
 *
 * @module
 */
import type { VendorModule } from "../vendor_module.ts";
import { type DrpSourceConfig, drpSourceSchema } from "./config.ts";
import { DrpConnector } from "./connector.ts";
import { patternCovers } from "./match.ts";
import { planDrpArgs, planDrpTypes } from "./plan.ts";

/** Wires DRP sources. */
export const drpModule: VendorModule<DrpSourceConfig> = {
  kind: "drp",
  vendor: "DRP",
  configSchema: drpSourceSchema,
  createConnectors: (config, deps) => [
    new DrpConnector({ config, caCerts: deps.caCerts, ctx: deps.ctx, clock: deps.clock }),
  ],
  plan: planDrpArgs,
  planTypes: planDrpTypes,
  interestCovers: patternCovers,
  standing: (config) => config.standing.map((key) => ({ key })),
};
