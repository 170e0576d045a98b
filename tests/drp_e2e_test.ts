import { assert, assertEquals } from "@std/assert";
import { createDrpSimulator } from "../src/simulators/drp.ts";
import { connectClient } from "./helpers/gql_client.ts";
import { httpQuery, startRelay, waitFor } from "./helpers/relay.ts";

const DRP_SUB = `subscription($type: String, $action: String, $key: String, $after: ID) {
  drpEvents(type: $type, action: $action, key: $key, after: $after) {
    id type action key subject actor object principal
  }
}`;

type DrpRow = {
  drpEvents: { id: string; type: string; action: string; key: string; subject: string | null };
};

Deno.test("drpEvents(type: profiles) gets profile events and nothing else", async () => {
  await using sim = createDrpSimulator();
  await sim.start();
  await using relay = await startRelay([sim.sourceConfig("lab")]);
  await using client = connectClient(relay.wsUrl);
  const profiles = client.subscribe<DrpRow>(DRP_SUB, { type: "profiles" });
  await waitFor(() => sim.sessions()[0]?.filters.includes("profiles.*.*"), "registration");
  sim.emit({ Type: "machines", Action: "update", Key: "m1", Object: { Name: "m1" } });
  sim.emit({ Type: "profiles", Action: "save", Key: "global", Object: { Name: "global" } });
  const [first] = await profiles.waitForCount(1);
  assertEquals(first?.drpEvents.type, "profiles");
  assertEquals(first?.drpEvents.subject, "global");
  assertEquals(profiles.results.length, 1);
});
