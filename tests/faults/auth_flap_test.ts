/**
 * Fault: upstream credentials refused, then accepted again. The source goes to BACKOFF with
 * a lastError naming the refusal (and never the secret), then back to READY; its
 * subscription stays open throughout and receives what is sent once it is back. A healthy
 * source on the same relay keeps delivering every event.
 */
import { assert, assertEquals, assertStringIncludes } from "@std/assert";
import { createDrpSimulator } from "../../src/simulators/drp/simulator.ts";
import { createISymphonySimulator } from "../../src/simulators/isymphony/simulator.ts";
import { connectClient } from "../helpers/gql_client.ts";
import {
  DRP_SUB,
  drpRegistered,
  type DrpRow,
  FaultFigures,
  keysOf,
  steadyEmitter,
  tick,
  waitForSource,
} from "../helpers/fault_kit.ts";
import { startRelay, waitFor } from "../helpers/relay.ts";

const figures = new FaultFigures("auth_flap");
const FAST = { reconnect: { baseMs: 20, maxMs: 80 } };
const TOKEN = "flap-token-s3cr3t";

Deno.test("DRP token revoked then restored: BACKOFF with lastError, then READY; subscription kept", async () => {
  await using sim = createDrpSimulator({ tokens: [TOKEN] });
  await using healthySim = createDrpSimulator();
  await sim.start();
  await healthySim.start();
  await using relay = await startRelay([
    { name: "lab", kind: "drp", url: sim.url, token: { env: "DRP_TOKEN" }, ...FAST },
    healthySim.sourceConfig("ok"),
  ], { env: { DRP_TOKEN: TOKEN } });
  await using client = connectClient(relay.wsUrl);
  const affected = client.subscribe<DrpRow>(DRP_SUB, { source: "lab" });
  const healthy = client.subscribe<DrpRow>(DRP_SUB, { source: "ok" });
  await waitFor(() => drpRegistered(sim) && drpRegistered(healthySim), "registrations");
  const emitter = steadyEmitter(healthySim, "ok");

  assertEquals(sim.emit({ Type: "machines", Action: "save", Key: "before" }), 1);
  await affected.waitForCount(1);

  sim.revokeToken(TOKEN);
  sim.server.dropConnections();
  const refused = await waitForSource(
    relay.httpUrl,
    "lab",
    (s) => s.state === "BACKOFF" && (s.lastError ?? "").includes("HTTP 403"),
    "BACKOFF after the 403",
  );
  assertStringIncludes(refused.lastError ?? "", "rejected the credentials");
  const refusedBefore = sim.server.refused;
  await waitFor(() => sim.server.refused >= refusedBefore + 2, "two more refused attempts");
  assertEquals(sim.emit({ Type: "machines", Action: "save", Key: "while-refused" }), 0);

  sim.addToken(TOKEN);
  await waitFor(() => drpRegistered(sim), "re-registered with the restored token");
  await waitForSource(relay.httpUrl, "lab", (s) => s.state === "READY", "READY again");
  assertEquals(sim.emit({ Type: "machines", Action: "save", Key: "after" }), 1);
  const rows = await affected.waitForCount(2);
  assertEquals(keysOf(rows), ["before", "after"]);
  assertEquals(affected.completed, false);

  await emitter.stop();
  await healthy.waitForCount(emitter.sent.length);
  assertEquals(keysOf(healthy.data), emitter.sent);
  const leaks = relay.logs.join("\n") + JSON.stringify(refused);
  assert(!leaks.includes(TOKEN), "the token leaked into logs or status");

  figures.add("faultsInjected", sim.server.refused);
  figures.delivered(healthy.data.length, emitter.sent.length);
  figures.add("affectedDelivered", rows.length);
  figures.add("affectedExpected", 2);
});

Deno.test("iSymphony credentials changed then restored: 401 BACKOFF, then READY; subscription kept", async () => {
  await using sim = createISymphonySimulator();
  await using healthySim = createDrpSimulator();
  await sim.start();
  await healthySim.start();
  await using relay = await startRelay([
    { ...sim.sourceConfig("pbx"), ...FAST },
    healthySim.sourceConfig("ok"),
  ]);
  const { username, password } = sim.sourceConfig("pbx") as { username: string; password: string };
  await using client = connectClient(relay.wsUrl);
  const affected = client.subscribe<{ isymphonyEvents: { id: string; type: string } }>(
    `subscription { isymphonyEvents { id type } }`,
  );
  const healthy = client.subscribe<DrpRow>(DRP_SUB, { source: "ok" });
  await waitForSource(relay.httpUrl, "pbx", (s) => s.interest.includes("(all events)"), "filter");
  await waitFor(() => drpRegistered(healthySim), "healthy registration");
  const emitter = steadyEmitter(healthySim, "ok");

  assertEquals(sim.emit({ type: "agentLogin", username: "mike", queue: "Support" }).delivered, 1);
  await affected.waitForCount(1);

  sim.setCredentials(username, "rotated-password");
  sim.server.dropConnections();
  const refused = await waitForSource(
    relay.httpUrl,
    "pbx",
    (s) => s.state === "BACKOFF" && /HTTP 40[13]/.test(s.lastError ?? ""),
    "BACKOFF after the refusal",
  );
  await tick(100);

  sim.setCredentials(username, password);
  await waitForSource(
    relay.httpUrl,
    "pbx",
    (s) => s.state === "READY" && s.interest.includes("(all events)"),
    "READY with the filter again",
  );
  assertEquals(sim.emit({ type: "agentLogout", username: "mike", queue: "Support" }).delivered, 1);
  const rows = await affected.waitForCount(2);
  assertEquals(rows.map((r) => r.isymphonyEvents.type), ["agentLogin", "agentLogout"]);
  assertEquals(affected.completed, false);

  await emitter.stop();
  await healthy.waitForCount(emitter.sent.length);
  assertEquals(keysOf(healthy.data), emitter.sent);
  assert(!JSON.stringify(refused).includes(password));

  figures.add("faultsInjected", sim.server.refused);
  figures.delivered(healthy.data.length, emitter.sent.length);
  figures.add("affectedDelivered", rows.length);
  figures.add("affectedExpected", 2);
});

Deno.test("auth_flap figures", () => figures.print());
