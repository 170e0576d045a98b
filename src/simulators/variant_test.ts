import { assertEquals, assertThrows } from "@std/assert";
import { reshapeDrp } from "./drp/variants.ts";
import { reshapeIland } from "./iland/variants.ts";
import { reshapeISymphony } from "./isymphony/variants.ts";
import { reshapeKazoo } from "./kazoo/variants.ts";
import { reshapeWebinate } from "./webinate/variants.ts";
import { createISymphonySimulator } from "./isymphony/simulator.ts";

Deno.test("variants reshape the wire frame as each flavour documents", () => {
  const drp = {
    Time: "t",
    Type: "machines",
    Action: "save",
    Key: "k",
    Principal: "p",
    Object: {},
    Original: null,
  };
  assertEquals(Object.keys(reshapeDrp(drp, "older")), ["Time", "Type", "Action", "Key", "Object"]);
  assertEquals(reshapeIland({ type: "TASK", data: { uuid: "u", status: "s" } }, "sparse"), {
    type: "TASK",
    data: { uuid: "u" },
  });
  assertEquals(reshapeISymphony({ type: "x", time: 1, userId: "u", username: "n" }, "sparse"), {
    type: "x",
    username: "n",
  });
  const kz = {
    action: "event",
    subscribed_key: "call.*.*",
    name: "CHANNEL_CREATE",
    routing_key: "call.a.CHANNEL_CREATE.c",
    data: { call_id: "c" },
  };
  assertEquals(reshapeKazoo(kz, "older"), {
    call_id: "c",
    binding: "call.*.*",
    routing_key: "CHANNEL_CREATE",
  });
  assertEquals(reshapeKazoo(kz, "newer").routing_key, "call.CHANNEL_CREATE.c");
  assertEquals(reshapeWebinate({ eventType: 5, file: { _id: "f" } }, "older"), {
    eventType: 5,
    files: [{ _id: "f" }],
  });
  assertEquals(reshapeWebinate({ type: "BucketRemoved", bucket: { _id: "b" } }, "newer"), {
    type: "VolumeRemoved",
    volume: { _id: "b" },
  });
});

Deno.test("a simulator refuses a flavour it has no shape for", () => {
  assertThrows(() => createISymphonySimulator({ variant: "older" }), RangeError, 'no "older"');
});
