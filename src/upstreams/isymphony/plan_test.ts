import { assertEquals, assertThrows } from "@std/assert";
import { RelayError } from "../../model/errors.ts";
import type { Event } from "../../model/event.ts";
import { isymphonySourceSchema } from "./config.ts";
import { filterInterest, isFilterInterest, planISymphonyArgs, planISymphonyTypes } from "./plan.ts";

function event(properties: Record<string, unknown>): Event {
  return {
    id: "pbx:e:1",
    source: "pbx",
    vendor: "ISYMPHONY",
    type: String(properties.type),
    action: null,
    key: null,
    subject: null,
    actor: null,
    time: "2024-01-01T00:00:00.000Z",
    receivedAt: "2024-01-01T00:00:00.000Z",
    payload: properties,
    detail: { vendor: "ISYMPHONY", properties },
  };
}

Deno.test("planISymphonyArgs(): identical filter sets share one interest key", () => {
  const a = planISymphonyArgs("pbx", {
    filters: [{ property: "type", value: "b" }, { property: "type", value: "a" }],
  });
  const b = planISymphonyArgs("pbx", {
    filters: [{ property: "type", value: "a" }, { property: "type", value: "b" }],
  });
  assertEquals(a.interest.map((i) => i.key), b.interest.map((i) => i.key));
  assertEquals(a.types?.toSorted(), ["a", "b"]);
  assertEquals(isFilterInterest(a.interest[0]!), true);
  assertEquals(isFilterInterest({ key: "x" }), false);
  assertEquals(a.match(event({ type: "a" })), true);
  assertEquals(a.match(event({ type: "c" })), false);
});

Deno.test("planISymphonyArgs(): no filters means every event; '*' type is unindexed", () => {
  const all = planISymphonyArgs("pbx", { filters: null });
  assertEquals(all.interest, [filterInterest([])]);
  assertEquals(all.interest[0]?.key, "[]");
  assertEquals(all.types, undefined);
  assertEquals(all.match(event({ type: "anything" })), true);
  const wild = planISymphonyArgs("pbx", { filters: [{ property: "type", value: "*" }] });
  assertEquals(wild.types, undefined);
});

Deno.test("planISymphonyArgs(): bad filters are BAD_FILTER", () => {
  for (const filters of [[{ property: "", value: "x" }], [{ property: "type" }], "type"]) {
    const err = assertThrows(() => planISymphonyArgs("pbx", { filters }), RelayError);
    assertEquals(err.code, "BAD_FILTER");
  }
});

Deno.test("planISymphonyTypes(): a type filter set, or all, or nothing", () => {
  const part = planISymphonyTypes("pbx", ["hangup"]);
  assertEquals(
    part.interest[0]?.key,
    planISymphonyArgs("pbx", {
      filters: [{ property: "type", value: "hangup" }],
    }).interest[0]?.key,
  );
  assertEquals(part.match(event({ type: "hangup" })), true);
  assertEquals(part.match(event({ type: "dial" })), false);
  assertEquals(planISymphonyTypes("pbx", undefined).interest[0]?.key, "[]");
  const none = planISymphonyTypes("pbx", []);
  assertEquals(none.interest, []);
  assertEquals(none.match(event({ type: "hangup" })), false);
});

Deno.test("isymphonySourceSchema: defaults, and credentials kept out of the URL", () => {
  const ok = isymphonySourceSchema.parse({
    name: "pbx",
    kind: "isymphony",
    url: "ws://pbx:58080/communication_manager/ws/event",
    password: "p",
    standing: [[{ property: "type", value: "hangup" }]],
  });
  assertEquals(ok.username, "manager");
  assertEquals(ok.replyTimeoutMs, 5000);
  const bad = isymphonySourceSchema.safeParse({
    name: "pbx",
    kind: "isymphony",
    url: "ws://manager:manag3rpa55word@pbx:58080/communication_manager/ws/event",
    password: "p",
  });
  assertEquals(bad.success, false);
  assertEquals(isymphonySourceSchema.safeParse({ ...ok, password: undefined }).success, false);
});
