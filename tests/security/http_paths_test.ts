/**
 * Attacks 1, 2 and 4 (issue 7) over the wire: every way of reaching the GraphQL path that
 * executes an operation needs a key whatever the method or Accept header (only the GraphiQL
 * page is served without one, and it executes nothing); expensive documents are refused
 * with LIMIT_EXCEEDED over HTTP and WebSocket; the body limit holds for chunked bodies.
 */
import { assert, assertEquals, assertStringIncludes } from "@std/assert";
import { connectClient } from "../helpers/gql_client.ts";
import { startRelay } from "../helpers/relay.ts";
import {
  browserGet,
  chunkedPost,
  deepQuery,
  fragmentBomb,
  healthLatency,
  post,
  sha256Hex,
} from "./attacks.ts";

const KEY = "ops-key-0123456789";
const NOTHING_KEY = "nothing-key-0123456789";

async function config(graphiql: boolean) {
  return {
    server: { graphiql },
    auth: {
      apiKeys: [
        { id: "ops", sha256: await sha256Hex(KEY), sources: ["*"] },
        { id: "nothing", sha256: await sha256Hex(NOTHING_KEY), sources: ["no-such-source"] },
      ],
    },
  };
}

const auth = { authorization: `Bearer ${KEY}` };
const codeOf = (body: string) => JSON.parse(body).errors?.[0]?.extensions?.code;

Deno.test("every path that executes an operation needs a key", async (t) => {
  await using relay = await startRelay([], { config: await config(false) });
  const q = `{ source(name: "lab") { name } }`;

  await t.step("GET with a browser's Accept and GraphiQL off: 401, nothing executed", async () => {
    const r = await browserGet(relay.httpUrl, q);
    assertEquals(r.status, 401);
    assertEquals(codeOf(r.body), "FORBIDDEN");
  });
  await t.step("GET, POST, SSE and multipart without a key: 401", async () => {
    const get = new URL(relay.httpUrl);
    get.searchParams.set("query", q);
    for (
      const [method, accept] of <[string, string][]> [
        ["GET", "application/json"],
        ["GET", "*/*"],
        ["GET", "text/event-stream"],
        ["POST", "application/graphql-response+json"],
        ["POST", "text/event-stream"],
        ["POST", "multipart/mixed"],
        ["POST", "text/html"],
      ]
    ) {
      const res = await fetch(method === "GET" ? get : relay.httpUrl, {
        method,
        headers: { accept, "content-type": "application/json" },
        ...(method === "POST" ? { body: JSON.stringify({ query: q }) } : {}),
      });
      assertEquals(res.status, 401, `${method} ${accept}`);
      await res.body?.cancel();
    }
  });
  await t.step("OPTIONS executes nothing", async () => {
    const u = new URL(relay.httpUrl);
    u.searchParams.set("query", "{ sources { name } }");
    const res = await fetch(u, { method: "OPTIONS" });
    const body = await res.text();
    assert(!body.includes('"data"'), body);
  });
  await t.step("with a key, GET and POST execute", async () => {
    const r = await post(relay.httpUrl, "{ sources { name } }", auth);
    assertEquals(r.status, 200);
    assertEquals(JSON.parse(r.body).data, { sources: [] });
  });
});

Deno.test("GraphiQL on: the page is served without a key and executes nothing", async () => {
  await using relay = await startRelay([], { config: await config(true) });
  const r = await browserGet(relay.httpUrl, "{ sources { name } }");
  assertEquals(r.status, 200);
  assertStringIncludes(r.body.toLowerCase(), "<html");
  assert(!r.body.includes('"sources"'), "the query was executed");
});

Deno.test("expensive documents are refused quickly over HTTP and WebSocket", async (t) => {
  await using relay = await startRelay([], { config: await config(false) });
  await t.step("HTTP: a 40-level fragment bomb is LIMIT_EXCEEDED; /healthz answers", async () => {
    const attack = post(relay.httpUrl, fragmentBomb(40), auth);
    const health = await healthLatency(relay.origin);
    const r = await attack;
    assertEquals(codeOf(r.body), "LIMIT_EXCEEDED");
    assert(health < 2000, `/healthz waited ${health.toFixed(0)} ms`);
  });
  await t.step("HTTP: 10,000 levels of nesting is LIMIT_EXCEEDED, not a 500", async () => {
    const r = await post(relay.httpUrl, deepQuery(10_000), auth);
    assert(r.status < 500, String(r.status));
    assertEquals(codeOf(r.body), "LIMIT_EXCEEDED");
  });
  await t.step("WebSocket, a key scoped to nothing: LIMIT_EXCEEDED", async () => {
    await using client = connectClient(relay.wsUrl, {
      connectionParams: { apiKey: NOTHING_KEY },
    });
    for (const query of [fragmentBomb(40), deepQuery(10_000)]) {
      const sub = client.subscribe(query);
      await sub.waitForEnd();
      assertEquals(sub.errorCodes, ["LIMIT_EXCEEDED"]);
    }
  });
});

Deno.test("one body limit, enforced while reading, chunked included", async (t) => {
  await using relay = await startRelay([], { config: await config(false) });
  await t.step("a 1 MB chunked body is 413", async () => {
    const r = await chunkedPost(relay.httpUrl, 1_000_000, auth);
    assert(r.status === 413 || r.status === 0, `status ${r.status}`);
    if (r.status === 413) assertEquals(codeOf(r.body), "LIMIT_EXCEEDED");
  });
  await t.step("a small chunked body is read and executed", async () => {
    const r = await chunkedPost(relay.httpUrl, 2_000, auth);
    assertEquals(r.status, 200);
    assertEquals(JSON.parse(r.body).data, { sources: [] });
  });
  await t.step("Content-Length over the limit is 413 without reading", async () => {
    const r = await post(relay.httpUrl, `{ sources { name } }${" ".repeat(70_000)}`, auth);
    assertEquals(r.status, 413);
  });
});
