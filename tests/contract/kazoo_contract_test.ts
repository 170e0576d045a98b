/** The connector contract for Kazoo: a 4.0 frame (no action) maps; an event without binding drops. */
import { createKazooSimulator } from "../../src/simulators/kazoo/simulator.ts";
import { connectorContract } from "./connector_contract.ts";

Deno.test("Kazoo connector meets the connector contract", async (t) => {
  await using sim = createKazooSimulator();
  await sim.start();
  await connectorContract(t, {
    vendor: "kazoo",
    sourceConfig: sim.sourceConfig("voip"),
    server: sim.server,
    sendRaw: (text) => sim.sendRaw(text),
    fixture: "v40-call-frame-no-action",
    unroutable: {
      frame: JSON.stringify({ action: "event", name: "CHANNEL_CREATE", data: {} }),
      reason: "blackhole event without subscribed_key",
    },
  });
});
