import { assertEquals, assertRejects, assertStringIncludes } from "@std/assert";
import { silentLogger } from "../../platform/log.ts";
import { systemClock } from "../../platform/clock.ts";
import { UpstreamError, type UpstreamSession } from "../session.ts";
import { ilandSourceSchema } from "./config.ts";
import { IlandConnector, isAuthRefusal } from "./connector.ts";
import { RecentIds } from "./recent_ids.ts";
import { IlandTokens } from "./token.ts";

const config = ilandSourceSchema.parse({ name: "cloud", kind: "iland", accessToken: "tok" });
const NOW = "2024-05-01T00:00:00.000Z";

function connector(companyId: string | undefined, recent = new RecentIds()) {
  const tokens = new IlandTokens({ config, fetch, clock: systemClock, log: silentLogger });
  return new IlandConnector({
    config,
    companyId,
    tokens,
    recent,
    caCerts: [],
    ctx: { log: silentLogger, rejectInterest: () => {}, nowIso: () => NOW },
  });
}

/** A scripted session: `frames` are what the server sends; `sent` what the client sent. */
function session(frames: string[]): UpstreamSession & { sent: string[] } {
  const abort = new AbortController();
  const sent: string[] = [];
  return {
    sent,
    send: (t) => void sent.push(t),
    nextFrame: () => Promise.resolve(frames.shift() ?? ""),
    close: () => abort.abort(),
    signal: abort.signal,
    lastFrameAt: 0,
  };
}

const EVENT = {
  type: "EVENT",
  data: {
    uuid: "e-1",
    type: "vm_power_state_change",
    entity_uuid: "vm-42",
    entity_name: "web01",
    entity_type: "IAAS_VM",
    owner_type: "COMPANY",
    owner_id: "c-7",
    task_uuid: "t-9",
    initiated_by_username: "alice",
    initiated_by_full_name: "Alice A",
    timestamp: 1700000000000,
    details: "powered on",
  },
};

Deno.test("iland connector answers the AUTHORIZATION prompt with the scoped line", async () => {
  const c = connector("c-7");
  await c.dial();
  const s = session(["AUTHORIZATION"]);
  await c.authenticate(s);
  assertEquals(s.sent, ["companyId=c-7,Bearer tok"]);
  assertEquals(c.describeInterest(), ["companyId=c-7"]);
  s.close();
  assertEquals(c.describeInterest(), []);
  const all = connector(undefined);
  await all.dial();
  const s2 = session(["AUTHORIZATION"]);
  await all.authenticate(s2);
  assertEquals(s2.sent, ["Bearer tok"]);
});

Deno.test("iland connector aborts when the first frame is an error text", async () => {
  const c = connector("c-7");
  await c.dial();
  const s = session(["Invalid token tok"]);
  const err = await assertRejects(() => c.authenticate(s), UpstreamError);
  assertStringIncludes(err.message, "Invalid token");
  assertEquals(s.sent, []);
});

Deno.test("iland connector maps EVENT (type upper-cased, payload as received) and dedupes by uuid", () => {
  const recent = new RecentIds();
  const a = connector("c-7", recent);
  const b = connector("c-8", recent);
  const out = a.onFrame(session([]), JSON.stringify(EVENT));
  assertEquals(out.kind, "events");
  if (out.kind !== "events") return;
  const { payload, ...e } = out.events[0]!;
  assertEquals(payload, EVENT);
  assertEquals(e, {
    source: "cloud",
    vendor: "ILAND",
    type: "VM_POWER_STATE_CHANGE",
    action: null,
    key: "vm-42",
    subject: "web01",
    actor: "alice",
    time: "2023-11-14T22:13:20.000Z",
    receivedAt: NOW,
    detail: {
      vendor: "ILAND",
      kind: "EVENT",
      entityType: "IAAS_VM",
      companyId: "c-7",
      ownerType: "COMPANY",
      ownerId: "c-7",
      taskUuid: "t-9",
      details: "powered on",
      actorFullName: "Alice A",
    },
  });
  assertEquals(b.onFrame(session([]), JSON.stringify(EVENT)).kind, "control");
});

Deno.test("iland connector maps TASK: type TASK_<STATUS>, action = operation, newest time", () => {
  const task = {
    type: "TASK",
    data: {
      uuid: "t-1",
      status: "error",
      company_id: "c-7",
      operation: "power on",
      operation_description: "Starting web01",
      entity_uuid: "vm-42",
      entity_name: "web01",
      initiation_time: 1000,
      start_time: 2000,
      end_time: null,
      progress: 50,
      task_type: "VCD",
      username: "bob",
      user_full_name: "Bob B",
      message: "boom",
    },
  };
  const out = connector(undefined).onFrame(session([]), JSON.stringify(task));
  if (out.kind !== "events") throw new Error(out.kind);
  const e = out.events[0]!;
  assertEquals([e.type, e.action, e.key, e.subject, e.actor, e.time], [
    "TASK_ERROR",
    "power on",
    "vm-42",
    "web01",
    "bob",
    "1970-01-01T00:00:02.000Z",
  ]);
  assertEquals(e.detail, {
    vendor: "ILAND",
    kind: "TASK",
    entityType: null,
    companyId: "c-7",
    taskUuid: "t-1",
    actorFullName: "Bob B",
    status: "error",
    operation: "power on",
    operationDescription: "Starting web01",
    progress: 50,
    taskType: "VCD",
    message: "boom",
  });
});

Deno.test("iland connector drops only unroutable frames, naming the reason", () => {
  const c = connector(undefined);
  const dropped = [
    ["AUTHORIZATION", "not JSON"],
    ["{", "not JSON"],
    [JSON.stringify([1]), "not a JSON object"],
    [JSON.stringify({ data: {} }), "iland message without type"],
    [JSON.stringify({ type: "EVENT" }), "iland EVENT without data"],
    [JSON.stringify({ type: "EVENT", data: { uuid: "x" } }), "iland EVENT without type"],
    [JSON.stringify({ type: "TASK", data: { status: "running" } }), "iland TASK without uuid"],
  ];
  for (const [frame, reason] of dropped) {
    assertEquals(c.onFrame(session([]), frame!), { kind: "dropped", reason: reason! }, frame);
  }
});

Deno.test("iland connector delivers a kind it does not know (a newer server)", () => {
  const c = connector(undefined);
  const out = c.onFrame(session([]), JSON.stringify({ type: "ALERT", data: { uuid: "a-1" } }));
  assertEquals(out.kind, "events");
  const e = out.kind === "events" ? out.events[0]! : undefined;
  assertEquals([e?.type, e?.detail.vendor === "ILAND" && e.detail.kind], ["ALERT", "ALERT"]);
});

Deno.test("isAuthRefusal: 1008 or an unauthorized reason", () => {
  const e = (closeCode: number, closeReason = "") =>
    new UpstreamError(`Upstream closed the connection (code ${closeCode})`, {
      closeCode,
      closeReason,
    });
  assertEquals(isAuthRefusal(e(1008, "Unauthorized")), true);
  assertEquals(isAuthRefusal(e(1008)), true);
  assertEquals(isAuthRefusal(e(4001, "token expired")), true);
  assertEquals(isAuthRefusal(e(1011, "simulated failure")), false);
});
