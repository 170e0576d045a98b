/**
 * Kazoo blackhole flavours (PROTOCOLS.md §4.3): `older` sends event frames as 4.0 did (the
 * normalised payload itself with `binding` and `routing_key` = the event name, no `action`;
 * blackhole_util:handle_event, kazoo 4.0; replies keep the 4.x shape, which the relay
 * needs); `newer` sends the routing key in client form (`call.<EVENT>.<CALL>`, no account)
 * plus unknown fields; `sparse` leaves out `subscription_key`, `name`, `routing_key` and the
 * account inside `data`; `extra` adds unknown fields.
 *
 * @module
 */
import { asFrame, type Frame, type SimulatorVariant, withExtras, without } from "../variant.ts";

/** Every flavour the Kazoo simulator plays. */
export const KAZOO_VARIANTS: readonly SimulatorVariant[] = [
  "current",
  "older",
  "newer",
  "sparse",
  "extra",
];

/** One event frame in the flavour's shape. */
export function reshapeKazoo(frame: Frame, variant: SimulatorVariant): Frame {
  const data = asFrame(frame.data) ?? {};
  switch (variant) {
    case "older":
      return { ...data, binding: frame.subscribed_key, routing_key: frame.name };
    case "newer": {
      const rk = String(frame.routing_key ?? "").split(".");
      const clientForm = rk[0] === "call" && rk.length === 4 ? `call.${rk[2]}.${rk[3]}` : undefined;
      return withExtras({ ...frame, routing_key: clientForm ?? frame.routing_key });
    }
    case "sparse": {
      const { custom_channel_vars: _c, account_id: _a, ...rest } = data;
      return { ...without(frame, ["subscription_key", "name", "routing_key"]), data: rest };
    }
    case "extra":
      return withExtras(frame);
    default:
      return frame;
  }
}
