/**
 * The Kazoo vendor module.
 *
 * @module
 */
import type { VendorModule } from "../vendor_module.ts";
import { type KazooSourceConfig, kazooSourceSchema } from "./config.ts";
import { KazooConnector } from "./connector.ts";
import { bindingKeyCovers, interestKey, parseInterestKey } from "./match.ts";
import { planKazooArgs, planKazooTypes } from "./plan.ts";

/**
 * Builds the module. Subscriptions without `accountId` mean "the source's default account",
 * which is only known once a token arrived, so connectors report it here and the matchers
 * planned for that source read it when events arrive.
 */
export function createKazooModule(): VendorModule<KazooSourceConfig> {
  const defaults = new Map<string, string>();
  const lookup = (source: string) => defaults.get(source);
  return {
    kind: "kazoo",
    vendor: "KAZOO",
    configSchema: kazooSourceSchema,
    createConnectors: (config, deps) => {
      // A new relay with this source name starts over (tests run several in one process).
      defaults.delete(config.name);
      return [
        new KazooConnector({
          config,
          caCerts: deps.caCerts,
          ctx: deps.ctx,
          clock: deps.clock,
          fetch: deps.fetch,
          onDefaultAccount: (accountId) => defaults.set(config.name, accountId),
        }),
      ];
    },
    plan: (source, args) => planKazooArgs(source, args, lookup),
    planTypes: (source, types, tenants) => planKazooTypes(source, types, lookup, tenants),
    interestCovers: bindingKeyCovers,
    // An empty account in a key is the source's default account (known once connected).
    interestTenant: (source, key) => parseInterestKey(key).accountId ?? lookup(source),
    // The connector describes each registration as `<binding> on <account id>`; account ids
    // hold no whitespace (checkAccountId), so the last word is the account.
    describedTenant: (_source, line) => {
      const at = line.lastIndexOf(" on ");
      return at < 0 ? undefined : line.slice(at + 4);
    },
    standing: (config) =>
      config.standing.map((s) =>
        typeof s === "string"
          ? { key: interestKey(undefined, s) }
          : { key: interestKey(s.accountId, s.binding) }
      ),
  };
}

/** Wires Kazoo sources. */
export const kazooModule: VendorModule<KazooSourceConfig> = createKazooModule();
