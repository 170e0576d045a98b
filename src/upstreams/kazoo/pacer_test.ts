import { assertEquals, assertRejects } from "@std/assert";
import type { Clock } from "../../platform/clock.ts";
import { Pacer } from "./pacer.ts";

/** A clock whose timers fire only when advanced. */
function manualClock() {
  let now = 0;
  let seq = 0;
  const timers = new Map<number, { at: number; fn: () => void }>();
  const clock: Clock & { advance(ms: number): void } = {
    now: () => now,
    setTimeout: (fn, ms) => {
      timers.set(++seq, { at: now + ms, fn });
      return seq as unknown as ReturnType<typeof setTimeout>;
    },
    clearTimeout: (id) => void timers.delete(id as unknown as number),
    advance(ms) {
      const end = now + ms;
      while (true) {
        const next = [...timers.entries()].filter(([, t]) => t.at <= end)
          .sort((a, b) => a[1].at - b[1].at)[0];
        if (!next) break;
        timers.delete(next[0]);
        now = next[1].at;
        next[1].fn();
      }
      now = end;
    },
  };
  return clock;
}

Deno.test("Pacer allows a burst, then the refill rate, in order", async () => {
  const clock = manualClock();
  const pacer = new Pacer({ burst: 3, perSecond: 2 }, clock);
  const sent: number[] = [];
  const all = Array.from({ length: 7 }, (_, i) => pacer.take().then(() => sent.push(i)));
  await Promise.resolve();
  await Promise.resolve();
  assertEquals(sent, [0, 1, 2]);
  clock.advance(500);
  await Promise.resolve();
  assertEquals(sent, [0, 1, 2, 3]);
  clock.advance(1500);
  await Promise.all(all);
  assertEquals(sent, [0, 1, 2, 3, 4, 5, 6]);
  assertEquals(clock.now(), 2000);
});

Deno.test("Pacer.close rejects waiting and later requests", async () => {
  const clock = manualClock();
  const pacer = new Pacer({ burst: 1, perSecond: 1 }, clock);
  await pacer.take();
  const waiting = pacer.take();
  pacer.close(new Error("closed"));
  await assertRejects(() => waiting, Error, "closed");
  await assertRejects(() => pacer.take(), Error, "closed");
  assertEquals(pacer.waiting, 0);
});
