/** The connector contract for iland: a TASK without status maps; an EVENT without uuid drops. */
import { createIlandSimulator } from "../../src/simulators/iland/simulator.ts";
import { connectorContract } from "./connector_contract.ts";

Deno.test("iland connector meets the connector contract", async (t) => {
  await using sim = createIlandSimulator();
  await sim.start();
  await connectorContract(t, {
    vendor: "iland",
    sourceConfig: sim.sourceConfig("cloud"),
    server: sim.server,
    sendRaw: (text) => sim.sendRaw(text),
    fixture: "task-without-status",
    unroutable: {
      frame: JSON.stringify({ type: "EVENT", data: { type: "VM_CREATE" } }),
      reason: "iland EVENT without uuid",
    },
  });
});
