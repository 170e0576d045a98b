import { assertEquals } from "@std/assert";
import { ManualClock } from "../../tests/helpers/manual_clock.ts";
import { type InterestChange, InterestTable } from "./interest_table.ts";

function table(resumeWindowMs: number) {
  const clock = new ManualClock();
  const changes: { added: readonly string[]; removed: readonly string[] }[] = [];
  const interest = new InterestTable({
    clock,
    resumeWindowMs,
    onChange: (c: InterestChange) => changes.push({ added: c.added, removed: c.removed }),
  });
  return { clock, changes, interest };
}

const A = { key: "a" };
const B = { key: "b" };

Deno.test("InterestTable", async (t) => {
  await t.step("window 0: the last release drops the key at once", () => {
    const { interest, changes, clock } = table(0);
    interest.acquire([A]);
    interest.acquire([A]);
    interest.release([A]);
    assertEquals(interest.keys(), ["a"]);
    interest.release([A]);
    assertEquals(interest.keys(), []);
    assertEquals(changes, [{ added: ["a"], removed: [] }, { added: [], removed: ["a"] }]);
    assertEquals(clock.pending, 0);
  });

  await t.step("a released key lingers for the window, then goes", () => {
    const { interest, changes, clock } = table(60_000);
    interest.acquire([A, B]);
    interest.release([A]);
    assertEquals(interest.keys(), ["a", "b"]);
    const [a] = interest.entries();
    assertEquals(a, {
      key: "a",
      holders: 0,
      standing: false,
      lingeringUntil: clock.now() + 60_000,
    });
    clock.advance(59_999);
    assertEquals(interest.keys(), ["a", "b"]);
    clock.advance(1);
    assertEquals(interest.keys(), ["b"]);
    assertEquals(changes, [{ added: ["a", "b"], removed: [] }, { added: [], removed: ["a"] }]);
  });

  await t.step("a return within the window keeps it with no change at all", () => {
    const { interest, changes, clock } = table(60_000);
    interest.acquire([A]);
    interest.release([A]);
    clock.advance(30_000);
    interest.acquire([A]);
    assertEquals(interest.entries()[0]?.lingeringUntil, undefined);
    assertEquals(clock.pending, 0);
    clock.advance(120_000);
    assertEquals(interest.keys(), ["a"]);
    assertEquals(changes, [{ added: ["a"], removed: [] }]);
    // A second departure starts a fresh window.
    interest.release([A]);
    clock.advance(59_000);
    assertEquals(interest.keys(), ["a"]);
    clock.advance(1_000);
    assertEquals(interest.keys(), []);
  });

  await t.step("standing interest never lingers or goes", () => {
    const { interest, clock } = table(1_000);
    interest.acquire([A], true);
    interest.acquire([A]);
    interest.release([A]);
    assertEquals(interest.entries(), [{
      key: "a",
      holders: 0,
      standing: true,
      lingeringUntil: undefined,
    }]);
    assertEquals(clock.pending, 0);
  });

  await t.step("close cancels window timers; later releases drop at once", () => {
    const { interest, clock } = table(60_000);
    interest.acquire([A, B]);
    interest.release([A]);
    assertEquals(clock.pending, 1);
    interest.close();
    assertEquals(clock.pending, 0);
    interest.release([B]);
    assertEquals(interest.keys(), ["a"]);
  });
});

Deno.test("InterestTable with batch: one change per batch, and what cancels out is never reported", () => {
  const clock = new ManualClock();
  const flushes: (() => void)[] = [];
  const changes: { wanted: string[]; added: readonly string[]; removed: readonly string[] }[] = [];
  const interest = new InterestTable({
    clock,
    resumeWindowMs: 0,
    batch: (flush) => flushes.push(flush),
    onChange: (c) =>
      changes.push({ wanted: [...c.wanted.keys()], added: c.added, removed: c.removed }),
  });
  const C = { key: "c" };
  interest.acquire([A]);
  interest.acquire([B]);
  interest.acquire([C]);
  interest.release([C]); // added and removed within the batch: never reported
  assertEquals(interest.keys(), ["a", "b"], "the table itself is current at once");
  assertEquals(flushes.length, 1, "one flush scheduled for the whole batch");
  assertEquals(changes, []);
  flushes.shift()!();
  assertEquals(changes, [{ wanted: ["a", "b"], added: ["a", "b"], removed: [] }]);

  interest.release([A]);
  interest.acquire([A]); // removed and added back within the batch: no change at all
  flushes.shift()!();
  assertEquals(changes.length, 1, "nothing reached the sink");

  interest.release([B]);
  flushes.shift()!();
  assertEquals(changes.at(-1), { wanted: ["a"], added: [], removed: ["b"] });
  assertEquals(flushes.length, 0);
});
