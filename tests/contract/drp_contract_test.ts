/** The connector contract for DRP: a v3 server's event without Principal maps. */
import { createDrpSimulator } from "../../src/simulators/drp/simulator.ts";
import { connectorContract } from "./connector_contract.ts";

Deno.test("DRP connector meets the connector contract", async (t) => {
  await using sim = createDrpSimulator();
  await sim.start();
  await connectorContract(t, {
    vendor: "drp",
    sourceConfig: sim.sourceConfig("drp"),
    server: sim.server,
    sendRaw: (text) => sim.sendRaw(text),
    fixture: "v3-2017-seed-profile-save",
    unroutable: {
      frame: JSON.stringify({ Time: "2024-01-01T00:00:00Z", Type: "machines", Action: "save" }),
      reason: "DRP event without Key",
    },
  });
});
