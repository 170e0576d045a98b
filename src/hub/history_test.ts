import { assertEquals } from "@std/assert";
import { History } from "./history.ts";

function filled(capacity: number, count: number): History<string> {
  const h = new History<string>(capacity);
  for (let i = 0; i < count; i++) h.push((offset) => `e${offset}`);
  return h;
}

Deno.test("History", async (t) => {
  await t.step("push() numbers items from 1 and hands the offset to the builder", () => {
    const h = new History<string>(4);
    assertEquals(h.lastOffset, 0);
    assertEquals(h.firstOffset, 1);
    assertEquals(h.size, 0);
    const seen: number[] = [];
    assertEquals(h.push((o) => (seen.push(o), `e${o}`)), "e1");
    assertEquals(h.push((o) => (seen.push(o), `e${o}`)), "e2");
    assertEquals(seen, [1, 2]);
    assertEquals(h.lastOffset, 2);
    assertEquals(h.firstOffset, 1);
    assertEquals(h.size, 2);
    assertEquals(h.at(1), "e1");
    assertEquals(h.at(2), "e2");
    assertEquals(h.at(0), undefined);
    assertEquals(h.at(3), undefined);
  });

  await t.step("a full ring evicts the oldest items and keeps offsets increasing", () => {
    const h = filled(3, 7);
    assertEquals(h.lastOffset, 7);
    assertEquals(h.firstOffset, 5);
    assertEquals(h.size, 3);
    assertEquals(h.at(4), undefined);
    assertEquals([h.at(5), h.at(6), h.at(7)], ["e5", "e6", "e7"]);
  });

  await t.step("after() returns every newer item in order", () => {
    const h = filled(5, 4);
    assertEquals(h.after(0), { ok: true, items: ["e1", "e2", "e3", "e4"] });
    assertEquals(h.after(2), { ok: true, items: ["e3", "e4"] });
  });

  await t.step("after() the newest offset is an empty success", () => {
    assertEquals(filled(3, 7).after(7), { ok: true, items: [] });
    assertEquals(new History<string>(3).after(0), { ok: true, items: [] });
  });

  await t.step("after() just before the oldest held item still succeeds whole", () => {
    assertEquals(filled(3, 7).after(4), { ok: true, items: ["e5", "e6", "e7"] });
  });

  await t.step("after() is all or nothing: a gap means expired, never a partial list", () => {
    const h = filled(3, 7);
    assertEquals(h.after(3), { ok: false, reason: "expired" });
    assertEquals(h.after(0), { ok: false, reason: "expired" });
  });

  await t.step("after() an offset never issued is future", () => {
    assertEquals(filled(3, 7).after(8), { ok: false, reason: "future" });
    assertEquals(new History<string>(3).after(1), { ok: false, reason: "future" });
  });

  await t.step("newestFirst() yields held items newest first", () => {
    assertEquals([...filled(3, 7).newestFirst()], ["e7", "e6", "e5"]);
    assertEquals([...filled(5, 2).newestFirst()], ["e2", "e1"]);
    assertEquals([...new History<string>(3).newestFirst()], []);
  });

  await t.step("capacity 0 keeps nothing but still counts offsets", () => {
    const h = new History<string>(0);
    assertEquals(h.push((o) => `e${o}`), "e1");
    h.push((o) => `e${o}`);
    assertEquals(h.lastOffset, 2);
    assertEquals(h.size, 0);
    assertEquals(h.at(2), undefined);
    assertEquals([...h.newestFirst()], []);
    assertEquals(h.after(2), { ok: true, items: [] });
    assertEquals(h.after(1), { ok: false, reason: "expired" });
    assertEquals(h.after(3), { ok: false, reason: "future" });
  });

  await t.step("a fractional or negative capacity is floored at 0", () => {
    const h = new History<string>(-2);
    h.push((o) => `e${o}`);
    assertEquals(h.size, 0);
    const f = filled(2.9, 3);
    assertEquals([...f.newestFirst()], ["e3", "e2"]);
  });
});
