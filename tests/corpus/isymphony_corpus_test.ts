/** iSymphony fixture corpus: every frame in tests/fixtures/isymphony/ is delivered and mapped. */
import { createISymphonySimulator } from "../../src/simulators/isymphony/simulator.ts";
import { runCorpus } from "../helpers/corpus.ts";

Deno.test("iSymphony corpus: every fixture is delivered and mapped", async (t) => {
  await using sim = createISymphonySimulator();
  await sim.start();
  await runCorpus(t, {
    vendor: "isymphony",
    sourceConfig: sim.sourceConfig("pbx"),
    sendRaw: (text) => sim.sendRaw(text),
    subscription: `subscription { isymphonyEvents {
      type key subject actor time payload coreServerId userId username queue extensionNumber
      callSegmentId statusType } }`,
    field: "isymphonyEvents",
    registered: (s) => s.interest.includes("(all events)"),
  });
});
