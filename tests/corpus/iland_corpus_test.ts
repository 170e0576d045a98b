/** iland fixture corpus: every frame in tests/fixtures/iland/ is delivered and mapped. */
import { createIlandSimulator } from "../../src/simulators/iland/simulator.ts";
import { runCorpus } from "../helpers/corpus.ts";

Deno.test("iland corpus: every fixture is delivered and mapped", async (t) => {
  await using sim = createIlandSimulator();
  await sim.start();
  await runCorpus(t, {
    vendor: "iland",
    // The socket is scoped to company 1000123: events without a company fall back to it.
    sourceConfig: { ...sim.sourceConfig("cloud"), companyId: "1000123" },
    sendRaw: (text) => sim.sendRaw(text),
    subscription: `subscription { ilandEvents(kinds: null) {
      type action key subject actor time payload kind kindName entityType companyId ownerType
      taskUuid details status progress taskType } }`,
    field: "ilandEvents",
    registered: (s) => s.interest.includes("companyId=1000123"),
  });
});
