/**
 * What each vendor folder exports for the app to wire it: its config schema, how to build
 * its connector, and how subscription arguments become upstream interest plus an exact
 * local matcher. Nothing here knows GraphQL: arguments arrive as plain values.
 *
 * @module
 */
import type { z } from "zod";
import type { SubscriptionPart } from "../hub/hub.ts";
import type { InterestItem } from "../hub/interest.ts";
import type { Clock } from "../platform/clock.ts";
import type { Vendor } from "../model/event.ts";
import type { Connector, ConnectorContext } from "./connector.ts";

/** The common part of every vendor's source config. */
export interface SourceConfigBase {
  name: string;
  kind: string;
  url: string;
  history: number;
  resumeWindowMs: number;
  reconnect: { baseMs: number; maxMs: number; stableMs: number };
  connectTimeoutMs: number;
  authTimeoutMs: number;
  silenceMs: number;
  caCert?: string | undefined;
  caFile?: string | undefined;
}

/** What a connector factory gets besides its config. */
export interface ConnectorFactoryDeps {
  ctx: ConnectorContext;
  clock: Clock;
  /** PEM CA certificates from caCert/caFile. */
  caCerts: string[];
  /** For vendors with REST token endpoints. */
  fetch: typeof fetch;
}

/** One vendor's wiring. */
export interface VendorModule<C extends SourceConfigBase = SourceConfigBase> {
  /** The config `kind`. */
  readonly kind: C["kind"];
  readonly vendor: Vendor;
  readonly configSchema: z.ZodType<C>;
  /**
   * The connectors of one source: usually one; several when the vendor needs one socket per
   * scope (iland: one per company). They share the source's hub channel and interest.
   */
  createConnectors(config: C, deps: ConnectorFactoryDeps): Connector[];
  /**
   * A vendor subscription's share of one source, from the typed field's arguments.
   * Throws a RelayError `BAD_FILTER` for arguments the vendor cannot express.
   */
  plan(source: string, args: Record<string, unknown>): SubscriptionPart;
  /**
   * The cross-vendor `events(types:)` share of one source; `undefined` types means all.
   * `tenants`, when given, are the only tenants the client may see: vendors that register
   * per tenant (Kazoo accounts) register for those instead of the default.
   */
  planTypes(
    source: string,
    types: readonly string[] | undefined,
    tenants?: readonly string[],
  ): SubscriptionPart;
  /**
   * For two-way protocols: the frame that sends `args` upstream. Throws a RelayError
   * `BAD_USER_INPUT` for arguments that make no valid frame. Absent: the vendor is receive-only.
   */
  formatSend?(args: Record<string, unknown>): string;
  /**
   * True when everything interest key `narrow` receives upstream also arrives through key
   * `wide` (DRP `*.*.*` covers `machines.*.*`), so coverage of a standing wildcard vouches for
   * narrower subscriptions' replays. Must never say true wrongly; absent means never.
   */
  interestCovers?(wide: string, narrow: string): boolean;
  /** Interest the config asks to keep registered at all times. */
  standing(config: C): InterestItem[];
  /**
   * Vendors with tenants: the tenant interest key `key` of `source` registers for, or
   * undefined when unknown, so `Source` shows a tenant-limited key only its own tenants'.
   */
  interestTenant?(source: string, key: string): string | undefined;
  /** Vendors with tenants: the tenant a `Source.interest` line names, or undefined. */
  describedTenant?(source: string, line: string): string | undefined;
}
