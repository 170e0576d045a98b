/**
 * DRP server flavours (PROTOCOLS.md §2.3): `older` is a v3 server from before `Principal`
 * (Aug 2018) and `Original` (Feb 2019), as the 2017 doc example shows; `sparse` also leaves
 * out `Object`; `newer` and `extra` add keys the relay does not know (v4 plugins add
 * their own).
 *
 * @module
 */
import { type Frame, type SimulatorVariant, withExtras, without } from "../variant.ts";

/** Every flavour the DRP simulator plays. */
export const DRP_VARIANTS: readonly SimulatorVariant[] = [
  "current",
  "older",
  "newer",
  "sparse",
  "extra",
];

/** One event in the flavour's shape (acks are never reshaped). */
export function reshapeDrp(frame: Frame, variant: SimulatorVariant): Frame {
  switch (variant) {
    case "older":
      return without(frame, ["Principal", "Original"]);
    case "sparse":
      return without(frame, ["Principal", "Original", "Object"]);
    case "newer":
    case "extra":
      return withExtras(frame);
    default:
      return frame;
  }
}
