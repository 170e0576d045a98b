import { assert, assertEquals } from "@std/assert";
import {
  formatComposite,
  isCompositeCursor,
  MAX_COMPOSITE_LENGTH,
  parseComposite,
} from "./composite_cursor.ts";
import { formatCursor } from "./cursor.ts";

const entries = [
  { source: "lab-drp", epoch: "lz3k9a1b2c", offset: 41 },
  { source: "pbx", epoch: "lz3k9a9x0y", offset: 0 },
  { source: "voip.eu-1", epoch: "lz3k9b0000", offset: 123456789 },
];

Deno.test("composite cursors round-trip, are base64url and versioned", () => {
  const text = formatComposite(entries);
  assert(text.startsWith("c1."));
  assert(/^c1\.[A-Za-z0-9_-]+$/.test(text), text);
  assert(isCompositeCursor(text));
  assert(!isCompositeCursor(formatCursor(entries[0]!)), "an event id is not composite");
  assertEquals(parseComposite(text), entries);
});

Deno.test("composite cursors that are not ours are refused", () => {
  const good = formatComposite(entries);
  for (
    const bad of [
      "c2." + good.slice(3), // another version
      "c1.", // nothing in it
      "c1.!!!!", // not base64url
      "c1." + btoa("lab-drp:e:1,lab-drp:e:2").replace(/=+$/, ""), // a source twice
      "c1." + btoa("not a cursor").replace(/=+$/, ""),
      "c1." + "A".repeat(MAX_COMPOSITE_LENGTH), // too long
    ]
  ) {
    assertEquals(parseComposite(bad), undefined, bad);
  }
});

Deno.test("a composite cursor costs about 40 characters per source", () => {
  const many = Array.from({ length: 100 }, (_, i) => ({
    source: `source-${i}`,
    epoch: "lz3k9a1b2c",
    offset: 1_000_000 + i,
  }));
  const text = formatComposite(many);
  assert(text.length < MAX_COMPOSITE_LENGTH);
  assert(text.length / many.length < 48, `${text.length / many.length} per source`);
  assertEquals(parseComposite(text), many);
});
