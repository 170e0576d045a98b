/**
 * The connector contract every vendor connector meets, run against that vendor's simulator
 * with the real supervisor and sockets (no relay, no GraphQL): it connects, maps a fixture
 * from the corpus, drops an unroutable frame with a named reason, reconnects after the
 * server drops it, and stops when aborted. Vendor specifics live in each
 * `<vendor>_contract_test.ts`.
 *
 * @module
 */
import { assert, assertEquals } from "@std/assert";
import type { UpstreamEvent } from "../../src/model/event.ts";
import { systemClock } from "../../src/platform/clock.ts";
import { silentLogger } from "../../src/platform/log.ts";
import { createRedactor } from "../../src/platform/redact.ts";
import { denoWebSocketFactory } from "../../src/platform/websocket.ts";
import { vendorModule } from "../../src/upstreams/mod.ts";
import { Supervisor, type SupervisorStatus } from "../../src/upstreams/supervisor.ts";
import type { SimServer } from "../../src/simulators/sim_server.ts";
import { expectations, loadFixtures } from "../helpers/fixtures.ts";
import { waitFor } from "../helpers/relay.ts";

/** What a vendor's contract test provides. */
export interface ContractTarget {
  vendor: string;
  /** The running simulator's source config and server. */
  sourceConfig: Record<string, unknown>;
  server: SimServer;
  sendRaw(text: string): number;
  /** A corpus fixture (tests/fixtures/<vendor>/<name>.json) the connector must map. */
  fixture: string;
  /** A frame that cannot be routed, and the drop reason it must be counted under. */
  unroutable: { frame: string; reason: string };
}

/** The shared-model fields a fixture's expectations may name. */
const CORE_FIELDS = ["type", "action", "key", "subject", "actor"] as const;

/** Runs the contract as steps of `t`. */
export async function connectorContract(t: Deno.TestContext, target: ContractTarget) {
  const mod = vendorModule(String(target.sourceConfig.kind));
  const config = mod.configSchema.parse({
    ...target.sourceConfig,
    reconnect: { baseMs: 20, maxMs: 100, stableMs: 60_000 },
  });
  const [connector, ...more] = mod.createConnectors(config, {
    ctx: {
      log: silentLogger,
      rejectInterest: () => {},
      nowIso: () => new Date().toISOString(),
    },
    clock: systemClock,
    caCerts: [],
    fetch,
  });
  assertEquals(more.length, 0, "one socket for the contract source");
  const published: UpstreamEvent[] = [];
  let status: SupervisorStatus | undefined;
  const supervisor = new Supervisor({
    name: config.name,
    connector: connector!,
    timing: {
      backoff: { baseMs: 20, maxMs: 100 },
      stableMs: 60_000,
      connectTimeoutMs: config.connectTimeoutMs,
      authTimeoutMs: config.authTimeoutMs,
      silenceMs: 0,
    },
    clock: systemClock,
    random: Math.random,
    socketFactory: denoWebSocketFactory,
    publish: (e) => published.push(e),
    log: silentLogger,
    redact: createRedactor([]),
    onChange: (s) => (status = s),
  });
  const abort = new AbortController();
  const running = supervisor.run(abort.signal);
  const ready = (what: string) =>
    waitFor(() => supervisor.status().connection.state === "READY", what, 10_000);
  const fixture = loadFixtures(target.vendor).find((f) => f.name === target.fixture);
  if (!fixture) throw new Error(`no fixture ${target.vendor}/${target.fixture}`);
  const mapsFixture = async () => {
    const before = published.length;
    assertEquals(target.sendRaw(JSON.stringify(fixture.frame)), 1);
    await waitFor(() => published.length > before, "the fixture's event", 10_000);
    const event = published[before]!;
    assertEquals(event.vendor, mod.vendor);
    assertEquals(event.source, config.name);
    const want = expectations(fixture)[0]!;
    for (const field of CORE_FIELDS) {
      if (field in want) assertEquals(event[field], want[field], `${fixture.name}: ${field}`);
    }
  };
  try {
    await t.step("connects", async () => {
      await ready("READY");
      assertEquals(target.server.connections.size, 1);
    });
    await t.step(`maps the fixture ${target.fixture}`, mapsFixture);
    await t.step(`drops an unroutable frame as "${target.unroutable.reason}"`, async () => {
      const before = published.length;
      const dropped = supervisor.status().framesDropped;
      assertEquals(target.sendRaw(target.unroutable.frame), 1);
      await waitFor(() => supervisor.status().framesDropped === dropped + 1, "the drop");
      assertEquals(supervisor.status().dropsByReason.get(target.unroutable.reason), 1);
      assertEquals(published.length, before, "nothing published");
      assertEquals(supervisor.status().connection.state, "READY", "the socket stays up");
    });
    await t.step("reconnects after the server drops the socket", async () => {
      const accepted = target.server.accepted;
      target.server.dropConnections();
      await waitFor(() => target.server.accepted > accepted, "a new upgrade", 10_000);
      await ready("READY again");
      assert(supervisor.status().reconnects >= 1);
      await mapsFixture();
    });
    await t.step("honours abort: stops and closes its socket", async () => {
      abort.abort();
      await running;
      assertEquals(supervisor.status().connection.state, "STOPPED");
      assertEquals(status?.connection.state, "STOPPED");
      await waitFor(() => target.server.connections.size === 0, "socket closed", 5000);
    });
  } finally {
    abort.abort();
    await running;
  }
}
