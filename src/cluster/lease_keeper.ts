/**
 * Keeps (or waits for) one source's lease on an ingest node: tries to take it while no one
 * holds it, renews it every third of `leaseMs`, and gives it up, calling `onLose` so the
 * upstream socket is closed, as soon as a renewal fails and the lease could lapse before the
 * next attempt: the socket is always closed while the lease is still ours, never after
 * another node may have taken over.
 *
 * @module
 */
import type { Clock, TimerId } from "../platform/clock.ts";
import type { Logger } from "../platform/log.ts";
import type { Lease, LeaseGrant } from "./lease.ts";

/** Settings of a {@link LeaseKeeper}. */
export interface LeaseKeeperOptions {
  lease: Lease;
  leaseMs: number;
  clock: Clock;
  log: Logger;
  /** The lease is ours: start the upstream. */
  onAcquire: (grant: LeaseGrant) => void;
  /** The lease is (about to be) gone: stop the upstream now. */
  onLose: (reason: string) => void;
}

/** Acquires, renews and releases one source's lease. */
export class LeaseKeeper {
  readonly #o: LeaseKeeperOptions;
  #grant: LeaseGrant | undefined;
  /** Local deadline: the lease is surely valid before this (renewal start + leaseMs). */
  #validUntil = 0;
  #timer: TimerId | undefined;
  #busy = false;
  #closed = false;
  #paused = false;

  constructor(options: LeaseKeeperOptions) {
    this.#o = options;
  }

  /** The grant to append under while it is surely valid; undefined otherwise. */
  value(): string | undefined {
    if (!this.#grant) return undefined;
    return this.#o.clock.now() < this.#validUntil ? this.#grant.value : undefined;
  }

  /** True while this node holds the lease. */
  get holding(): boolean {
    return this.#grant !== undefined;
  }

  /** Starts trying to acquire. */
  start(): void {
    this.#schedule(0);
  }

  /**
   * Acts now instead of at the next step: acquires (another node released the lease) or
   * renews (Redis lost the lease: the renewal takes it back).
   */
  poke(): void {
    if (!this.#busy) this.#schedule(0);
  }

  /** Drops the lease locally without telling Redis (the append script fenced us). */
  lost(reason: string): void {
    if (!this.#grant) return;
    this.#grant = undefined;
    this.#o.onLose(reason);
    this.#schedule(this.#o.leaseMs / 3);
  }

  /**
   * Test hook standing in for a paused process: renewals and the local expiry check stop,
   * and nothing is released; appends keep using the old grant.
   */
  freeze(): void {
    this.#paused = true;
    if (this.#timer !== undefined) this.#o.clock.clearTimeout(this.#timer);
  }

  /** Stops, giving the lease back so another node takes over at once. */
  async close(): Promise<void> {
    this.#closed = true;
    if (this.#timer !== undefined) this.#o.clock.clearTimeout(this.#timer);
    const grant = this.#grant;
    if (!grant) return;
    this.#grant = undefined;
    this.#o.onLose("shutting down");
    try {
      await withDeadline(this.#o.lease.release(grant), this.#o.leaseMs / 3, this.#o.clock);
    } catch {
      // Redis away: the lease lapses by itself.
    }
  }

  #schedule(ms: number): void {
    if (this.#closed || this.#paused) return;
    if (this.#timer !== undefined) this.#o.clock.clearTimeout(this.#timer);
    this.#timer = this.#o.clock.setTimeout(() => {
      this.#timer = undefined;
      this.#tick();
    }, ms);
  }

  async #tick(): Promise<void> {
    if (this.#busy || this.#closed || this.#paused) return;
    this.#busy = true;
    const { clock, leaseMs, lease, log } = this.#o;
    const step = leaseMs / 3;
    try {
      if (!this.#grant) {
        const started = clock.now();
        const grant = await withDeadline(lease.acquire(), step, clock);
        if (grant && !this.#closed && !this.#paused) {
          this.#grant = grant;
          this.#validUntil = started + leaseMs;
          log.info("holding the source's upstream lease", { token: grant.token });
          this.#o.onAcquire(grant);
        }
      } else {
        const grant = this.#grant;
        const started = clock.now();
        let renewed: boolean | undefined;
        try {
          renewed = await withDeadline(lease.renew(grant), step, clock);
        } catch (err) {
          renewed = undefined;
          log.warn("lease renewal failed", { error: err instanceof Error ? err.message : err });
        }
        if (this.#grant !== grant || this.#paused) return;
        if (renewed === true) this.#validUntil = started + leaseMs;
        else if (renewed === false) this.lost("another node holds the lease");
        // The next attempt comes a step from now; if it could come after the lease lapses,
        // give the source up while it is still ours.
        else if (clock.now() + step * 1.5 >= this.#validUntil) {
          this.lost("the lease could not be renewed");
        }
      }
    } catch {
      // Redis away while not holding: try again next step.
    } finally {
      this.#busy = false;
      this.#schedule(step);
    }
  }
}

function withDeadline<T>(promise: Promise<T>, ms: number, clock: Clock): Promise<T> {
  let timer: TimerId | undefined;
  return Promise.race([
    promise,
    new Promise<never>((_, reject) => {
      timer = clock.setTimeout(() => reject(new Error(`no reply within ${ms} ms`)), ms);
    }),
  ]).finally(() => {
    if (timer !== undefined) clock.clearTimeout(timer);
  });
}
