/**
 * The vendor fixture corpus (tests/fixtures/<vendor>/*.json): frames as the vendors'
 * documents and sources show them, across versions, each with a note of where it comes
 * from and the mapped fields it must arrive with.
 *
 * @module
 */
import { assertEquals } from "@std/assert";

/** One fixture file. */
export interface Fixture {
  /** The file name without `.json`. */
  name: string;
  /** Where the shape comes from (vendor document, source file and version). */
  note: string;
  /** The frame exactly as the server sends it (serialised with JSON.stringify). */
  frame: unknown;
  /**
   * The GraphQL fields the delivered event must have (`payload.X` reads the payload); one
   * object per event the frame yields (an array when it yields several).
   */
  expect: Record<string, unknown> | Record<string, unknown>[];
}

/** Every fixture of `vendor`, sorted by name. */
export function loadFixtures(vendor: string): Fixture[] {
  const dir = new URL(`../fixtures/${vendor}/`, import.meta.url);
  const out: Fixture[] = [];
  for (const entry of Deno.readDirSync(dir)) {
    if (!entry.isFile || !entry.name.endsWith(".json")) continue;
    const parsed = JSON.parse(Deno.readTextFileSync(new URL(entry.name, dir)));
    if (typeof parsed.note !== "string" || parsed.note.length < 20) {
      throw new Error(`${vendor}/${entry.name}: every fixture needs a note of its source`);
    }
    out.push({ name: entry.name.slice(0, -5), ...parsed });
  }
  return out.sort((a, b) => a.name.localeCompare(b.name));
}

/** The expectations of a fixture as a list (one per event it yields). */
export function expectations(f: Fixture): Record<string, unknown>[] {
  return Array.isArray(f.expect) ? f.expect : [f.expect];
}

/** Asserts that `row` (a delivered event's fields) has every expected value. */
export function assertMapped(
  row: Record<string, unknown>,
  expected: Record<string, unknown>,
  what: string,
): void {
  for (const [field, want] of Object.entries(expected)) {
    const got = field.startsWith("payload.")
      ? (row.payload as Record<string, unknown> | undefined)?.[field.slice(8)]
      : row[field];
    assertEquals(got, want, `${what}: ${field}`);
  }
}
