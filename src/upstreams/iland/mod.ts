/**
 * The iland vendor module: one connector per configured company scope, all sharing one
 * token source and one duplicate filter.
 *
 * @module
 */
import type { VendorModule } from "../vendor_module.ts";
import { companyScopes, type IlandSourceConfig, ilandSourceSchema } from "./config.ts";
import { IlandConnector } from "./connector.ts";
import { planIlandArgs, planIlandTypes } from "./plan.ts";
import { RecentIds } from "./recent_ids.ts";
import { IlandTokens } from "./token.ts";

/** Wires iland sources. */
export const ilandModule: VendorModule<IlandSourceConfig> = {
  kind: "iland",
  vendor: "ILAND",
  configSchema: ilandSourceSchema,
  createConnectors: (config, deps) => {
    const scopes = companyScopes(config);
    const tokens = new IlandTokens({
      config,
      fetch: deps.fetch,
      clock: deps.clock,
      log: deps.ctx.log,
    });
    const recent = new RecentIds();
    return scopes.map((companyId) =>
      new IlandConnector({
        config,
        companyId,
        tokens,
        recent,
        caCerts: deps.caCerts,
        ctx: scopes.length === 1
          ? deps.ctx
          : { ...deps.ctx, log: deps.ctx.log.child({ companyId }) },
      })
    );
  },
  plan: planIlandArgs,
  planTypes: planIlandTypes,
  // The server streams everything in scope from the moment a socket is authorised, so
  // history fills without standing interest; there is nothing to register.
  standing: () => [],
  // Each socket describes its scope as `companyId=<id>` (or "all companies").
  describedTenant: (_source, line) =>
    line.startsWith("companyId=") ? line.slice("companyId=".length) : undefined,
};
