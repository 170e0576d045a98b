/**
 * Subscription admission (issue 7 and issue 11's reconnect storms), driven by a fake clock:
 * keyed scopes get one bucket per effective scope whose size covers a full reconnect of
 * what the scope held; anonymous clients are limited per connection and per address.
 */
import { assert, assertEquals } from "@std/assert";
import { type AccessScope, OPEN_SCOPE } from "../../src/model/access.ts";
import type { Clock } from "../../src/platform/clock.ts";
import { Admission, type AdmissionLimits } from "../../src/server/admission.ts";

function fakeClock(): Clock & { advance(ms: number): void } {
  let now = 1_000_000;
  return {
    now: () => now,
    setTimeout: () => 0 as unknown as ReturnType<typeof setTimeout>,
    clearTimeout: () => {},
    advance: (ms) => {
      now += ms;
    },
  };
}

const LIMITS: AdmissionLimits = {
  maxSubscriptionsPerSocket: 100,
  subscriptionsPerMinute: 60,
  subscriptionBurst: 10,
  addressSubscriptionsPerMinute: 600,
  addressSubscriptionBurst: 1000,
  maxPendingSocketsPerAddress: 8,
};

const scope = (id: string, sources: string[] | "*"): AccessScope => ({
  id,
  sources: sources === "*" ? "*" : new Set(sources),
  tenants: new Map(),
});

/** Admits `n` subscriptions on `conn`, starting each one admitted; returns how many were. */
function subscribeMany(conn: ReturnType<Admission["connection"]>, n: number): number {
  let admitted = 0;
  for (let i = 0; i < n; i++) {
    if (conn.admit(0) === undefined) {
      conn.started();
      admitted++;
    }
  }
  return admitted;
}

Deno.test("keyed scopes: the burst covers a full reconnect of what the scope held", async (t) => {
  const clock = fakeClock();
  const admission = new Admission(LIMITS, clock);
  const key = scope("ops", "*");
  await t.step("the base burst, then RATE_LIMITED", () => {
    const conn = admission.connection(key, "10.0.0.1");
    assertEquals(subscribeMany(conn, 15), 10);
    assertEquals(conn.admit(0)?.code, "RATE_LIMITED");
  });
  await t.step("all its sockets drop and come back at once: all admitted", () => {
    const dropped = admission.connection(key, "10.0.0.1");
    for (let i = 0; i < 10; i++) dropped.ended(true);
    const conns = Array.from({ length: 10 }, () => admission.connection(key, "10.0.0.2"));
    let admitted = 0;
    for (const c of conns) admitted += subscribeMany(c, 1);
    assertEquals(admitted, 10);
  });
  await t.step("churn beyond that is rate limited", () => {
    const conn = admission.connection(key, "10.0.0.3");
    let admitted = 0;
    for (let i = 0; i < 100; i++) {
      if (conn.admit(0) === undefined) {
        admitted++;
        conn.started();
        conn.ended(false);
      }
    }
    assert(admitted < 100, `churn admitted ${admitted}`);
    assertEquals(conn.admit(0)?.code, "RATE_LIMITED");
  });
  await t.step("another scope of the same id has its own bucket", () => {
    const narrow = admission.connection(scope("ops", ["pbx"]), "10.0.0.3");
    assertEquals(narrow.admit(0), undefined);
  });
  await t.step("the bucket refills at subscriptionsPerMinute", () => {
    const conn = admission.connection(key, "10.0.0.3");
    clock.advance(60_000);
    assertEquals(subscribeMany(conn, 1), 1);
  });
});

Deno.test("anonymous clients: per connection and per address", async (t) => {
  const clock = fakeClock();
  const admission = new Admission({ ...LIMITS, maxSubscriptionsPerSocket: 5 }, clock);
  await t.step("one connection: its own bucket of twice maxSubscriptionsPerSocket", () => {
    const conn = admission.connection(OPEN_SCOPE, "10.0.0.1");
    for (let i = 0; i < 10; i++) assertEquals(conn.admit(0), undefined);
    assertEquals(conn.admit(0)?.code, "RATE_LIMITED");
    // Another connection from the same address is not affected.
    assertEquals(admission.connection(OPEN_SCOPE, "10.0.0.1").admit(0), undefined);
  });
  await t.step("the cap: LIMIT_EXCEEDED at maxSubscriptionsPerSocket active", () => {
    assertEquals(admission.connection(OPEN_SCOPE, "10.0.0.9").admit(5)?.code, "LIMIT_EXCEEDED");
  });
  await t.step("one address: a generous burst shared by its connections", () => {
    let admitted = 0;
    for (let i = 0; i < 400; i++) {
      const conn = admission.connection(OPEN_SCOPE, "10.0.0.2");
      for (let j = 0; j < 5; j++) if (conn.admit(0) === undefined) admitted++;
    }
    assertEquals(admitted, 1000);
    assertEquals(admission.connection(OPEN_SCOPE, "10.0.0.2").admit(0)?.code, "RATE_LIMITED");
    assertEquals(admission.connection(OPEN_SCOPE, "10.0.0.3").admit(0), undefined);
  });
});

Deno.test("pending (unauthenticated) sockets per address", () => {
  const admission = new Admission(LIMITS, fakeClock());
  for (let i = 0; i < 8; i++) assert(admission.reservePending("10.0.0.1"));
  assert(!admission.reservePending("10.0.0.1"));
  assert(admission.reservePending("10.0.0.2"));
  admission.releasePending("10.0.0.1");
  assert(admission.reservePending("10.0.0.1"));
  assertEquals(admission.pending("10.0.0.1"), 8);
});
