/**
 * Prometheus metrics on a registry of our own (prom-client's Node default metrics do not
 * work under Deno, so none are registered).
 *
 * Almost every family is read from state the relay already keeps, at scrape time
 * (`collect()`): source status, hub counters, open sockets. Only deliveries and client
 * disconnects are counted as they happen, once per written batch (see
 * {@link DeliveryObserver}), into plain numbers the scrape copies out, so the fan-out
 * path pays one map update per event and shared stream, never one per socket.
 *
 * Labels are bounded: source and vendor names come from the config, states and drop reasons
 * are fixed sets, fields are schema fields, and close codes outside the known set are
 * reported as "other". No label carries an event key, a client id or a credential.
 *
 * @module
 */
import { Counter, Gauge, Histogram, Registry } from "prom-client";
import type { DeliveryObserver } from "../graphql/delivery_observer.ts";
import type { Event } from "../model/event.ts";
import type { Clock } from "../platform/clock.ts";
import type { Relay, RunningSource } from "../relay.ts";
import { SOURCE_STATES } from "../upstreams/supervisor.ts";
import { bearer, timingSafeEqual } from "./auth.ts";

/** The relay's version, as `relay_build_info` reports it. */
export const RELAY_VERSION = "0.1.0";

/** Close codes reported as themselves; any other becomes "other" (clients pick 3000-4999). */
const KNOWN_CLOSE_CODES = new Set([
  1000,
  1001,
  1002,
  1003,
  1005,
  1006,
  1007,
  1008,
  1009,
  1011,
  1012,
  1013,
  1014,
  1015,
  4400,
  4401,
  4403,
  4406,
  4408,
  4409,
  4429,
  4499,
  4500,
  4504,
]);

/** The class of a drop reason: the reasons name fields, the label must stay a small set. */
export function dropClass(reason: string): "not_json" | "invalid" | "too_deep" | "connector_error" {
  if (reason === "not JSON") return "not_json";
  if (reason.startsWith("nested deeper than")) return "too_deep";
  if (reason.startsWith("connector error")) return "connector_error";
  return "invalid";
}

/** Delivery lag buckets (seconds): sub-millisecond fan-out up to a stalled client. */
const LAG_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5];

/** What the metrics read at scrape time. */
export interface MetricsState {
  /** The unscoped relay: every source. */
  relay: Relay;
  running: readonly RunningSource[];
  /** Open client connections. */
  connections(): number;
  /** Running subscriptions per root field. */
  subscriptionsByField(): Map<string, number>;
  /** True on the node holding `source` (cluster mode); undefined outside cluster mode. */
  holder?: ((source: string) => boolean) | undefined;
}

/** The relay's metrics: the registry to expose and the observer the fan-out reports to. */
export interface RelayMetrics {
  readonly registry: Registry;
  readonly observer: DeliveryObserver;
  /** Binds the live state; until then the collect-time families are empty. */
  bind(state: MetricsState): void;
  /** The exposition text. */
  render(): Promise<string>;
  readonly contentType: string;
}

/** Creates the registry and every family. */
export function createRelayMetrics(clock: Clock): RelayMetrics {
  const registry = new Registry();
  const registers = [registry];
  let state: MetricsState | undefined;
  const deliveries = new Map<string, number>();
  const closes = new Map<string, number>();

  const lag = new Histogram({
    name: "relay_delivery_lag_seconds",
    help: "Time from an event's arrival from upstream to its write to client sockets.",
    buckets: LAG_BUCKETS,
    registers,
  });

  const observer: DeliveryObserver = {
    delivered(event: Event, count: number, live: boolean) {
      deliveries.set(event.source, (deliveries.get(event.source) ?? 0) + count);
      if (live) lag.observe(Math.max(0, clock.now() - Date.parse(event.receivedAt)) / 1000);
    },
    closed(code: number) {
      const label = KNOWN_CLOSE_CODES.has(code) ? String(code) : "other";
      closes.set(label, (closes.get(label) ?? 0) + 1);
    },
  };

  const sources = () => state?.relay.sources() ?? [];

  new Gauge({
    name: "relay_build_info",
    help: "Always 1; the labels say which relay and Deno this is.",
    labelNames: ["version", "deno"],
    registers,
  }).set({ version: RELAY_VERSION, deno: Deno.version.deno }, 1);

  new Gauge({
    name: "relay_upstream_up",
    help: "1 when the source's upstream connection is READY.",
    labelNames: ["source", "vendor"],
    registers,
    collect() {
      this.reset();
      for (const s of sources()) {
        this.set({ source: s.name, vendor: s.vendor }, s.connection.state === "READY" ? 1 : 0);
      }
    },
  });

  new Gauge({
    name: "relay_upstream_state",
    help: "1 for the source's current connection state, 0 for the others.",
    labelNames: ["source", "state"],
    registers,
    collect() {
      this.reset();
      for (const s of sources()) {
        for (const st of SOURCE_STATES) {
          this.set({ source: s.name, state: st }, s.connection.state === st ? 1 : 0);
        }
      }
    },
  });

  // Counters copied from monotonic state: reset, then add the current total.
  const copied = (
    name: string,
    help: string,
    labelNames: string[],
    rows: () => Iterable<[Record<string, string>, number]>,
  ) =>
    new Counter({
      name,
      help,
      labelNames,
      registers,
      collect() {
        this.reset();
        for (const [labels, value] of rows()) this.inc(labels, value);
      },
    });

  copied(
    "relay_upstream_events_received_total",
    "Events received from the source's upstream.",
    ["source"],
    () => sources().map((s) => [{ source: s.name }, s.eventsReceived]),
  );
  copied(
    "relay_upstream_frames_dropped_total",
    "Upstream frames dropped as malformed, by reason class.",
    ["source", "reason"],
    function* () {
      for (const s of sources()) {
        const totals = new Map<string, number>();
        for (const [reason, n] of s.dropsByReason) {
          const kind = dropClass(reason);
          totals.set(kind, (totals.get(kind) ?? 0) + n);
        }
        for (const [reason, n] of totals) yield [{ source: s.name, reason }, n];
      }
    },
  );
  copied(
    "relay_upstream_reconnects_total",
    "Reconnect attempts to the source's upstream.",
    ["source"],
    () => sources().map((s) => [{ source: s.name }, s.reconnects]),
  );
  copied(
    "relay_deliveries_total",
    "next messages sent to clients, by the source of their event.",
    ["source"],
    () => [...deliveries].map(([source, n]) => [{ source }, n]),
  );
  copied(
    "relay_client_disconnects_total",
    "Client WebSocket closes, by close code.",
    ["code"],
    () => [...closes].map(([code, n]) => [{ code }, n]),
  );

  new Gauge({
    name: "relay_upstream_interest",
    help: "Registrations the relay holds upstream for the source.",
    labelNames: ["source"],
    registers,
    collect() {
      this.reset();
      for (const s of sources()) this.set({ source: s.name }, s.interest.length);
    },
  });

  new Gauge({
    name: "relay_client_connections",
    help: "Open client WebSocket connections.",
    registers,
    collect() {
      this.set(state?.connections() ?? 0);
    },
  });

  new Gauge({
    name: "relay_client_subscriptions",
    help: "Running client subscriptions, by root field.",
    labelNames: ["field"],
    registers,
    collect() {
      this.reset();
      for (const [field, n] of state?.subscriptionsByField() ?? []) this.set({ field }, n);
    },
  });

  const clusterHolder = new Gauge({
    name: "relay_cluster_holder",
    help: "1 on the node holding the source's upstream connection (cluster mode).",
    labelNames: ["source"],
    registers: [],
    collect() {
      this.reset();
      const holder = state?.holder;
      if (!holder) return;
      for (const r of state!.running) {
        this.set({ source: r.config.name }, holder(r.config.name) ? 1 : 0);
      }
    },
  });

  return {
    registry,
    observer,
    bind(s) {
      state = s;
      // Only a clustered relay has holders; a single node shows no such family.
      if (s.holder && !registry.getSingleMetric("relay_cluster_holder")) {
        registry.registerMetric(clusterHolder);
      }
    },
    render: () => registry.metrics(),
    contentType: registry.contentType,
  };
}

/** `server.metrics` as the handler applies it. */
export interface MetricsAccess {
  /** Bearer token the scraper must send; undefined for none. */
  token: string | undefined;
  /** Serve only loopback clients (auth configured and no token). */
  loopbackOnly: boolean;
}

/** Whether a scrape request may see the metrics. */
export async function metricsAllowed(
  access: MetricsAccess,
  authorization: string | null,
  remote: string | undefined,
): Promise<boolean> {
  if (access.token !== undefined) {
    const given = bearer(authorization);
    // Digests first, so the comparison takes the same time whatever the lengths.
    return given !== undefined && timingSafeEqual(await sha256(given), await sha256(access.token));
  }
  if (!access.loopbackOnly) return true;
  return remote !== undefined && isLoopback(remote);
}

/** True for 127.0.0.0/8, ::1 and IPv4-mapped loopback. */
export function isLoopback(address: string): boolean {
  const a = address.toLowerCase();
  return a === "::1" || a.startsWith("127.") || a.startsWith("::ffff:127.");
}

async function sha256(text: string): Promise<Uint8Array> {
  return new Uint8Array(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(text)));
}
