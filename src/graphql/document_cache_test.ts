import { assertEquals, assertStrictEquals } from "@std/assert";
import { buildSchema, parse, validate } from "graphql";
import { DocumentCache } from "./document_cache.ts";

const schema = buildSchema("type Query { a: Int, b: Int }");

function cache(maxEntries = 500) {
  const calls = { parse: 0, validate: 0 };
  const documents = new DocumentCache({
    parse: (q) => {
      calls.parse++;
      return parse(q);
    },
    validate: (d) => {
      calls.validate++;
      return validate(schema, d);
    },
    maxEntries,
    maxQueryLength: 64,
  });
  return { documents, calls };
}

Deno.test("DocumentCache", async (t) => {
  await t.step("one parse and one validation serve every operation with that text", () => {
    const { documents, calls } = cache();
    const first = documents.check("{ a }");
    const second = documents.check("{ a }");
    if (!first.ok || !second.ok) throw new Error("expected valid documents");
    assertStrictEquals(first.document, second.document, "the same immutable document");
    assertEquals(calls, { parse: 1, validate: 1 });
  });

  await t.step("syntax and validation errors are answered, and cached too", () => {
    const { documents, calls } = cache();
    const syntax = documents.check("{ a");
    if (syntax.ok) throw new Error("expected a syntax error");
    assertEquals(syntax.errors[0]!.message.startsWith("Syntax Error"), true);
    const invalid = documents.check("{ c }");
    if (invalid.ok) throw new Error("expected a validation error");
    assertEquals(invalid.errors[0]!.message.startsWith('Cannot query field "c"'), true);
    documents.check("{ c }");
    assertEquals(calls, { parse: 2, validate: 1 });
  });

  await t.step("bounded: the least recently used text goes first", () => {
    const { documents, calls } = cache(2);
    documents.check("{ a }");
    documents.check("{ b }");
    documents.check("{ a }"); // refreshes a
    documents.check("{ a b }"); // evicts b
    assertEquals(documents.size, 2);
    documents.check("{ a }");
    assertEquals(calls.parse, 3);
    documents.check("{ b }");
    assertEquals(calls.parse, 4);
  });

  await t.step("long query texts are checked every time and not kept", () => {
    const { documents, calls } = cache();
    const long = `{ a ${" ".repeat(80)}}`;
    documents.check(long);
    documents.check(long);
    assertEquals(calls.parse, 2);
    assertEquals(documents.size, 0);
  });
});
