/**
 * Admission of new subscriptions and sockets, shared by every transport (graphql-ws, SSE):
 * the per-connection cap, rate limits and the bound on unauthenticated sockets per address.
 *
 * Rate limits are built for reconnect storms (a relay restart brings every client back
 * within seconds) as much as for abuse:
 * - a keyed client (API key or JWT) has one bucket per effective scope ({@link scopeKey}),
 *   refilled at `subscriptionsPerMinute`, holding `subscriptionBurst` plus the most
 *   subscriptions that scope held at once in the last 10 minutes; a subscription that ends
 *   because its connection closed gives its token back, so a full reconnect of that key's
 *   sockets is admitted at once, while subscribing and completing in a loop is limited;
 * - an anonymous client (open relay) is limited per connection (a connection's bucket holds
 *   twice `maxSubscriptionsPerSocket`: a full set, then each one replaced at once, since a
 *   client that completes a subscription and opens another must not wait for a refill;
 *   refilled at `subscriptionsPerMinute`) and per remote
 *   address with a generous burst (`addressSubscriptionBurst`, refilled at
 *   `addressSubscriptionsPerMinute`), since many clients can share one address (NAT).
 *
 * @module
 */
import { type AccessScope, OPEN_SCOPE, scopeKey } from "../model/access.ts";
import type { Clock } from "../platform/clock.ts";
import { RateLimiter, refilled } from "./rate_limiter.ts";

/** The limits admission applies (from `server.limits`). */
export interface AdmissionLimits {
  maxSubscriptionsPerSocket: number;
  subscriptionsPerMinute: number;
  subscriptionBurst: number;
  addressSubscriptionsPerMinute: number;
  addressSubscriptionBurst: number;
  maxPendingSocketsPerAddress: number;
}

/** Why a subscription was not admitted: an error code and a message for the client. */
export interface Refusal {
  code: "LIMIT_EXCEEDED" | "RATE_LIMITED";
  message: string;
}

/** One client connection (a socket, or an SSE request) as admission sees it. */
export interface ConnectionAdmission {
  /**
   * Admits one new subscription given the connection's active count, taking its tokens;
   * undefined when admitted.
   */
  admit(active: number): Refusal | undefined;
  /** A subscription of this connection started (counts towards its scope's high-water). */
  started(): void;
  /**
   * A subscription of this connection ended; `connectionClosed` when it ended because its
   * connection did (its token is given back: the client will resubscribe on reconnect).
   */
  ended(connectionClosed: boolean): void;
}

/** How long a scope's high-water of active subscriptions is remembered. */
const HIGH_WATER_MS = 10 * 60_000;

/** Admission state for one relay. */
export class Admission {
  readonly #limits: AdmissionLimits;
  readonly #clock: Clock;
  readonly #perAddress: RateLimiter;
  readonly #keyed = new Map<string, KeyedEntry>();
  readonly #pending = new Map<string, number>();
  /** Counters for tests and metrics. */
  readonly stats = { rateLimited: 0, pendingRefused: 0, peakPending: 0 };

  constructor(limits: AdmissionLimits, clock: Clock) {
    this.#limits = limits;
    this.#clock = clock;
    this.#perAddress = new RateLimiter(
      { perMinute: limits.addressSubscriptionsPerMinute, burst: limits.addressSubscriptionBurst },
      clock,
    );
  }

  /** The limits in force. */
  get limits(): AdmissionLimits {
    return this.#limits;
  }

  /**
   * Reserves an unauthenticated-socket slot for `remote`; false when that address already
   * has `maxPendingSocketsPerAddress` sockets that have not authenticated. Deno reads a whole
   * frame (up to 64 MiB) before the relay sees it, so this bounds what one address can make
   * the relay buffer before authentication. Release with {@link releasePending}.
   */
  reservePending(remote: string | undefined): boolean {
    const key = remote ?? "unknown";
    const n = this.#pending.get(key) ?? 0;
    if (n >= this.#limits.maxPendingSocketsPerAddress) {
      this.stats.pendingRefused++;
      return false;
    }
    this.#pending.set(key, n + 1);
    this.stats.peakPending = Math.max(this.stats.peakPending, n + 1);
    return true;
  }

  /** Releases a slot taken by {@link reservePending}. */
  releasePending(remote: string | undefined): void {
    const key = remote ?? "unknown";
    const n = (this.#pending.get(key) ?? 1) - 1;
    if (n <= 0) this.#pending.delete(key);
    else this.#pending.set(key, n);
  }

  /** Unauthenticated sockets currently held for `remote`. */
  pending(remote: string | undefined): number {
    return this.#pending.get(remote ?? "unknown") ?? 0;
  }

  /**
   * Admission for a new connection with `scope` from `remote`. One small object per
   * connection (no closures, no map): it lives as long as its socket.
   */
  connection(scope: AccessScope, remote: string | undefined): ConnectionAdmission {
    return scope === OPEN_SCOPE
      ? new AnonymousConnection(this, this.#clock, remote)
      : new KeyedConnection(this, scopeKey(scope));
  }

  /** A refusal for going past the per-connection cap, or undefined. @internal */
  capped(active: number): Refusal | undefined {
    const max = this.#limits.maxSubscriptionsPerSocket;
    return active >= max
      ? { code: "LIMIT_EXCEEDED", message: `At most ${max} subscriptions per connection` }
      : undefined;
  }

  /** Counts and builds a rate-limit refusal. @internal */
  refuse(message: string): Refusal {
    this.stats.rateLimited++;
    return { code: "RATE_LIMITED", message };
  }

  /** Takes a token of `remote`'s address bucket. @internal */
  takeAddress(remote: string | undefined): boolean {
    return this.#perAddress.take(remote ?? "unknown");
  }

  /** A subscription of scope `key` ended; see {@link ConnectionAdmission.ended}. @internal */
  keyedEnded(key: string, connectionClosed: boolean): void {
    const entry = this.#entry(key);
    entry.active = Math.max(0, entry.active - 1);
    if (!connectionClosed) return;
    this.#refill(entry, this.#clock.now());
    entry.tokens = Math.min(this.#limits.subscriptionBurst + entry.high, entry.tokens + 1);
  }

  #entry(key: string): KeyedEntry {
    let entry = this.#keyed.get(key);
    if (!entry) {
      const now = this.#clock.now();
      entry = { tokens: this.#limits.subscriptionBurst, at: now, active: 0, high: 0, highAt: now };
      this.#keyed.set(key, entry);
    }
    return entry;
  }

  /** Refills `entry` to now; its capacity is the base burst plus its high-water. */
  #refill(entry: KeyedEntry, now: number): void {
    if (now - entry.highAt > HIGH_WATER_MS) {
      entry.high = entry.active;
      entry.highAt = now;
    }
    const capacity = this.#limits.subscriptionBurst + entry.high;
    entry.tokens = refilled(
      entry.tokens,
      entry.at,
      now,
      this.#limits.subscriptionsPerMinute,
      capacity,
    );
    entry.at = now;
  }

  /**
   * A subscription of scope `key` started: it counts towards the scope's high-water (its
   * extra capacity). @internal
   */
  keyedStarted(key: string): void {
    const entry = this.#entry(key);
    const now = this.#clock.now();
    this.#refill(entry, now);
    entry.active++;
    if (entry.active > entry.high) {
      entry.high = entry.active;
      entry.highAt = now;
    }
  }

  /**
   * Takes a token from the keyed bucket of the scope whose {@link scopeKey} is `key` (for
   * transports without a connection object, such as SSE requests).
   */
  takeKeyed(key: string): boolean {
    return this.#takeKeyed(key);
  }

  #takeKeyed(key: string): boolean {
    const entry = this.#entry(key);
    const now = this.#clock.now();
    this.#refill(entry, now);
    if (this.#keyed.size > 10_000) this.#prune(now);
    if (entry.tokens < 1) return false;
    entry.tokens -= 1;
    return true;
  }

  #prune(now: number): void {
    // Idle scopes with a full bucket carry nothing worth keeping.
    for (const [key, e] of this.#keyed) {
      this.#refill(e, now);
      if (e.active === 0 && e.tokens >= this.#limits.subscriptionBurst + e.high) {
        this.#keyed.delete(key);
      }
    }
  }
}

interface KeyedEntry {
  tokens: number;
  at: number;
  /** Subscriptions the scope holds now. */
  active: number;
  /** The most it held at once since `highAt` (a window of HIGH_WATER_MS). */
  high: number;
  highAt: number;
}

/**
 * An anonymous connection: its own token bucket (twice `maxSubscriptionsPerSocket`, see the
 * module doc), then its address's.
 */
class AnonymousConnection implements ConnectionAdmission {
  readonly #owner: Admission;
  readonly #clock: Clock;
  readonly #remote: string | undefined;
  #tokens: number;
  #at: number;

  constructor(owner: Admission, clock: Clock, remote: string | undefined) {
    this.#owner = owner;
    this.#clock = clock;
    this.#remote = remote;
    this.#tokens = 2 * owner.limits.maxSubscriptionsPerSocket;
    this.#at = clock.now();
  }

  admit(active: number): Refusal | undefined {
    const owner = this.#owner;
    const cap = owner.capped(active);
    if (cap) return cap;
    const { subscriptionsPerMinute, maxSubscriptionsPerSocket } = owner.limits;
    const now = this.#clock.now();
    const burst = 2 * maxSubscriptionsPerSocket;
    this.#tokens = refilled(this.#tokens, this.#at, now, subscriptionsPerMinute, burst);
    this.#at = now;
    if (this.#tokens < 1) {
      return owner.refuse(
        `Too many new subscriptions on this connection: at most ${subscriptionsPerMinute} a minute`,
      );
    }
    if (!owner.takeAddress(this.#remote)) {
      return owner.refuse(
        `Too many new subscriptions from this address: at most ${owner.limits.addressSubscriptionsPerMinute} a minute`,
      );
    }
    this.#tokens -= 1;
    return undefined;
  }

  started(): void {}

  ended(): void {}
}

/** A keyed connection: its scope's shared bucket and high-water. */
class KeyedConnection implements ConnectionAdmission {
  readonly #owner: Admission;
  readonly #key: string;

  constructor(owner: Admission, key: string) {
    this.#owner = owner;
    this.#key = key;
  }

  admit(active: number): Refusal | undefined {
    const owner = this.#owner;
    return owner.capped(active) ?? (owner.takeKeyed(this.#key) ? undefined : owner.refuse(
      `Too many new subscriptions: at most ${owner.limits.subscriptionsPerMinute} a minute`,
    ));
  }

  started(): void {
    this.#owner.keyedStarted(this.#key);
  }

  ended(connectionClosed: boolean): void {
    this.#owner.keyedEnded(this.#key, connectionClosed);
  }
}
