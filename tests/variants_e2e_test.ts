/**
 * Every simulator's server flavours (src/simulators/variant.ts, `<vendor>/variants.ts`)
 * against the real relay: older and newer server shapes, optional fields left out, unknown
 * fields added. The flavour is switched on the running simulator between steps, so one
 * relay connection meets every shape; each step checks delivery and the mapped fields
 * that flavour can carry.
 */
import { assertEquals } from "@std/assert";
import { createDrpSimulator } from "../src/simulators/drp/simulator.ts";
import { createIlandSimulator } from "../src/simulators/iland/simulator.ts";
import { createISymphonySimulator } from "../src/simulators/isymphony/simulator.ts";
import { createKazooSimulator } from "../src/simulators/kazoo/simulator.ts";
import { createWebinateSimulator } from "../src/simulators/webinate/simulator.ts";
import type { SimulatorVariant } from "../src/simulators/variant.ts";
import { type Collector, connectClient } from "./helpers/gql_client.ts";
import { sourceStatus, startRelay, type TestRelay, waitFor } from "./helpers/relay.ts";

type Row = Record<string, Record<string, unknown>>;

/** Subscribes, waits until the source is READY with the subscriber, returns the collector. */
async function subscribed(
  relay: TestRelay,
  name: string,
  query: string,
  registered: (interest: string[]) => boolean = () => true,
): Promise<{ sub: Collector<Row>; close: () => Promise<void> }> {
  const client = connectClient(relay.wsUrl);
  const sub = client.subscribe<Row>(query);
  await waitFor(
    async () => {
      const s = await sourceStatus(relay.httpUrl, name);
      return s.state === "READY" && s.subscribers === 1 && registered(s.interest);
    },
    `${name} READY`,
    10_000,
  );
  return { sub, close: () => client.close() };
}

/** The fields of the next `n` results, after the `seen` already checked. */
async function next(sub: Collector<Row>, field: string, seen: number, n: number) {
  const rows = await sub.waitForCount(seen + n, 10_000);
  return rows.slice(seen, seen + n).map((r) => r[field]!);
}

Deno.test("DRP flavours: v3 without Principal/Original, sparse, extra fields", async (t) => {
  await using sim = createDrpSimulator();
  await sim.start();
  await using relay = await startRelay([sim.sourceConfig("drp")], { logLevel: "error" });
  const { sub, close } = await subscribed(
    relay,
    "drp",
    `subscription { drpEvents { type key subject actor principal original } }`,
    (i) => i.includes("*.*.*"),
  );
  let seen = 0;
  for (const variant of sim.variants) {
    await t.step(variant, async () => {
      sim.variant = variant;
      sim.emit({ Type: "machines", Action: "save", Key: "m1", Object: { Name: "n1" } });
      const [e] = await next(sub, "drpEvents", seen++, 1);
      const principal = variant === "older" || variant === "sparse" ? "" : "user:rocketskates";
      assertEquals(e, {
        type: "machines",
        key: "m1",
        subject: variant === "sparse" ? null : "n1",
        actor: principal || null,
        principal,
        original: null,
      });
    });
  }
  await close();
  assertEquals((await sourceStatus(relay.httpUrl, "drp")).framesDropped, 0);
});

Deno.test("iland flavours: older SDK tasks, company_id on events, sparse, extra", async (t) => {
  await using sim = createIlandSimulator();
  await sim.start();
  await using relay = await startRelay([sim.sourceConfig("cloud")], { logLevel: "error" });
  const { sub, close } = await subscribed(
    relay,
    "cloud",
    `subscription { ilandEvents(kinds: [EVENT, TASK]) { type kind companyId taskType } }`,
  );
  let seen = 0;
  for (const variant of sim.variants) {
    await t.step(variant, async () => {
      sim.variant = variant;
      sim.emitEvent({ type: "VM_DELETE" });
      sim.emitTask({ status: "success", task_type: "VCD" });
      const [event, task] = await next(sub, "ilandEvents", seen, 2);
      seen += 2;
      assertEquals(event, {
        type: "VM_DELETE",
        kind: "EVENT",
        companyId: "1000123",
        taskType: null,
      });
      assertEquals(task, {
        type: variant === "sparse" ? "TASK" : "TASK_SUCCESS",
        kind: "TASK",
        companyId: "1000123",
        taskType: variant === "sparse" ? null : variant === "older" ? "vcd" : "VCD",
      });
    });
  }
  await close();
  assertEquals((await sourceStatus(relay.httpUrl, "cloud")).framesDropped, 0);
});

Deno.test("iSymphony flavours: no time and no ids, extra properties", async (t) => {
  await using sim = createISymphonySimulator();
  await sim.start();
  await using relay = await startRelay([sim.sourceConfig("pbx")], { logLevel: "error" });
  const { sub, close } = await subscribed(
    relay,
    "pbx",
    `subscription { isymphonyEvents { type actor queue coreServerId } }`,
    (i) => i.includes("(all events)"),
  );
  let seen = 0;
  for (const variant of sim.variants) {
    await t.step(variant, async () => {
      sim.variant = variant;
      sim.emit({ type: "agentLogin", username: "u1", queue: "Support" });
      const [e] = await next(sub, "isymphonyEvents", seen++, 1);
      assertEquals([e!.type, e!.actor, e!.queue], ["agentLogin", "u1", "Support"]);
      assertEquals(e!.coreServerId === null, variant === "sparse");
    });
  }
  await close();
  assertEquals((await sourceStatus(relay.httpUrl, "pbx")).framesDropped, 0);
});

Deno.test("Kazoo flavours: 4.0 frames, client-form routing keys, sparse, extra", async (t) => {
  await using sim = createKazooSimulator();
  await sim.start();
  await using relay = await startRelay([sim.sourceConfig("voip")], { logLevel: "error" });
  const { sub, close } = await subscribed(
    relay,
    "voip",
    `subscription { kazooEvents(bindings: ["call.*.*"]) { type accountId callId binding } }`,
    (i) => i.length === 1,
  );
  let seen = 0;
  for (const variant of sim.variants) {
    await t.step(variant, async () => {
      sim.variant = variant;
      sim.emitCall({ event: "CHANNEL_CREATE", callId: `c-${variant}` });
      const [e] = await next(sub, "kazooEvents", seen++, 1);
      // Every flavour yields the account: from the key, the data, or the binding's account.
      assertEquals(e, {
        type: "CHANNEL_CREATE",
        accountId: sim.accountId,
        callId: `c-${variant}`,
        binding: "call.*.*",
      });
    });
  }
  await close();
  assertEquals((await sourceStatus(relay.httpUrl, "voip")).framesDropped, 0);
});

for (const generation of ["A", "B"] as const) {
  Deno.test(`Webinate Gen ${generation} flavours: files[], mantle volumes, sparse, extra`, async (t) => {
    await using sim = createWebinateSimulator({ generation });
    await sim.start();
    const config = { ...sim.sourceConfig("users"), settleMs: 20 };
    await using relay = await startRelay([config], { logLevel: "error" });
    const { sub, close } = await subscribed(
      relay,
      "users",
      `subscription { webinateEvents { type eventType username key } }`,
    );
    // Gen B sends nothing to a socket whose session lookup is still running (§3.4): wait
    // until one event is actually sent, so no step's events go to a socket not yet served.
    await waitFor(() => sim.emit({ type: "Login", username: "warmup" }).delivered === 1, "served");
    await sub.waitForCount(1);
    let seen = 1;
    for (const variant of sim.variants as readonly SimulatorVariant[]) {
      await t.step(variant, async () => {
        sim.variant = variant;
        sim.emit({ type: "Login", username: "alice" });
        sim.emit({ type: "FileUploaded", username: "alice", file: { _id: "f1", name: "a" } });
        sim.emit({ type: "BucketUploaded", username: "alice", bucket: { _id: "b1", name: "b" } });
        const rows = await next(sub, "webinateEvents", seen, 3);
        seen += 3;
        const user = variant === "sparse" ? null : "alice";
        assertEquals(
          rows,
          [
            { type: "Login", eventType: 1, username: user, key: user },
            { type: "FileUploaded", eventType: 5, username: user, key: user ?? null },
            { type: "BucketUploaded", eventType: 7, username: user, key: user ?? null },
          ].map((r, i) => i > 0 && variant !== "sparse" ? { ...r, key: i === 1 ? "f1" : "b1" } : r),
        );
      });
    }
    await close();
    assertEquals((await sourceStatus(relay.httpUrl, "users")).framesDropped, 0);
  });
}
