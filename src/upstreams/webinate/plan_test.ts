import { assert, assertEquals, assertThrows } from "@std/assert";
import { RelayError } from "../../model/errors.ts";
import type { Event } from "../../model/event.ts";
import { planWebinateArgs, planWebinateTypes } from "./plan.ts";

function event(eventType: number, type: string): Event {
  return {
    id: "users:e:1",
    source: "users",
    vendor: "WEBINATE",
    type,
    action: null,
    key: null,
    subject: null,
    actor: null,
    time: "2024-05-01T00:00:00.000Z",
    receivedAt: "2024-05-01T00:00:00.000Z",
    payload: {},
    detail: {
      vendor: "WEBINATE",
      eventType,
      username: null,
      file: null,
      bucket: null,
      message: null,
      val: null,
      error: null,
    },
  };
}

Deno.test("planWebinateArgs() filters by eventType locally, with no upstream interest", () => {
  const part = planWebinateArgs("users", { eventTypes: [5, 10] });
  assertEquals(part.interest, []);
  assertEquals(part.types, ["FileUploaded", "Echo"]);
  assert(part.match(event(5, "FileUploaded")));
  assert(part.match(event(10, "Echo")));
  assert(!part.match(event(1, "Login")));
  const all = planWebinateArgs("users", {});
  assertEquals(all.types, undefined);
  assert(all.match(event(1, "Login")));
  assert(planWebinateArgs("users", { eventTypes: null }).match(event(9, "MetaRequest")));
});

Deno.test("planWebinateArgs() refuses empty or unknown eventTypes with BAD_FILTER", () => {
  for (const eventTypes of [[], [0], [11], [1, 42]]) {
    const err = assertThrows(() => planWebinateArgs("users", { eventTypes }), RelayError);
    assertEquals(err.code, "BAD_FILTER");
  }
});

Deno.test("planWebinateTypes() matches event names", () => {
  const part = planWebinateTypes("users", ["Login", "Echo"]);
  assertEquals(part.interest, []);
  assert(part.match(event(1, "Login")));
  assert(!part.match(event(2, "Logout")));
  assert(planWebinateTypes("users", undefined).match(event(2, "Logout")));
});
