import { assertEquals, assertThrows } from "@std/assert";
import { type ErrorCode, RelayError } from "../../model/errors.ts";
import type { Event } from "../../model/event.ts";
import { planDrpArgs, planDrpPattern, planDrpTypes } from "./plan.ts";

const TIME = "2024-05-01T12:00:00.000Z";

function drpEvent(type: string, action = "save", key = "m1"): Event {
  return {
    id: "drp:abc:1",
    source: "drp",
    vendor: "DRP",
    type,
    action,
    key,
    subject: null,
    actor: null,
    time: TIME,
    receivedAt: TIME,
    payload: {},
    detail: { vendor: "DRP", object: {}, original: null, principal: "" },
  };
}

function webinateEvent(type: string): Event {
  return {
    ...drpEvent(type),
    vendor: "WEBINATE",
    detail: {
      vendor: "WEBINATE",
      eventType: 1,
      username: null,
      file: null,
      bucket: null,
      message: null,
      val: null,
      error: null,
    },
  };
}

function assertRelayThrows(fn: () => unknown, code: ErrorCode): RelayError {
  const err = assertThrows(fn, RelayError);
  assertEquals(err.code, code, err.message);
  return err;
}

Deno.test("planDrpArgs()", async (t) => {
  await t.step("no arguments means `*.*.*` and any type", () => {
    const part = planDrpArgs("drp", {});
    assertEquals(part.source, "drp");
    assertEquals(part.interest, [{ key: "*.*.*" }]);
    assertEquals(part.types, undefined);
    assertEquals(part.match(drpEvent("anything")), true);
  });

  await t.step("exact fields become the interest key and the types index", () => {
    const part = planDrpArgs("drp", { type: "machines", action: "save", key: "m1" });
    assertEquals(part.interest, [{ key: "machines.save.m1" }]);
    assertEquals(part.types, ["machines"]);
    assertEquals(part.match(drpEvent("machines", "save", "m1")), true);
    assertEquals(part.match(drpEvent("machines", "update", "m1")), false);
    assertEquals(part.match(drpEvent("machines", "save", "m2")), false);
    assertEquals(part.match(drpEvent("jobs", "save", "m1")), false);
  });

  await t.step("a wildcard type with an exact action is indexed as any type", () => {
    const part = planDrpArgs("drp", { action: "delete" });
    assertEquals(part.interest, [{ key: "*.delete.*" }]);
    assertEquals(part.types, undefined);
    assertEquals(part.match(drpEvent("jobs", "delete")), true);
    assertEquals(part.match(drpEvent("jobs", "save")), false);
  });

  await t.step("a key with dots is kept whole", () => {
    const part = planDrpArgs("drp", { type: "params", key: "a.b.c" });
    assertEquals(part.interest, [{ key: "params.*.a.b.c" }]);
    assertEquals(part.match(drpEvent("params", "save", "a.b.c")), true);
  });

  await t.step("non-string arguments (null from GraphQL) fall back to `*`", () => {
    assertEquals(planDrpArgs("drp", { type: null, action: undefined, key: 5 }).interest, [
      { key: "*.*.*" },
    ]);
  });

  await t.step("only DRP events match", () => {
    assertEquals(planDrpArgs("drp", {}).match(webinateEvent("x")), false);
  });

  await t.step("what DRP cannot express is BAD_FILTER", () => {
    for (
      const args of [
        { type: "a.b" },
        { action: "x.y" },
        { type: "" },
        { key: "has space" },
        { key: "k".repeat(600) },
      ]
    ) {
      assertRelayThrows(() => planDrpArgs("drp", args), "BAD_FILTER");
    }
  });

  await t.step("planDrpPattern() is the same for an already parsed pattern", () => {
    const part = planDrpPattern("lab", { type: "jobs", action: "*", key: "*" });
    assertEquals(part.source, "lab");
    assertEquals(part.interest, [{ key: "jobs.*.*" }]);
  });
});

Deno.test("planDrpTypes()", async (t) => {
  await t.step("no types means everything", () => {
    const part = planDrpTypes("drp", undefined);
    assertEquals(part.interest, [{ key: "*.*.*" }]);
    assertEquals(part.types, undefined);
    assertEquals(part.match(drpEvent("whatever")), true);
  });

  await t.step("one `T.*.*` per type; the index and match use the types", () => {
    const part = planDrpTypes("drp", ["machines", "jobs"]);
    assertEquals(part.interest, [{ key: "machines.*.*" }, { key: "jobs.*.*" }]);
    assertEquals(part.types, ["machines", "jobs"]);
    assertEquals(part.match(drpEvent("machines")), true);
    assertEquals(part.match(drpEvent("jobs", "delete", "j9")), true);
    assertEquals(part.match(drpEvent("params")), false);
    assertEquals(part.match(drpEvent("Machines")), false);
    assertEquals(part.match(webinateEvent("machines")), false);
  });

  await t.step("a bad type is BAD_FILTER", () => {
    assertRelayThrows(() => planDrpTypes("drp", ["machines", "bad type"]), "BAD_FILTER");
    assertRelayThrows(() => planDrpTypes("drp", ["a.b"]), "BAD_FILTER");
  });
});
