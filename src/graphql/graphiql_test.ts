import { assert, assertEquals, assertStringIncludes } from "@std/assert";
import { getOperationAST, Kind, parse, validate } from "graphql";
import { VENDORS } from "../model/event.ts";
import { createGraphiqlPage, defaultDocument, GRAPHIQL_CSP } from "./graphiql.ts";
import { operationChecks } from "./limits.ts";
import { buildRelaySchema } from "./schema.ts";

const SOURCES = VENDORS.map((vendor, i) => ({ name: `site-${i}.${vendor.toLowerCase()}`, vendor }));

Deno.test("the default document is valid under the relay's own limits", () => {
  const checks = operationChecks({
    maxDepth: 12,
    maxAliases: 30,
    maxFields: 1000,
    maxTokens: 2000,
    introspection: false,
  });
  const doc = checks.parse(defaultDocument(SOURCES));
  assertEquals(checks.validate(buildRelaySchema(), doc).map((e) => e.message), []);
  const ops = doc.definitions.flatMap((d) => d.kind === Kind.OPERATION_DEFINITION ? [d] : []);
  assertEquals(ops.map((o) => o.operation), ["query", ...VENDORS.map(() => "subscription")]);
  // Each subscription names its source and declares $after so resuming is one variable away.
  for (const [i, s] of SOURCES.entries()) {
    const op = getOperationAST(doc, ops[i + 1]!.name!.value)!;
    assertStringIncludes(JSON.stringify(op), JSON.stringify(s.name));
    assertEquals(op.variableDefinitions?.map((v) => v.variable.name.value), ["after"]);
  }
});

Deno.test("operation names stay unique and valid whatever the source names", () => {
  const doc = parse(defaultDocument([
    { name: "lab-drp", vendor: "DRP" },
    { name: "lab_drp", vendor: "DRP" },
    { name: "9", vendor: "KAZOO" },
  ]));
  const names = doc.definitions.map((d) => d.kind === Kind.OPERATION_DEFINITION && d.name?.value);
  assertEquals(names, ["Sources", "LabDrp", "LabDrp_", "Source9"]);
  assertEquals(validate(buildRelaySchema(), doc).length, 0);
});

Deno.test("the page is self-contained, gzipped once, and confined to its origin by CSP", async () => {
  const page = createGraphiqlPage({ title: "t", defaultQuery: "query { sources { name } }" });
  const plain = await page(
    new Request("http://relay/graphql", { headers: { accept: "text/html" } }),
  );
  const html = await plain.text();
  assertEquals(plain.headers.get("content-security-policy"), GRAPHIQL_CSP);
  // No external script, style or font: everything is inline.
  assertEquals(html.match(/<script[^>]+src=|<link[^>]+stylesheet[^>]+href=["']?https?:/g), null);
  assertEquals(html.match(/url\(["']?https?:/g), null);
  assertStringIncludes(html, "query { sources { name } }");
  const gz = await page(
    new Request("http://relay/graphql", {
      headers: { accept: "text/html", "accept-encoding": "gzip, br" },
    }),
  );
  assertEquals(gz.headers.get("content-encoding"), "gzip");
  const bytes = new Uint8Array(await gz.arrayBuffer());
  assert(bytes.length < html.length / 2, `gzip is ${bytes.length} of ${html.length}`);
  const unzipped = await new Response(
    new Blob([bytes]).stream().pipeThrough(new DecompressionStream("gzip")),
  ).text();
  assertEquals(unzipped, html);
  const etag = gz.headers.get("etag")!;
  const again = await page(
    new Request("http://relay/graphql", {
      headers: { accept: "text/html", "if-none-match": etag },
    }),
  );
  assertEquals(again.status, 304);
});
