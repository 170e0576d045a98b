/**
 * iSymphony server flavours. No public version history exists (PROTOCOLS.md §5: docs only),
 * so only the generic flavours: `sparse` keeps `type` alone (no `time`, no `coreServerId`,
 * no object ids: the docs say only `type` and `time` are common, and ids may be null);
 * `extra` adds properties the docs never listed.
 *
 * @module
 */
import { type Frame, type SimulatorVariant, withExtras } from "../variant.ts";

/** Every flavour the iSymphony simulator plays. */
export const ISYMPHONY_VARIANTS: readonly SimulatorVariant[] = ["current", "sparse", "extra"];

/** One flat event in the flavour's shape. */
export function reshapeISymphony(frame: Frame, variant: SimulatorVariant): Frame {
  if (variant === "sparse") {
    const out: Frame = {};
    for (const [k, v] of Object.entries(frame)) {
      if (k === "type" || !(k === "time" || k === "coreServerId" || /Id\d?$/.test(k))) out[k] = v;
    }
    return out;
  }
  return variant === "extra" ? withExtras(frame) : frame;
}
