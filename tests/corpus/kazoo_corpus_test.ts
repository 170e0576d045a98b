/** Kazoo fixture corpus: every frame in tests/fixtures/kazoo/ is delivered and mapped. */
import { createKazooSimulator } from "../../src/simulators/kazoo/simulator.ts";
import { runCorpus } from "../helpers/corpus.ts";

Deno.test("Kazoo corpus: every fixture is delivered and mapped", async (t) => {
  await using sim = createKazooSimulator();
  await sim.start();
  await runCorpus(t, {
    vendor: "kazoo",
    sourceConfig: sim.sourceConfig("voip"),
    sendRaw: (text) => sim.sendRaw(text),
    subscription: `subscription { kazooEvents(bindings: ["call.*.*", "object.*.*"]) {
      type key subject time payload name accountId routingKey binding callId } }`,
    field: "kazooEvents",
    registered: (s) => s.interest.length === 2,
  });
});
