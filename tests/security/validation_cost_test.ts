/**
 * Attack 1 (issue 7): documents whose validation cost explodes (fragments spreading the next
 * twice, deep nesting, huge token counts) must be refused with LIMIT_EXCEEDED at a cost
 * bounded by the document, and the standard introspection query must still pass where
 * introspection is on (issue 12) without lifting the depth limit for anything else.
 */
import { assert, assertEquals, assertStringIncludes } from "@std/assert";
import { type GraphQLError, parse } from "graphql";
import {
  INTROSPECTION_DEPTH,
  nestingExceeds,
  operationChecks,
  type OperationLimits,
  standardIntrospectionQuery,
} from "../../src/graphql/limits.ts";
import { buildRelaySchema } from "../../src/graphql/schema.ts";
import { deepQuery, fragmentBomb } from "./attacks.ts";

const LIMITS: OperationLimits = {
  maxDepth: 12,
  maxAliases: 30,
  maxFields: 1000,
  maxTokens: 2000,
  introspection: false,
};
const schema = buildRelaySchema();

/** Parses and validates like either transport; returns the error codes and the time. */
function check(
  source: string,
  limits = LIMITS,
): { codes: string[]; messages: string[]; ms: number } {
  const checks = operationChecks(limits);
  const start = performance.now();
  let errors: readonly GraphQLError[];
  try {
    errors = checks.validate(schema, checks.parse(source));
  } catch (err) {
    errors = [err as GraphQLError];
  }
  return {
    codes: errors.map((e) => String(e.extensions?.code ?? "GRAPHQL_VALIDATION_FAILED")),
    messages: errors.map((e) => e.message),
    ms: performance.now() - start,
  };
}

// Bounds here are far above the real cost (milliseconds) and far below the old one (20
// levels took seconds, 40 never finished): they tell linear from exponential on a loaded
// machine, they do not measure speed.
const BOUND_MS = 1500;

Deno.test("fragment bombs are refused at a cost linear in the document", async (t) => {
  for (const levels of [20, 40, 200]) {
    await t.step(`${levels} levels`, () => {
      const r = check(fragmentBomb(levels), { ...LIMITS, maxTokens: 20_000 });
      assertEquals(r.codes, ["LIMIT_EXCEEDED"]);
      assertStringIncludes(r.messages[0]!, "fields once fragments are expanded");
      assert(r.ms < BOUND_MS, `${levels} levels took ${r.ms.toFixed(0)} ms`);
    });
  }
  await t.step("fragment cycles are reported by the spec rule, not followed", () => {
    const r = check(`query { ...A } fragment A on Query { ...B } fragment B on Query { ...A }`);
    assert(r.codes.length > 0 && !r.codes.includes("LIMIT_EXCEEDED"), String(r.messages));
    assertStringIncludes(r.messages.join(" "), "Cannot spread fragment");
  });
  await t.step("a fragment spread at every level of a deep chain counts its depth", () => {
    const frags = Array.from(
      { length: 14 },
      (_, i) => `fragment F${i} on Source { name ${i < 13 ? `upstream { ...F${i + 1} }` : ""} }`,
    );
    const r = check(`{ sources { ...F0 } }\n${frags.join("\n")}`);
    assert(r.codes.includes("LIMIT_EXCEEDED"), String(r.messages));
  });
  await t.step("aliases are counted once per spread", () => {
    const r = check(
      `{ ...A ...A } fragment A on Query { ${
        Array.from({ length: 20 }, (_, i) => `a${i}: sources { name }`).join(" ")
      } }`,
    );
    assertEquals(r.codes, ["LIMIT_EXCEEDED"]);
    assertStringIncludes(r.messages[0]!, "aliases");
  });
});

Deno.test("deep nesting is LIMIT_EXCEEDED before the recursive parser runs", async (t) => {
  for (const depth of [100, 10_000, 1_000_000]) {
    await t.step(`${depth} levels`, () => {
      const r = check(deepQuery(depth), { ...LIMITS, maxTokens: 20_000 });
      assertEquals(r.codes, ["LIMIT_EXCEEDED"]);
      assert(r.ms < BOUND_MS, `${depth} levels took ${r.ms.toFixed(0)} ms`);
    });
  }
  await t.step("nested argument values count too", () => {
    const r = check(`{ recentEvents(types: ${"[".repeat(5000)}"x"${"]".repeat(5000)}) { id } }`);
    assertEquals(r.codes, ["LIMIT_EXCEEDED"]);
  });
  await t.step("brackets inside strings, block strings and comments do not count", () => {
    const inner = "{".repeat(500);
    assert(
      !nestingExceeds(`{ a(s: "${inner}", b: """${inner}\\"""${inner}""") # ${inner}\n }`, 64),
    );
    assert(nestingExceeds(`{ a(s: "x") ${"{".repeat(65)} }`, 64));
  });
  await t.step("13 levels of fields is the depth limit's error", () => {
    const r = check(deepQuery(13));
    assertEquals(r.codes, ["LIMIT_EXCEEDED"]);
    assertStringIncludes(r.messages[0]!, "nested 14 levels deep; the limit is 12");
  });
});

Deno.test("maxTokens bounds the parser", () => {
  const many = `{ ${Array.from({ length: 3000 }, () => "__typename").join(" ")} }`;
  const r = check(many);
  assertEquals(r.codes, ["LIMIT_EXCEEDED"]);
  assertStringIncludes(r.messages[0]!, "more than 2000 tokens");
});

Deno.test("the standard introspection query passes only where introspection is on", async (t) => {
  const query = standardIntrospectionQuery();
  await t.step("its depth is above the default limit", () => {
    assert(INTROSPECTION_DEPTH > LIMITS.maxDepth, String(INTROSPECTION_DEPTH));
  });
  await t.step("introspection on: it validates, default limits unchanged", () => {
    assertEquals(check(query, { ...LIMITS, introspection: true }).codes, []);
  });
  await t.step("introspection off: refused", () => {
    assert(check(query).codes.length > 0);
    const shallow = check(`{ __schema { queryType { name } } }`);
    assertStringIncludes(shallow.messages.join(" "), "introspection");
  });
  await t.step("it fits the default token limit", () => {
    assertEquals(check(query, { ...LIMITS, introspection: true, maxTokens: 1000 }).codes, []);
  });
  await t.step("a data query as deep as it is still refused by depth", () => {
    const r = check(deepQuery(INTROSPECTION_DEPTH), { ...LIMITS, introspection: true });
    assertEquals(r.codes, ["LIMIT_EXCEEDED"]);
  });
  await t.step("mixing data fields into an introspection query keeps the normal limit", () => {
    const mixed = query.replace("__schema {", "sources { name } __schema {");
    assert(mixed !== query);
    const r = check(mixed, { ...LIMITS, introspection: true });
    assertEquals(r.codes, ["LIMIT_EXCEEDED"]);
  });
  await t.step("an introspection query deeper than the standard one is refused", () => {
    const deeper = `{ __type(name: "Query") { ${"ofType { ".repeat(INTROSPECTION_DEPTH)}name${
      " }".repeat(INTROSPECTION_DEPTH)
    } } }`;
    parse(deeper);
    const r = check(deeper, { ...LIMITS, introspection: true });
    assertEquals(r.codes, ["LIMIT_EXCEEDED"]);
  });
});

Deno.test("no schema suggestions when introspection is off", () => {
  const off = check(`{ sourcs { name } }`);
  assert(off.messages.length > 0);
  assert(!off.messages.join(" ").includes("Did you mean"), off.messages.join(" "));
  const on = check(`{ sourcs { name } }`, { ...LIMITS, introspection: true });
  assertStringIncludes(on.messages.join(" "), "Did you mean");
});
