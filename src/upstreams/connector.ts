/**
 * The contract between the shared supervisor and a vendor connector. A connector only
 * knows its vendor: how to dial, how to authenticate, what a frame means, and how to turn
 * the wanted interest into frames. The supervisor owns the lifecycle.
 *
 * @module
 */
import type { InterestItem } from "../hub/interest.ts";
import type { Logger } from "../platform/log.ts";
import type { DialOptions } from "../platform/websocket.ts";
import type { UpstreamEvent, Vendor } from "../model/event.ts";
import type { UpstreamError, UpstreamSession } from "./session.ts";

/** Where and how to open the socket. */
export interface DialTarget {
  url: string;
  options: DialOptions;
}

/** What one inbound frame turned out to be. */
export type FrameOutcome =
  | { kind: "events"; events: UpstreamEvent[] }
  /** Protocol traffic (acks, replies) handled by the connector. */
  | { kind: "control" }
  /** Malformed or schema-invalid: counted, logged, dropped. */
  | { kind: "dropped"; reason: string };

/** Facilities the supervisor hands a connector. */
export interface ConnectorContext {
  log: Logger;
  /** Ends every subscription that holds `key` with BAD_FILTER (the upstream refused it). */
  rejectInterest(key: string, message: string): void;
  /** Receive time for events, ISO-8601. */
  nowIso(): string;
}

/** A vendor connector. */
export interface Connector {
  readonly vendor: Vendor;
  /** Resolves the dial target, e.g. fetching a token first. May throw an UpstreamError. */
  dial(previous?: UpstreamError): Promise<DialTarget>;
  /** Runs the in-band handshake on a fresh socket; resolves when authenticated. */
  authenticate(session: UpstreamSession): Promise<void>;
  /** Interprets one frame received after authentication. */
  onFrame(session: UpstreamSession, frame: string): FrameOutcome;
  /**
   * Brings the session's upstream interest in line with `wanted`. Called with the full set
   * right after every (re)connect and again whenever it changes; never concurrently.
   */
  syncInterest(session: UpstreamSession, wanted: ReadonlyMap<string, InterestItem>): Promise<void>;
  /** Sends something the upstream must answer, to tell a quiet socket from a dead one. */
  probe?(session: UpstreamSession): void;
  /** The interest registered upstream right now, in the vendor's own words. */
  describeInterest(): string[];
}
