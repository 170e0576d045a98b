import { assertEquals, assertThrows } from "@std/assert";
import type { Event } from "../../model/event.ts";
import { RelayError } from "../../model/errors.ts";
import { taskType } from "./match.ts";
import { planIlandArgs, planIlandTypes } from "./plan.ts";

function ev(kind: string, type: string, entityType: string | null): Event {
  return {
    id: "x",
    source: "cloud",
    vendor: "ILAND",
    type,
    action: null,
    key: null,
    subject: null,
    actor: null,
    time: "2024-01-01T00:00:00.000Z",
    receivedAt: "2024-01-01T00:00:00.000Z",
    payload: {},
    detail: { vendor: "ILAND", kind, entityType, companyId: null },
  };
}

const VM = ev("EVENT", "VM_CREATE", "IAAS_VM");
const EDGE = ev("EVENT", "EDGE_NAT_MODIFIED", "IAAS_EDGE");
const TASK = ev("TASK", "TASK_RUNNING", null);

Deno.test("iland plan: kinds defaults to EVENT; no upstream interest", () => {
  const part = planIlandArgs("cloud", {});
  assertEquals(part.interest, []);
  assertEquals(part.types, undefined);
  assertEquals([VM, EDGE, TASK].map(part.match), [true, true, false]);
  // An explicit null is every kind, including kinds a newer server adds.
  const any = planIlandArgs("cloud", { kinds: null });
  assertEquals([VM, TASK, ev("ALERT", "ALERT", null)].map(any.match), [true, true, true]);
});

Deno.test("iland plan: TASK only, or both kinds", () => {
  assertEquals([VM, TASK].map(planIlandArgs("cloud", { kinds: ["TASK"] }).match), [false, true]);
  const both = planIlandArgs("cloud", { kinds: ["EVENT", "TASK"] });
  assertEquals([VM, TASK].map(both.match), [true, true]);
});

Deno.test("iland plan: entityTypes restricts EVENTs only, ignoring case; OR within, AND across", () => {
  const part = planIlandArgs("cloud", {
    kinds: ["EVENT", "TASK"],
    entityTypes: ["iaas_vm", "USER"],
  });
  assertEquals([VM, EDGE, TASK].map(part.match), [true, false, true]);
  assertEquals(part.match(ev("EVENT", "VM_CREATE", null)), false);
  const and = planIlandArgs("cloud", { entityTypes: ["IAAS_VM"], types: ["EDGE_NAT_MODIFIED"] });
  assertEquals([VM, EDGE].map(and.match), [false, false]);
});

Deno.test("iland plan: types ignore case and feed the hub index in canonical form", () => {
  const part = planIlandArgs("cloud", {
    kinds: ["EVENT", "TASK"],
    types: ["vm_create", "Task_Running"],
  });
  assertEquals(part.types, ["VM_CREATE", "TASK_RUNNING"]);
  assertEquals([VM, EDGE, TASK].map(part.match), [true, false, true]);
  assertEquals(part.match(ev("EVENT", "vm_create", "IAAS_VM")), true);
});

Deno.test("iland plan: malformed arguments are BAD_FILTER", () => {
  for (
    const args of [
      { kinds: [] },
      { kinds: ["ALERT"] },
      { entityTypes: [] },
      { types: [""] },
      { types: "VM_CREATE" },
    ]
  ) {
    const err = assertThrows(() => planIlandArgs("cloud", args), RelayError);
    assertEquals(err.code, "BAD_FILTER", JSON.stringify(args));
  }
});

Deno.test("iland planTypes: both kinds, any type or the listed ones ignoring case", () => {
  assertEquals([VM, TASK].map(planIlandTypes("cloud", undefined).match), [true, true]);
  const part = planIlandTypes("cloud", ["task_running"]);
  assertEquals(part.types, ["TASK_RUNNING"]);
  assertEquals([VM, TASK].map(part.match), [false, true]);
  assertEquals(planIlandTypes("cloud", []).match(VM), false);
  assertEquals(
    planIlandTypes("cloud", undefined).match({
      ...VM,
      vendor: "DRP",
      detail: { vendor: "DRP", object: null, original: null, principal: "" },
    }),
    false,
  );
});

Deno.test("iland taskType: TASK_ plus the status in UPPER_SNAKE", () => {
  assertEquals(taskType("running"), "TASK_RUNNING");
  assertEquals(taskType("waiting-on-user-input"), "TASK_WAITING_ON_USER_INPUT");
});
