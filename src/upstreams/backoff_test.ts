import { assert, assertEquals } from "@std/assert";
import { backoffDelay, type BackoffPolicy } from "./backoff.ts";

const policy: BackoffPolicy = { baseMs: 100, maxMs: 1000 };

Deno.test("backoffDelay()", async (t) => {
  await t.step("attempt 1 draws from [0, base]", () => {
    assertEquals(backoffDelay(1, 0.5, policy), 50);
    assert(backoffDelay(1, 0.999999, policy) < 100);
  });

  await t.step("the cap doubles per attempt", () => {
    assertEquals(backoffDelay(2, 0.5, policy), 100);
    assertEquals(backoffDelay(3, 0.5, policy), 200);
    assertEquals(backoffDelay(4, 0.5, policy), 400);
  });

  await t.step("the cap stops at maxMs, even for huge attempt numbers", () => {
    assertEquals(backoffDelay(5, 0.5, policy), 500);
    assertEquals(backoffDelay(6, 0.5, policy), 500);
    assertEquals(backoffDelay(1_000, 0.5, policy), 500);
    assertEquals(backoffDelay(Number.MAX_SAFE_INTEGER, 0.5, policy), 500);
  });

  await t.step("full jitter: every draw lies in [0, cap)", () => {
    for (let attempt = 1; attempt <= 12; attempt++) {
      const cap = Math.min(policy.maxMs, policy.baseMs * 2 ** (attempt - 1));
      for (const r of [0, 0.1, 0.25, 0.5, 0.75, 0.9, 0.999999]) {
        const d = backoffDelay(attempt, r, policy);
        assert(Number.isInteger(d), `integer delay, got ${d}`);
        assert(d >= 0 && d < cap, `attempt ${attempt}, random ${r}: ${d} not in [0, ${cap})`);
      }
    }
  });

  await t.step("random 0 means no wait", () => {
    for (const attempt of [1, 2, 10, 100]) assertEquals(backoffDelay(attempt, 0, policy), 0);
  });

  await t.step("an attempt below 1 is treated as the first", () => {
    assertEquals(backoffDelay(0, 0.5, policy), 50);
    assertEquals(backoffDelay(-3, 0.5, policy), 50);
  });

  await t.step("base above max is capped by max", () => {
    assertEquals(backoffDelay(1, 0.5, { baseMs: 5000, maxMs: 1000 }), 500);
  });
});
