/** The connector contract for iSymphony: the documented userLogin maps; no `type` drops. */
import { createISymphonySimulator } from "../../src/simulators/isymphony/simulator.ts";
import { connectorContract } from "./connector_contract.ts";

Deno.test("iSymphony connector meets the connector contract", async (t) => {
  await using sim = createISymphonySimulator();
  await sim.start();
  await connectorContract(t, {
    vendor: "isymphony",
    sourceConfig: sim.sourceConfig("pbx"),
    server: sim.server,
    sendRaw: (text) => sim.sendRaw(text),
    fixture: "doc-userlogin",
    unroutable: {
      frame: JSON.stringify({ time: 1436889915953, username: "mike" }),
      reason: "iSymphony frame without type",
    },
  });
});
