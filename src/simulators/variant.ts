/**
 * Server flavours a simulator can play, so end-to-end suites also run against shapes the
 * connector was not written from: an older or newer server generation, a server that leaves
 * optional fields out, one that adds fields the relay does not know. Each vendor folder's
 * `variants.ts` says what each flavour means for that vendor, from its documents and
 * sources; a vendor without public version history supports only the generic flavours.
 *
 * @module
 */

/** Every flavour. `current` is the shape the simulators always sent. */
export const SIMULATOR_VARIANTS = ["current", "older", "newer", "sparse", "extra"] as const;
/** One of {@link SIMULATOR_VARIANTS}. */
export type SimulatorVariant = typeof SIMULATOR_VARIANTS[number];

/** A JSON object frame. */
export type Frame = Record<string, unknown>;

/** Turns the current shape of one event frame into the flavour's. */
export type Reshape = (frame: Frame, variant: SimulatorVariant) => Frame;

/** Fields no vendor documents, as a newer server might add them. */
export function withExtras(frame: Frame): Frame {
  return { ...frame, relayTestExtra: { added: "by a newer server", n: 1 }, schemaVersion: 99 };
}

/** `frame` without `keys`. */
export function without(frame: Frame, keys: readonly string[]): Frame {
  const out = { ...frame };
  for (const k of keys) delete out[k];
  return out;
}

/** The value as an object frame, or undefined. */
export function asFrame(value: unknown): Frame | undefined {
  return value !== null && typeof value === "object" && !Array.isArray(value)
    ? value as Frame
    : undefined;
}

/**
 * Checks that `variant` is one a simulator supports; throws otherwise, so a suite never
 * silently runs the current shape under another flavour's name.
 */
export function checkVariant(
  vendor: string,
  variant: SimulatorVariant,
  supported: readonly SimulatorVariant[],
): SimulatorVariant {
  if (!supported.includes(variant)) {
    throw new RangeError(`The ${vendor} simulator has no "${variant}" variant`);
  }
  return variant;
}

/** Serialised event text in the flavour's shape (the current text unchanged). */
export function shapeText(text: string, variant: SimulatorVariant, reshape: Reshape): string {
  if (variant === "current") return text;
  const parsed = asFrame(JSON.parse(text));
  return parsed ? JSON.stringify(reshape(parsed, variant)) : text;
}
