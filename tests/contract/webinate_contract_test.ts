/** The connector contract for Webinate: a Gen A file without _id maps; no type drops. */
import { createWebinateSimulator } from "../../src/simulators/webinate/simulator.ts";
import { connectorContract } from "./connector_contract.ts";

Deno.test("Webinate connector meets the connector contract", async (t) => {
  await using sim = createWebinateSimulator();
  await sim.start();
  await connectorContract(t, {
    vendor: "webinate",
    sourceConfig: { ...sim.sourceConfig("users"), settleMs: 20 },
    server: sim.server,
    sendRaw: (text) => sim.sendRaw(text),
    fixture: "genA-file-without-id",
    unroutable: {
      frame: JSON.stringify({ username: "bob", file: { _id: "f1" } }),
      reason: "Webinate frame without eventType or type",
    },
  });
});
