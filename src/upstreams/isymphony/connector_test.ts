import { assert, assertEquals, assertRejects } from "@std/assert";
import type { InterestItem } from "../../hub/interest.ts";
import type { Clock, TimerId } from "../../platform/clock.ts";
import { systemClock } from "../../platform/clock.ts";
import type { Logger } from "../../platform/log.ts";
import type { UpstreamEvent } from "../../model/event.ts";
import type { FrameOutcome } from "../connector.ts";
import type { UpstreamSession } from "../session.ts";
import { isymphonySourceSchema } from "./config.ts";
import { ISymphonyConnector } from "./connector.ts";
import type { FilterEntry, FilterMessage } from "./messages.ts";
import { filterInterest } from "./plan.ts";

const f = (property: string, value: string): FilterEntry => ({ property, value });

const silent: Logger = new Proxy({} as Logger, {
  get: (_t, name) => name === "child" ? () => silent : () => {},
});

/** Answers each filter message through `respond`; `undefined` means no reply at all. */
class FakeSession implements UpstreamSession {
  readonly sent: FilterMessage[] = [];
  readonly #abort = new AbortController();
  closedWith: number | undefined;
  connector: ISymphonyConnector | undefined;
  respond: (m: FilterMessage) => Record<string, unknown> | undefined = (m) => ({
    type: "success",
    correlationId: m.correlationId,
    time: 1,
  });

  get signal(): AbortSignal {
    return this.#abort.signal;
  }
  get lastFrameAt(): number {
    return 0;
  }
  send(text: string): void {
    const m = JSON.parse(text) as FilterMessage;
    this.sent.push(m);
    const reply = this.respond(m);
    if (reply) queueMicrotask(() => this.connector?.onFrame(this, JSON.stringify(reply)));
  }
  nextFrame(): Promise<string> {
    return Promise.reject(new Error("unused"));
  }
  close(code = 1000): void {
    this.closedWith ??= code;
    this.#abort.abort(new Error("closed"));
  }
}

function setup(options: { clock?: Clock } = {}) {
  const rejected: [string, string][] = [];
  const config = isymphonySourceSchema.parse({
    name: "pbx",
    kind: "isymphony",
    url: "ws://127.0.0.1:58080/communication_manager/ws/event",
    password: "pa:ss wörd",
    replyTimeoutMs: 100,
  });
  const connector = new ISymphonyConnector({
    config,
    caCerts: [],
    clock: options.clock ?? systemClock,
    ctx: {
      log: silent,
      rejectInterest: (key, message) => rejected.push([key, message]),
      nowIso: () => "2024-01-01T00:00:00.000Z",
    },
  });
  const session = new FakeSession();
  session.connector = connector;
  return { connector, session, rejected };
}

function eventsOf(out: FrameOutcome): UpstreamEvent[] {
  if (out.kind !== "events") throw new Error(`expected events, got ${out.kind}`);
  return out.events;
}

function wanted(...sets: FilterEntry[][]): Map<string, InterestItem> {
  return new Map(sets.map((s) => filterInterest(s)).map((i) => [i.key, i]));
}

Deno.test("ISymphonyConnector.dial(): Basic auth header, URL untouched", async () => {
  const { connector } = setup();
  const target = await connector.dial();
  assertEquals(target.url, "ws://127.0.0.1:58080/communication_manager/ws/event");
  const header = target.options.headers?.authorization ?? "";
  const decoded = new TextDecoder().decode(
    Uint8Array.from(atob(header.replace("Basic ", "")), (c) => c.charCodeAt(0)),
  );
  assertEquals(decoded, "manager:pa:ss wörd");
});

Deno.test("syncInterest(): idle, then the superset, then nothing when it is unchanged", async () => {
  const { connector, session } = setup();
  await connector.authenticate(session);
  assertEquals(connector.describeInterest(), ["(all events: no filter sent yet)"]);
  await connector.syncInterest(session, wanted());
  assertEquals(session.sent.at(-1)?.filters, [f("type", "relay.idle")]);
  const a = [f("type", "agentLogin"), f("queue", "Support")];
  await connector.syncInterest(session, wanted(a, [f("type", "agentLogout")]));
  assertEquals(session.sent.at(-1)?.filters, [f("type", "agentLogin"), f("type", "agentLogout")]);
  assertEquals(connector.describeInterest(), ["type=agentLogin", "type=agentLogout"]);
  // A subset of what is already in force changes nothing upstream.
  const count = session.sent.length;
  await connector.syncInterest(
    session,
    wanted(a, [f("type", "agentLogout")], [f("type", "agentLogin")]),
  );
  assertEquals(session.sent.length, count);
  await connector.syncInterest(session, wanted([]));
  assertEquals(session.sent.at(-1)?.filters, [f("type", "*")]);
  assertEquals(connector.describeInterest(), ["(all events)"]);
});

Deno.test("syncInterest(): with several new sets refused together, only the culprit is rejected", async () => {
  const { connector, session, rejected } = setup();
  await connector.authenticate(session);
  session.respond = (m) =>
    m.filters.some((e) => e.value === "bogus")
      ? { type: "error", error: "Unknown type bogus", correlationId: m.correlationId, time: 1 }
      : { type: "success", correlationId: m.correlationId, time: 1 };
  const good1 = [f("type", "hangup")];
  const bad = [f("type", "bogus")];
  const good2 = [f("type", "dial")];
  // A fresh session (as after a reconnect): all three are new at once.
  await connector.syncInterest(session, wanted(good1, bad, good2));
  assertEquals(rejected.map(([k]) => k), [filterInterest(bad).key]);
  assert(rejected[0]![1].includes("Unknown type bogus"));
  assertEquals(connector.describeInterest(), ["type=dial", "type=hangup"]);
  assertEquals(session.sent.at(-1)?.filters, [f("type", "dial"), f("type", "hangup")]);
  // Still wanted (a newcomer, or standing): not retried; its holders are told again.
  const count = session.sent.length;
  await connector.syncInterest(session, wanted(good1, bad, good2));
  assertEquals(session.sent.length, count);
  assertEquals(rejected.map(([k]) => k), [filterInterest(bad).key, filterInterest(bad).key]);
  // Once released, a later request for it is tried afresh.
  await connector.syncInterest(session, wanted(good1, good2));
  await connector.syncInterest(session, wanted(good1, bad, good2));
  assertEquals(rejected.length, 3);
  assertEquals(session.sent.at(-1)?.filters, [f("type", "dial"), f("type", "hangup")]);
  // Every correlationId is fresh.
  assertEquals(new Set(session.sent.map((m) => m.correlationId)).size, session.sent.length);
});

Deno.test("syncInterest(): a reply without correlationId answers the oldest request", async () => {
  const { connector, session } = setup();
  await connector.authenticate(session);
  session.respond = () => ({ type: "success", correlationId: null, time: 1 });
  await connector.syncInterest(session, wanted([f("type", "hangup")]));
  assertEquals(connector.describeInterest(), ["type=hangup"]);
});

Deno.test("syncInterest(): no reply in time closes the session", async () => {
  const timers: (() => void)[] = [];
  const clock: Clock = {
    now: () => 0,
    setTimeout: (fn) => (timers.push(fn), timers.length as unknown as TimerId),
    clearTimeout: () => {},
  };
  const { connector, session } = setup({ clock });
  await connector.authenticate(session);
  session.respond = () => undefined;
  const sync = connector.syncInterest(session, wanted([f("type", "hangup")]));
  timers.shift()!();
  await assertRejects(() => sync, Error, "No reply to the filter message within 100 ms");
  assertEquals(session.closedWith, 4000);
  assertEquals(connector.describeInterest(), []);
});

Deno.test("probe(): re-sends the filter in force; its reply is only liveness", async () => {
  const { connector, session } = setup();
  await connector.authenticate(session);
  connector.probe(session);
  assertEquals(session.sent.length, 0);
  await connector.syncInterest(session, wanted([f("type", "hangup")]));
  connector.probe(session);
  const probe = session.sent.at(-1)!;
  assert(probe.correlationId.startsWith("relay-probe-"));
  assertEquals(probe.filters, [f("type", "hangup")]);
  await Promise.resolve();
  assertEquals(connector.describeInterest(), ["type=hangup"]);
});

Deno.test("onFrame(): maps events, handles replies, drops the malformed", async () => {
  const { connector, session } = setup();
  await connector.authenticate(session);
  const frame = {
    agent: "Mike Young",
    agentId: "a-1",
    queue: "Support",
    time: 1436889915953,
    type: "agentLogin",
    userId: "u-1",
    username: "mike",
  };
  const e = eventsOf(connector.onFrame(session, JSON.stringify(frame)))[0]!;
  assertEquals(
    [e.type, e.key, e.subject, e.actor, e.time, e.action],
    ["agentLogin", "a-1", "Mike Young", "mike", "2015-07-14T16:05:15.953Z", null],
  );
  assertEquals(e.payload, frame);
  assertEquals(e.detail, { vendor: "ISYMPHONY", properties: frame });
  const [hangup] = eventsOf(connector.onFrame(
    session,
    JSON.stringify({
      type: "hangup",
      time: 1,
      callSegmentId: "s-1",
      callerIdName: "ACME",
      username: null,
    }),
  ));
  assertEquals([hangup!.key, hangup!.subject, hangup!.actor], [
    "s-1",
    "ACME",
    null,
  ]);
  assertEquals(
    connector.onFrame(session, '{"type":"success","correlationId":"x","time":1}').kind,
    "control",
  );
  for (const bad of ["nope", "[]", "null", '{"time":1}', '{"type":7}', '{"type":""}']) {
    assertEquals(connector.onFrame(session, bad).kind, "dropped", bad);
  }
  // Only `type` routes an event: no time (receive time instead), an odd time, no ids.
  for (const good of ['{"type":"hangup"}', '{"type":"hangup","time":"soon"}']) {
    assertEquals(connector.onFrame(session, good).kind, "events", good);
  }
  // An error reply without its text is still a reply.
  assertEquals(connector.onFrame(session, '{"type":"error"}').kind, "control");
});
