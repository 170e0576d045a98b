/**
 * The Webinate vendor module.
 *
 * @module
 */
import type { VendorModule } from "../vendor_module.ts";
import { type WebinateSourceConfig, webinateSourceSchema } from "./config.ts";
import { WebinateConnector } from "./connector.ts";
import { planWebinateArgs, planWebinateTypes } from "./plan.ts";
import { formatWebinateSend } from "./send.ts";

/** Wires Webinate sources. */
export const webinateModule: VendorModule<WebinateSourceConfig> = {
  kind: "webinate",
  vendor: "WEBINATE",
  configSchema: webinateSourceSchema,
  createConnectors: (config, deps) => [
    new WebinateConnector({ config, caCerts: deps.caCerts, ctx: deps.ctx, clock: deps.clock }),
  ],
  plan: planWebinateArgs,
  planTypes: planWebinateTypes,
  formatSend: formatWebinateSend,
  // The server pushes everything to every socket, so history fills with no standing interest.
  standing: () => [],
};
