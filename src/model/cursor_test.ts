import { assert, assertEquals, assertMatch, assertNotEquals } from "@std/assert";
import { formatCursor, newEpoch, parseCursor } from "./cursor.ts";

Deno.test("cursor", async (t) => {
  await t.step("formatCursor() and parseCursor() round-trip", () => {
    const c = { source: "lab-drp.v3_x", epoch: "lx2k9f0abc", offset: 42 };
    const id = formatCursor(c);
    assertEquals(id, "lab-drp.v3_x:lx2k9f0abc:42");
    assertEquals(parseCursor(id), c);
  });

  await t.step("parseCursor() rejects what the relay never issues", () => {
    for (
      const id of [
        "",
        "garbage",
        "drp:abc",
        "drp:abc:",
        "drp:abc:-1",
        "drp:abc:1.5",
        "drp:ABC:1",
        "drp::1",
        ":abc:1",
        "dr p:abc:1",
        "drp:abc:1:2",
        "drp:abc:1234567890123456",
        " drp:abc:1",
      ]
    ) {
      assertEquals(parseCursor(id), undefined, JSON.stringify(id));
    }
  });

  await t.step("parseCursor() accepts offset 0 and 15 digits", () => {
    assertEquals(parseCursor("a:b:0")?.offset, 0);
    assertEquals(parseCursor("a:b:999999999999999")?.offset, 999999999999999);
  });

  await t.step("newEpoch() is base-36 time plus four random characters", () => {
    const now = Date.UTC(2024, 0, 1);
    const e = newEpoch(now, () => 0);
    assertEquals(e, now.toString(36) + "0000");
    assertMatch(newEpoch(now, () => 0.999999), /^[a-z0-9]+$/);
    assertEquals(newEpoch(now, () => 0.999999).length, e.length);
    assertNotEquals(newEpoch(now, () => 0.1), newEpoch(now, () => 0.2));
    assertNotEquals(newEpoch(now, () => 0.5), newEpoch(now + 1, () => 0.5));
  });

  await t.step("an epoch fits the cursor grammar", () => {
    const id = formatCursor({ source: "s", epoch: newEpoch(Date.now()), offset: 1 });
    assert(parseCursor(id));
  });
});
