/**
 * The vendor registry: every supported `kind`, in one list.
 *
 * @module
 */
import { drpModule } from "./drp/mod.ts";
import { kazooModule } from "./kazoo/mod.ts";
import { isymphonyModule } from "./isymphony/mod.ts";
import { ilandModule } from "./iland/mod.ts";
import { webinateModule } from "./webinate/mod.ts";
import type { SourceConfigBase, VendorModule } from "./vendor_module.ts";

/** Every vendor module, keyed by config `kind`. */
export const VENDOR_MODULES: readonly VendorModule<SourceConfigBase>[] = [
  drpModule as unknown as VendorModule<SourceConfigBase>,
  kazooModule as unknown as VendorModule<SourceConfigBase>,
  isymphonyModule as unknown as VendorModule<SourceConfigBase>,
  ilandModule as unknown as VendorModule<SourceConfigBase>,
  webinateModule as unknown as VendorModule<SourceConfigBase>,
];

/** The module for a config `kind`. */
export function vendorModule(kind: string): VendorModule<SourceConfigBase> {
  const mod = VENDOR_MODULES.find((m) => m.kind === kind);
  if (!mod) throw new Error(`Unknown source kind "${kind}"`);
  return mod;
}
