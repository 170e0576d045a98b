import { assert, assertEquals, assertThrows } from "@std/assert";
import { RelayError } from "../../model/errors.ts";
import type { Event } from "../../model/event.ts";
import { bindingsForTypes, planKazooArgs, planKazooTypes } from "./plan.ts";

const ACCT = "6b71cb72c876b5b1396a335f8f8a2594";
const defaults = () => ACCT;

function event(type: string, binding: string, routingKey: string): Event {
  return {
    id: "1",
    source: "voip",
    vendor: "KAZOO",
    type,
    action: null,
    key: null,
    subject: null,
    actor: null,
    time: "2024-01-01T00:00:00.000Z",
    receivedAt: "2024-01-01T00:00:00.000Z",
    payload: {},
    detail: { vendor: "KAZOO", accountId: ACCT, routingKey, binding, callId: null, data: {} },
  };
}

Deno.test("planKazooArgs: one interest item per binding, types for the index", () => {
  const part = planKazooArgs("voip", {
    bindings: ["call.CHANNEL_CREATE.*", "object.doc_created.user", "call.CHANNEL_CREATE.*"],
  }, defaults);
  assertEquals(part.interest.map((i) => i.key), [
    "|call.CHANNEL_CREATE.*",
    "|object.doc_created.user",
  ]);
  assertEquals(part.types, ["CHANNEL_CREATE", "doc_created"]);
  const wild = planKazooArgs("voip", { accountId: ACCT, bindings: ["call.*.*"] }, defaults);
  assertEquals(wild.interest.map((i) => i.key), [`${ACCT}|call.*.*`]);
  assertEquals(wild.types, undefined);
  const e = event("CHANNEL_CREATE", "call.*.*", `call.${ACCT}.CHANNEL_CREATE.x`);
  assert(wild.match(e));
  assert(!part.match(e), "frame of someone else's binding");
});

Deno.test("planKazooArgs: malformed arguments are BAD_FILTER", () => {
  for (
    const args of [
      { bindings: [] },
      { bindings: ["call..*"] },
      { bindings: ["call.* .*"] },
      { bindings: ["call.*.*"], accountId: "a b" },
      { bindings: "call.*.*" },
    ]
  ) {
    const err = assertThrows(() => planKazooArgs("voip", args, defaults), RelayError);
    assertEquals(err.code, "BAD_FILTER", JSON.stringify(args));
  }
});

Deno.test("events(types:) maps call names and document actions; others add nothing", () => {
  assertEquals(bindingsForTypes(undefined), ["call.*.*", "object.*.*"]);
  assertEquals(bindingsForTypes(["CHANNEL_ANSWER", "doc_deleted", "machines"]), [
    "call.CHANNEL_ANSWER.*",
    "object.doc_deleted.*",
  ]);
  const none = planKazooTypes("voip", ["machines"], defaults);
  assertEquals(none.interest, []);
  assert(!none.match(event("machines", "call.*.*", "call.x.y.z")));
  const some = planKazooTypes("voip", ["CHANNEL_ANSWER"], defaults);
  assertEquals(some.interest.map((i) => i.key), ["|call.CHANNEL_ANSWER.*"]);
  assert(
    some.match(event("CHANNEL_ANSWER", "call.CHANNEL_ANSWER.*", `call.${ACCT}.CHANNEL_ANSWER.c`)),
  );
});
