/** DRP fixture corpus: every frame in tests/fixtures/drp/ is delivered and mapped. */
import { createDrpSimulator } from "../../src/simulators/drp/simulator.ts";
import { runCorpus } from "../helpers/corpus.ts";

Deno.test("DRP corpus: every fixture is delivered and mapped", async (t) => {
  await using sim = createDrpSimulator();
  await sim.start();
  await runCorpus(t, {
    vendor: "drp",
    sourceConfig: sim.sourceConfig("drp"),
    sendRaw: (text) => sim.sendRaw(text),
    subscription: `subscription { drpEvents {
      type action key subject actor time payload object original principal } }`,
    field: "drpEvents",
    registered: (s) => s.interest.includes("*.*.*"),
  });
});
