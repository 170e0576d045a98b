import { assert, assertEquals, assertInstanceOf, assertNotEquals, assertThrows } from "@std/assert";
import { formatCursor, parseCursor } from "../model/cursor.ts";
import { type ErrorCode, RelayError } from "../model/errors.ts";
import type { Event, UpstreamEvent } from "../model/event.ts";
import { Hub, type SubscriptionPart } from "./hub.ts";
import type { InterestItem, InterestSink } from "./interest.ts";
import { ManualClock } from "../../tests/helpers/manual_clock.ts";
import { nextWithin } from "../../tests/helpers/next_within.ts";

const TIME = "2024-05-01T12:00:00.000Z";

function drpEvent(source: string, type: string, key = "k"): UpstreamEvent {
  return {
    source,
    vendor: "DRP",
    type,
    action: "save",
    key,
    subject: null,
    actor: null,
    time: TIME,
    receivedAt: TIME,
    payload: { Type: type, Key: key },
    detail: { vendor: "DRP", object: {}, original: null, principal: "" },
  };
}

/** An InterestSink that records every full set it is given. */
class RecordingSink implements InterestSink {
  readonly calls: string[][] = [];
  setInterest(items: ReadonlyMap<string, InterestItem>): void {
    this.calls.push([...items.keys()]);
  }
  get last(): string[] | undefined {
    return this.calls.at(-1);
  }
}

/** Stands in for a supervisor whose upstream is READY and confirms every interest set at once. */
function confirmAll(hub: Hub, source: string): void {
  hub.attachSink(source, { setInterest: (items) => hub.reportReceiving(source, 0, items) });
}

function part(
  source: string,
  options: {
    keys?: string[];
    types?: string[];
    /** Event keys for the index (`SubscriptionPart.keys`). */
    eventKeys?: string[];
    match?: (e: Event) => boolean;
  } = {},
): SubscriptionPart {
  return {
    source,
    interest: (options.keys ?? []).map((key) => ({ key })),
    // The index contract: `types` is a superset of what `match` accepts.
    match: options.match ?? ((e) => options.types?.includes(e.type) ?? true),
    ...(options.types ? { types: options.types } : {}),
    ...(options.eventKeys ? { keys: options.eventKeys } : {}),
  };
}

async function nextValue<T>(it: AsyncIterator<T>): Promise<T> {
  const r = await nextWithin(it);
  assert(!r.done, "iterator ended");
  return r.value;
}

/** Everything queued right now (after deliveries drained), without waiting for more. */
async function queued<T>(hub: Hub, it: AsyncIterator<T> & { length?: number }): Promise<T[]> {
  await hub.drained();
  const out: T[] = [];
  while ((it.length ?? 0) > 0) out.push(await nextValue(it));
  return out;
}

async function assertRelayRejects(p: Promise<unknown>, code: ErrorCode): Promise<RelayError> {
  try {
    await p;
  } catch (err) {
    assertInstanceOf(err, RelayError);
    const relayError = err as RelayError;
    assertEquals(relayError.code, code, relayError.message);
    return relayError;
  }
  throw new Error(`expected a ${code} rejection`);
}

function assertRelayThrows(fn: () => unknown, code: ErrorCode): RelayError {
  const err = assertThrows(fn, RelayError);
  assertEquals(err.code, code, err.message);
  return err;
}

function types(events: Event[]): string[] {
  return events.map((e) => e.type);
}

Deno.test("Hub interest", async (t) => {
  await t.step("first subscriber adds a key, an identical one shares it", () => {
    const hub = new Hub();
    hub.addSource("drp", "DRP", 10);
    const sink = new RecordingSink();
    hub.attachSink("drp", sink);
    assertEquals(sink.calls, [[]]);
    const a = hub.subscribe([part("drp", { keys: ["machines.*.*"] })]);
    assertEquals(sink.calls, [[], ["machines.*.*"]]);
    const b = hub.subscribe([part("drp", { keys: ["machines.*.*"] })]);
    assertEquals(sink.calls.length, 2, "an identical subscription does not change the set");
    assertEquals(hub.interestKeys("drp"), ["machines.*.*"]);
    assertEquals(hub.subscriberCount("drp"), 2);
    a.return?.();
    assertEquals(sink.calls.length, 2, "one holder is left");
    b.return?.();
    // Synchronously: interest goes as soon as the last subscriber leaves, not on an event.
    assertEquals(sink.last, []);
    assertEquals(hub.interestKeys("drp"), []);
    assertEquals(hub.subscriberCount("drp"), 0);
  });

  await t.step("with a resume window, interest outlives its last subscriber", () => {
    const clock = new ManualClock();
    const hub = new Hub({ clock });
    hub.addSource("drp", "DRP", 10, { resumeWindowMs: 60_000 });
    const sink = new RecordingSink();
    hub.attachSink("drp", sink);
    hub.subscribe([part("drp", { keys: ["machines.*.*"] })]).return?.();
    assertEquals(hub.interestKeys("drp"), ["machines.*.*"], "lingering");
    assertEquals(hub.interestEntries("drp")[0]?.lingeringUntil, clock.now() + 60_000);
    clock.advance(30_000);
    // A subscription needing the same interest takes it over: no change reaches the sink.
    const back = hub.subscribe([part("drp", { keys: ["machines.*.*"] })]);
    assertEquals(sink.calls, [[], ["machines.*.*"]]);
    clock.advance(60_000);
    assertEquals(hub.interestKeys("drp"), ["machines.*.*"]);
    back.return?.();
    clock.advance(59_999);
    assertEquals(sink.calls.length, 2);
    clock.advance(1);
    assertEquals(sink.calls, [[], ["machines.*.*"], []], "deregistered when the window ends");
    hub.subscribe([part("drp", { keys: ["jobs.*.*"] })]).return?.();
    assertEquals(clock.pending, 1);
    hub.close();
    assertEquals(clock.pending, 0, "no window timer outlives the hub");
  });

  await t.step("the sink gets the whole set each time it changes", () => {
    const hub = new Hub();
    hub.addSource("drp", "DRP", 10);
    const sink = new RecordingSink();
    hub.attachSink("drp", sink);
    const a = hub.subscribe([part("drp", { keys: ["a.*.*"] })]);
    const b = hub.subscribe([part("drp", { keys: ["b.*.*", "a.*.*"] })]);
    assertEquals(sink.last, ["a.*.*", "b.*.*"]);
    a.return?.();
    assertEquals(sink.calls.length, 3);
    b.return?.();
    assertEquals(sink.calls, [[], ["a.*.*"], ["a.*.*", "b.*.*"], []]);
  });

  await t.step("interest held before a sink attaches is handed over on attach", () => {
    const hub = new Hub();
    hub.addSource("drp", "DRP", 10);
    const sub = hub.subscribe([part("drp", { keys: ["x.*.*"] })]);
    const sink = new RecordingSink();
    hub.attachSink("drp", sink);
    assertEquals(sink.calls, [["x.*.*"]]);
    sub.return?.();
    assertEquals(sink.last, []);
  });

  await t.step("standing interest is never released", () => {
    const hub = new Hub();
    hub.addSource("drp", "DRP", 10);
    const sink = new RecordingSink();
    hub.attachSink("drp", sink);
    hub.addStandingInterest("drp", [{ key: "machines.*.*" }]);
    assertEquals(sink.last, ["machines.*.*"]);
    const sub = hub.subscribe([part("drp", { keys: ["machines.*.*", "jobs.*.*"] })]);
    assertEquals(sink.last, ["machines.*.*", "jobs.*.*"]);
    sub.return?.();
    assertEquals(sink.last, ["machines.*.*"]);
    assertEquals(hub.interestKeys("drp"), ["machines.*.*"]);
  });

  await t.step("a multi-source subscription releases every source on return()", () => {
    const hub = new Hub();
    hub.addSource("a", "DRP", 10);
    hub.addSource("b", "DRP", 10);
    const sub = hub.subscribe([part("a", { keys: ["x.*.*"] }), part("b", { keys: ["y.*.*"] })]);
    assertEquals(hub.interestKeys("a"), ["x.*.*"]);
    assertEquals(hub.interestKeys("b"), ["y.*.*"]);
    sub.return?.();
    assertEquals(hub.interestKeys("a"), []);
    assertEquals(hub.interestKeys("b"), []);
  });

  await t.step("unknown sources and duplicate registrations are refused", () => {
    const hub = new Hub();
    hub.addSource("drp", "DRP", 10);
    assertThrows(() => hub.addSource("drp", "DRP", 10), Error, "already registered");
    assertRelayThrows(() => hub.subscribe([part("nope")]), "UNKNOWN_SOURCE");
    assertRelayThrows(() => hub.publish(drpEvent("nope", "machines")), "UNKNOWN_SOURCE");
    assertEquals(hub.sources(), ["drp"]);
    assertEquals(hub.vendorOf("drp"), "DRP");
    assertEquals(hub.vendorOf("nope"), undefined);
  });
});

Deno.test("Hub fan-out", async (t) => {
  await t.step("the type index delivers only to matching types and to ANY", async () => {
    const hub = new Hub();
    hub.addSource("drp", "DRP", 10);
    const machines = hub.subscribe([part("drp", { types: ["machines"] })]);
    const jobs = hub.subscribe([part("drp", { types: ["jobs"] })]);
    const any = hub.subscribe([part("drp")]);
    hub.publish(drpEvent("drp", "machines"));
    hub.publish(drpEvent("drp", "jobs"));
    hub.publish(drpEvent("drp", "params"));
    assertEquals(types(await queued(hub, machines)), ["machines"]);
    assertEquals(types(await queued(hub, jobs)), ["jobs"]);
    assertEquals(types(await queued(hub, any)), ["machines", "jobs", "params"]);
    for (const s of [machines, jobs, any]) await s.return?.();
  });

  await t.step("the key index: an event meets only its key's subscribers, not a scan", async () => {
    const hub = new Hub();
    hub.addSource("drp", "DRP", 10);
    let asked = 0;
    const subs = Array.from({ length: 1000 }, (_, i) =>
      hub.subscribe([
        part("drp", {
          types: ["machines"],
          eventKeys: [`m-${i}`],
          match: (e) => (asked++, e.type === "machines" && e.key === `m-${i}`),
        }),
      ]));
    const allMachines = hub.subscribe([part("drp", { types: ["machines"] })]);
    const anyType = hub.subscribe([
      part("drp", { eventKeys: ["m-7"], match: (e) => e.key === "m-7" }),
    ]);
    hub.publish(drpEvent("drp", "machines", "m-7"));
    hub.publish(drpEvent("drp", "jobs", "m-7"));
    hub.publish({ ...drpEvent("drp", "machines"), key: null });
    await hub.drained();
    assertEquals(asked, 1, "one keyed subscriber tested, not a thousand");
    assertEquals((await queued(hub, subs[7]!)).map((e) => e.key), ["m-7"]);
    assertEquals(await queued(hub, subs[8]!), []);
    assertEquals((await queued(hub, allMachines)).map((e) => e.key), ["m-7", null]);
    assertEquals(types(await queued(hub, anyType)), ["machines", "jobs"]);
    for (const s of [...subs, allMachines, anyType]) await s.return?.();
    assertEquals(hub.subscriberCount("drp"), 0, "every index slot is released");
  });

  await t.step("the index only narrows; match() decides", async () => {
    const hub = new Hub();
    hub.addSource("drp", "DRP", 10);
    let asked = 0;
    const sub = hub.subscribe([
      part("drp", { types: ["machines"], match: (e) => (asked++, e.key === "m1") }),
    ]);
    hub.publish(drpEvent("drp", "machines", "m1"));
    hub.publish(drpEvent("drp", "machines", "m2"));
    hub.publish(drpEvent("drp", "jobs", "m1"));
    const got = await queued(hub, sub);
    assertEquals(got.map((e) => e.key), ["m1"]);
    assertEquals(asked, 2, "jobs never reached match()");
    await sub.return?.();
  });

  await t.step("a match() that throws skips that subscriber only", async () => {
    const hub = new Hub();
    hub.addSource("drp", "DRP", 10);
    const broken = hub.subscribe([
      part("drp", {
        match: (e) => {
          if (e.key === "bad") throw new Error("matcher bug");
          return true;
        },
      }),
    ]);
    const healthy = hub.subscribe([part("drp")]);
    hub.publish(drpEvent("drp", "machines", "bad"));
    hub.publish(drpEvent("drp", "machines", "good"));
    assertEquals((await queued(hub, broken)).map((e) => e.key), ["good"]);
    assertEquals((await queued(hub, healthy)).map((e) => e.key), ["bad", "good"]);
    await broken.return?.();
    await healthy.return?.();
  });

  await t.step("ids increase per source and are cursors", () => {
    const hub = new Hub();
    hub.addSource("a", "DRP", 10);
    hub.addSource("b", "DRP", 10);
    const a1 = hub.publish(drpEvent("a", "machines"));
    const a2 = hub.publish(drpEvent("a", "machines"));
    const b1 = hub.publish(drpEvent("b", "machines"));
    const c1 = parseCursor(a1.id)!;
    const c2 = parseCursor(a2.id)!;
    const cb = parseCursor(b1.id)!;
    assert(c1 && c2 && cb, "ids parse as cursors");
    assertEquals([c1.source, c1.offset], ["a", 1]);
    assertEquals([c2.source, c2.offset], ["a", 2]);
    assertEquals([cb.source, cb.offset], ["b", 1]);
    assertEquals(c1.epoch, c2.epoch);
    assertEquals(a2.id, formatCursor(c2));
    assertEquals(hub.stats("a").eventsReceived, 2);
    assert(hub.stats("a").lastEventAt !== undefined);
    assertEquals([...hub.recent("a")].map((e) => e.id), [a2.id, a1.id]);
  });

  await t.step("two hubs (two relay runs) use different epochs", () => {
    const one = new Hub();
    const two = new Hub();
    one.addSource("a", "DRP", 10);
    two.addSource("a", "DRP", 10);
    const e1 = parseCursor(one.publish(drpEvent("a", "x")).id);
    const e2 = parseCursor(two.publish(drpEvent("a", "x")).id);
    assertNotEquals(e1?.epoch, e2?.epoch);
  });

  await t.step("drained() resolves at once when idle", async () => {
    const hub = new Hub();
    hub.addSource("drp", "DRP", 10);
    await hub.drained();
    hub.publish(drpEvent("drp", "machines")); // no subscribers: nothing scheduled
    await hub.drained();
  });
});

Deno.test("Hub replay (after:)", async (t) => {
  await t.step(
    "replays newer events, still filtered, then goes live without gap or dup",
    async () => {
      const hub = new Hub();
      hub.addSource("drp", "DRP", 10);
      confirmAll(hub, "drp");
      const e1 = hub.publish(drpEvent("drp", "machines", "1"));
      hub.publish(drpEvent("drp", "jobs", "2"));
      hub.publish(drpEvent("drp", "machines", "3"));
      const sub = hub.subscribe([part("drp", { types: ["machines"] })], { after: e1.id });
      hub.publish(drpEvent("drp", "machines", "4"));
      assertEquals((await queued(hub, sub)).map((e) => e.key), ["3", "4"]);
      await sub.return?.();
    },
  );

  await t.step("a cursor of the newest event replays nothing and goes live", async () => {
    const hub = new Hub();
    hub.addSource("drp", "DRP", 10);
    confirmAll(hub, "drp");
    const e1 = hub.publish(drpEvent("drp", "machines", "1"));
    const sub = hub.subscribe([part("drp")], { after: e1.id });
    hub.publish(drpEvent("drp", "machines", "2"));
    assertEquals((await queued(hub, sub)).map((e) => e.key), ["2"]);
    await sub.return?.();
  });

  await t.step("no duplicates when a replaying subscriber joins mid-delivery", async () => {
    const hub = new Hub({ sliceSize: 1 });
    hub.addSource("drp", "DRP", 10);
    confirmAll(hub, "drp");
    const others = Array.from({ length: 5 }, () => hub.subscribe([part("drp")]));
    const e1 = hub.publish(drpEvent("drp", "machines", "1"));
    hub.publish(drpEvent("drp", "machines", "2")); // still being delivered to the others
    const late = hub.subscribe([part("drp")], { after: e1.id });
    hub.publish(drpEvent("drp", "machines", "3"));
    assertEquals((await queued(hub, late)).map((e) => e.key), ["2", "3"]);
    for (const o of others) {
      assertEquals((await queued(hub, o)).map((e) => e.key), ["1", "2", "3"]);
      await o.return?.();
    }
    await late.return?.();
  });

  await t.step("a cursor older than the history fails with CURSOR_EXPIRED", () => {
    const hub = new Hub();
    hub.addSource("drp", "DRP", 2);
    confirmAll(hub, "drp");
    const e1 = hub.publish(drpEvent("drp", "machines"));
    const e2 = hub.publish(drpEvent("drp", "machines"));
    for (let i = 0; i < 2; i++) hub.publish(drpEvent("drp", "machines"));
    const err = assertRelayThrows(
      () => hub.subscribe([part("drp")], { after: e1.id }),
      "CURSOR_EXPIRED",
    );
    assert(err.message.includes("drp"));
    // e2 is evicted too, but replay would start at e3, which is still held.
    const sub = hub.subscribe([part("drp")], { after: e2.id });
    sub.return?.();
  });

  await t.step("a replay across a period without coverage fails with CURSOR_EXPIRED", () => {
    const clock = new ManualClock();
    const hub = new Hub({ clock });
    hub.addSource("drp", "DRP", 10, { resumeWindowMs: 1000 });
    confirmAll(hub, "drp");
    const first = hub.subscribe([part("drp", { keys: ["m.*.*"] })]);
    const e1 = hub.publish(drpEvent("drp", "machines"));
    first.return?.();
    clock.advance(500);
    // Back within the window: still registered, so the replay is complete.
    hub.subscribe([part("drp", { keys: ["m.*.*"] })], { after: e1.id }).return?.();
    clock.advance(1000);
    assertEquals(hub.interestKeys("drp"), []);
    const err = assertRelayThrows(
      () => hub.subscribe([part("drp", { keys: ["m.*.*"] })], { after: e1.id }),
      "CURSOR_EXPIRED",
    );
    assert(err.message.includes('interest "m.*.*" was not registered upstream between'));
    assertEquals(hub.interestKeys("drp"), [], "a refused subscription holds no interest");
    assertEquals(hub.gaps("drp").map((g) => [g.reason, g.key, g.to]), [
      ["NOT_REGISTERED", "m.*.*", undefined],
    ]);
    // Upstream outage: every part of the source breaks, with or without interest keys.
    hub.reportReceiving("drp", 0, undefined);
    const e2 = hub.publish(drpEvent("drp", "machines"));
    const down = assertRelayThrows(
      () => hub.subscribe([part("drp")], { after: e2.id }),
      "CURSOR_EXPIRED",
    );
    assert(down.message.includes('upstream "drp" was disconnected between'), down.message);
    // A set the hub never handed out proves nothing.
    hub.reportReceiving("drp", 0, new Map());
    assertRelayThrows(() => hub.subscribe([part("drp")], { after: e2.id }), "CURSOR_EXPIRED");
  });

  await t.step("events a socket read after confirming its interest count as covered", () => {
    const hub = new Hub();
    hub.addSource("drp", "DRP", 10);
    const sets: ReadonlyMap<string, InterestItem>[] = [];
    hub.attachSink("drp", { setInterest: (items) => sets.push(items) });
    const sub = hub.subscribe([part("drp", { keys: ["m.*.*"] })]);
    // The register's reply came in, then e1, and only then did the sync report.
    const e1 = hub.publish(drpEvent("drp", "machines", "1"));
    hub.publish(drpEvent("drp", "machines", "2"));
    hub.reportReceiving("drp", 0, sets.at(-1)!, 2);
    hub.subscribe([part("drp", { keys: ["m.*.*"] })], { after: e1.id }).return?.();
    sub.return?.();
  });

  await t.step("a cursor of another epoch fails with CURSOR_EXPIRED", () => {
    const hub = new Hub();
    hub.addSource("drp", "DRP", 10);
    confirmAll(hub, "drp");
    const e1 = hub.publish(drpEvent("drp", "machines"));
    const c = parseCursor(e1.id)!;
    const stale = formatCursor({ ...c, epoch: c.epoch === "zzzz" ? "yyyy" : "zzzz" });
    assertRelayThrows(() => hub.subscribe([part("drp")], { after: stale }), "CURSOR_EXPIRED");
  });

  await t.step("a malformed or future cursor fails with CURSOR_EXPIRED", () => {
    const hub = new Hub();
    hub.addSource("drp", "DRP", 10);
    confirmAll(hub, "drp");
    const e1 = hub.publish(drpEvent("drp", "machines"));
    const c = parseCursor(e1.id)!;
    for (const after of ["garbage", "", "drp:abc", formatCursor({ ...c, offset: 99 })]) {
      assertRelayThrows(() => hub.subscribe([part("drp")], { after }), "CURSOR_EXPIRED");
    }
  });

  await t.step("a cursor of a source outside the subscription is BAD_FILTER", () => {
    const hub = new Hub();
    hub.addSource("a", "DRP", 10);
    confirmAll(hub, "a");
    hub.addSource("b", "DRP", 10);
    confirmAll(hub, "b");
    const b1 = hub.publish(drpEvent("b", "machines"));
    assertRelayThrows(
      () => hub.subscribe([part("a", { keys: ["x.*.*"] })], { after: b1.id }),
      "BAD_FILTER",
    );
    assertEquals(hub.interestKeys("a"), [], "a refused subscription holds no interest");
    assertEquals(hub.subscriberCount("a"), 0);
  });

  await t.step("a multi-source subscription replays the cursor's source only", async () => {
    const hub = new Hub();
    hub.addSource("a", "DRP", 10);
    confirmAll(hub, "a");
    hub.addSource("b", "DRP", 10);
    confirmAll(hub, "b");
    const a1 = hub.publish(drpEvent("a", "machines", "a1"));
    hub.publish(drpEvent("a", "machines", "a2"));
    hub.publish(drpEvent("b", "machines", "b1"));
    const sub = hub.subscribe([part("a"), part("b")], { after: a1.id });
    hub.publish(drpEvent("b", "machines", "b2"));
    assertEquals((await queued(hub, sub)).map((e) => e.key), ["a2", "b2"]);
    await sub.return?.();
  });
});

Deno.test("Hub failures", async (t) => {
  await t.step("rejectInterest() fails only the subscriptions holding that key", async () => {
    const hub = new Hub();
    hub.addSource("drp", "DRP", 10);
    const sink = new RecordingSink();
    hub.attachSink("drp", sink);
    const x1 = hub.subscribe([part("drp", { keys: ["x.*.*"] })]);
    const x2 = hub.subscribe([part("drp", { keys: ["x.*.*", "z.*.*"] })]);
    const y = hub.subscribe([part("drp", { keys: ["y.*.*"] })]);
    assertEquals(hub.rejectInterest("drp", "x.*.*", "Upstream refused x"), 2);
    const err = await assertRelayRejects(x1.next(), "BAD_FILTER");
    assertEquals(err.message, "Upstream refused x");
    await assertRelayRejects(x2.next(), "BAD_FILTER");
    assertEquals(sink.last, ["y.*.*"], "the failed subscriptions released their interest");
    hub.publish(drpEvent("drp", "y"));
    assertEquals(types(await queued(hub, y)), ["y"]);
    assertEquals(hub.rejectInterest("drp", "nobody", "x"), 0);
    await y.return?.();
  });

  await t.step("a slow subscriber overflows with SLOW_CONSUMER; others carry on", async () => {
    const hub = new Hub({ maxQueuedPerSubscriber: 2 });
    hub.addSource("drp", "DRP", 10);
    const slow = hub.subscribe([part("drp", { keys: ["a.*.*"] })]);
    const fast = hub.subscribe([part("drp", { keys: ["b.*.*"] })]);
    const got: string[] = [];
    for (let i = 1; i <= 5; i++) {
      hub.publish(drpEvent("drp", "machines", String(i)));
      await hub.drained();
      got.push((await nextValue(fast)).key!);
    }
    assertEquals(got, ["1", "2", "3", "4", "5"]);
    await assertRelayRejects(slow.next(), "SLOW_CONSUMER");
    assertEquals(hub.interestKeys("drp"), ["b.*.*"]);
    assertEquals(hub.subscriberCount("drp"), 1);
    await fast.return?.();
  });

  await t.step("a burst to many subscribers is delivered in slices that yield", async () => {
    const sliceSize = 10;
    const hub = new Hub({ sliceSize, maxQueuedPerSubscriber: 100 });
    hub.addSource("drp", "DRP", 10);
    let delivered = 0;
    const subs = Array.from(
      { length: 50 },
      () => hub.subscribe([part("drp", { match: () => (delivered++, true) })]),
    );
    for (let i = 0; i < 3; i++) hub.publish(drpEvent("drp", "machines", String(i)));
    assertEquals(delivered, sliceSize, "only one slice runs synchronously");
    // A macrotask queued now runs at the first turn the hub yields (a timer might not be due).
    let atTick = -1;
    const tick = new Promise<void>((resolve) => {
      const { port1, port2 } = new MessageChannel();
      port2.onmessage = () => {
        atTick = delivered;
        port1.close();
        port2.close();
        resolve();
      };
      port1.postMessage(null);
    });
    await hub.drained();
    await tick;
    assertEquals(delivered, 150);
    assert(atTick > 0 && atTick < 150, `the event loop ran mid-delivery (at ${atTick})`);
    for (const s of subs) {
      assertEquals((await queued(hub, s)).map((e) => e.key), ["0", "1", "2"]);
      await s.return?.();
    }
  });

  await t.step("a subscriber that leaves mid-burst gets nothing more", async () => {
    const hub = new Hub({ sliceSize: 1 });
    hub.addSource("drp", "DRP", 10);
    let leaverCalls = 0;
    const leaver = hub.subscribe([part("drp", { match: () => (leaverCalls++, true) })]);
    const stayers = Array.from({ length: 3 }, () => hub.subscribe([part("drp")]));
    hub.publish(drpEvent("drp", "machines"));
    hub.publish(drpEvent("drp", "machines"));
    await leaver.return?.();
    const before = leaverCalls;
    await hub.drained();
    assertEquals(leaverCalls, before);
    for (const s of stayers) {
      assertEquals((await queued(hub, s)).length, 2);
      await s.return?.();
    }
  });
});
