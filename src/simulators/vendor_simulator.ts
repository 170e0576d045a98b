/**
 * The shape every vendor simulator has, so demo mode and the test helpers can start,
 * break and feed any of them the same way.
 *
 * @module
 */
import type { SimServer } from "./sim_server.ts";
import { checkVariant, type Reshape, shapeText, type SimulatorVariant } from "./variant.ts";

/** Options every simulator accepts. */
export interface SimulatorOptions {
  /** 0 (default) picks a free loopback port. */
  port?: number;
  hostname?: string;
  /** The server flavour to play (default `current`; see variant.ts and `<vendor>/variants.ts`). */
  variant?: SimulatorVariant;
}

/** A running fake vendor endpoint. */
export interface VendorSimulator extends AsyncDisposable {
  /** The listening server: connections, received frames, drop/stop/restart controls. */
  readonly server: SimServer;
  /** The full WebSocket URL a client (the relay) dials. */
  readonly url: string;
  start(): Promise<void>;
  stop(): Promise<void>;
  restart(): Promise<void>;
  /** Emits one realistic, randomly chosen event (demo mode's steady trickle). */
  emitRandom(random: () => number): void;
  /**
   * A relay `sources[]` entry that connects to this simulator with valid credentials
   * (`kind`, `url` and the vendor's auth fields).
   */
  sourceConfig(name: string): Record<string, unknown>;
}

/**
 * The lifecycle every simulator delegates to its {@link SimServer}; vendor classes extend it
 * and add the protocol.
 */
export abstract class ServedSimulator implements VendorSimulator {
  abstract readonly server: SimServer;
  abstract readonly url: string;
  abstract emitRandom(random: () => number): void;
  abstract sourceConfig(name: string): Record<string, unknown>;
  /** The flavours this vendor's simulator can play. */
  abstract readonly variants: readonly SimulatorVariant[];
  /** Reshapes one event frame into a flavour. */
  protected abstract readonly reshape: Reshape;
  #variant: SimulatorVariant = "current";

  /** The server flavour events are sent in; may be switched while running. */
  get variant(): SimulatorVariant {
    return this.#variant;
  }

  set variant(v: SimulatorVariant) {
    this.#variant = checkVariant(this.constructor.name, v, this.variants);
  }

  /** Event text in the current flavour's shape. */
  protected shaped(text: string): string {
    return shapeText(text, this.#variant, this.reshape);
  }

  /** Starts listening (on the same port after a stop). */
  start(): Promise<void> {
    return this.server.start();
  }

  /** Stops listening and drops every socket; server-side state survives. */
  stop(): Promise<void> {
    return this.server.stop();
  }

  /** Stops and starts again on the same port; nothing is replayed. */
  restart(): Promise<void> {
    return this.server.restart();
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.stop();
  }
}

/** Picks one element of a non-empty list with `random` in [0, 1). */
export function pick<T>(random: () => number, items: readonly T[]): T {
  const item = items[Math.floor(random() * items.length)];
  if (item === undefined) throw new RangeError("pick() needs a non-empty list");
  return item;
}
