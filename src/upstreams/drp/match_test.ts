import { assertEquals, assertStringIncludes } from "@std/assert";
import {
  type DrpPattern,
  formatPattern,
  matchesPattern,
  parsePattern,
  patternCovers,
  validatePattern,
} from "./match.ts";

const p = (type: string, action: string, key: string): DrpPattern => ({ type, action, key });

Deno.test("DRP patterns", async (t) => {
  await t.step("parsePattern() splits at the first two dots; the key keeps the rest", () => {
    assertEquals(parsePattern("machines.save.m1"), p("machines", "save", "m1"));
    assertEquals(parsePattern("*.*.*"), p("*", "*", "*"));
    assertEquals(parsePattern("params.update.a.b.c"), p("params", "update", "a.b.c"));
    assertEquals(parsePattern("profiles.save."), p("profiles", "save", ""));
    assertEquals(parsePattern(".."), p("", "", ""));
  });

  await t.step("parsePattern() needs two dots", () => {
    for (const text of ["", "machines", "machines.save", ".x"]) {
      assertEquals(parsePattern(text), undefined, text);
    }
  });

  await t.step("formatPattern() is the inverse of parsePattern()", () => {
    for (const text of ["machines.save.m1", "*.*.*", "params.update.a.b.c"]) {
      assertEquals(formatPattern(parsePattern(text)!), text);
    }
  });

  await t.step("validatePattern() accepts exact values and wildcards", () => {
    assertEquals(validatePattern(p("machines", "*", "3e8b1c.with.dots")), undefined);
    assertEquals(validatePattern(p("*", "*", "*")), undefined);
  });

  await t.step("validatePattern() refuses empty fields", () => {
    assertStringIncludes(validatePattern(p("", "*", "*"))!, "type must not be empty");
    assertStringIncludes(validatePattern(p("*", "", "*"))!, "action must not be empty");
    assertStringIncludes(validatePattern(p("*", "*", ""))!, "key must not be empty");
  });

  await t.step("validatePattern() refuses whitespace anywhere", () => {
    assertStringIncludes(
      validatePattern(p("mach ines", "*", "*"))!,
      "type must not contain whitespace",
    );
    assertStringIncludes(
      validatePattern(p("*", "save\t", "*"))!,
      "action must not contain whitespace",
    );
    assertStringIncludes(validatePattern(p("*", "*", "a\nb"))!, "key must not contain whitespace");
  });

  await t.step("validatePattern() refuses dots in type and action (not in key)", () => {
    assertStringIncludes(validatePattern(p("a.b", "*", "*"))!, 'type cannot contain ".": "a.b"');
    assertStringIncludes(validatePattern(p("*", "x.y", "*"))!, 'action cannot contain ".": "x.y"');
    assertEquals(validatePattern(p("*", "*", "x.y")), undefined);
  });

  await t.step("validatePattern() refuses a filter the 512-byte frame cannot carry", () => {
    const overhead = "deregister *.*.".length;
    assertEquals(validatePattern(p("*", "*", "k".repeat(512 - overhead))), undefined);
    const problem = validatePattern(p("*", "*", "k".repeat(513 - overhead)));
    assertStringIncludes(problem!, "513 bytes");
    // Bytes, not characters: "é" is two bytes in UTF-8.
    assertStringIncludes(validatePattern(p("*", "*", "é".repeat(250)))!, "bytes");
  });

  await t.step("matchesPattern(): `*` or exact, case-sensitive, no globbing", () => {
    const ev = { type: "machines", action: "save", key: "m1" };
    assertEquals(matchesPattern(p("*", "*", "*"), ev), true);
    assertEquals(matchesPattern(p("machines", "save", "m1"), ev), true);
    assertEquals(matchesPattern(p("machines", "*", "*"), ev), true);
    assertEquals(matchesPattern(p("*", "update", "*"), ev), false);
    assertEquals(matchesPattern(p("*", "*", "m2"), ev), false);
    assertEquals(matchesPattern(p("Machines", "*", "*"), ev), false, "case-sensitive");
    assertEquals(matchesPattern(p("mach*", "*", "*"), ev), false, "a literal, not a prefix glob");
    assertEquals(matchesPattern(p("mach*", "*", "*"), { ...ev, type: "mach*" }), true);
  });

  await t.step("matchesPattern(): a missing action or key only matches `*`", () => {
    const ev = { type: "machines", action: null, key: null };
    assertEquals(matchesPattern(p("machines", "*", "*"), ev), true);
    assertEquals(matchesPattern(p("machines", "save", "*"), ev), false);
    assertEquals(matchesPattern(p("machines", "*", "m1"), ev), false);
  });
});

Deno.test("patternCovers: a pattern covers another when it matches everything that one does", () => {
  assertEquals(patternCovers("*.*.*", "machines.*.*"), true);
  assertEquals(patternCovers("machines.*.*", "machines.save.m-1.lab"), true);
  assertEquals(patternCovers("machines.*.*", "machines.*.*"), true);
  assertEquals(patternCovers("machines.save.*", "machines.*.*"), false);
  assertEquals(patternCovers("machines.*.*", "profiles.*.*"), false);
  assertEquals(patternCovers("*.*.m1", "*.*.*"), false);
  assertEquals(patternCovers("garbage", "*.*.*"), false);
});
