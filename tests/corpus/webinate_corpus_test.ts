/** Webinate fixture corpus: every frame in tests/fixtures/webinate/ is delivered and mapped. */
import { createWebinateSimulator } from "../../src/simulators/webinate/simulator.ts";
import { runCorpus } from "../helpers/corpus.ts";

Deno.test("Webinate corpus: every fixture is delivered and mapped", async (t) => {
  await using sim = createWebinateSimulator();
  await sim.start();
  await runCorpus(t, {
    vendor: "webinate",
    sourceConfig: { ...sim.sourceConfig("users"), settleMs: 20 },
    sendRaw: (text) => sim.sendRaw(text),
    subscription: `subscription { webinateEvents {
      type key subject actor payload eventType eventName username file bucket message val
      error } }`,
    field: "webinateEvents",
    registered: () => true,
  });
});
