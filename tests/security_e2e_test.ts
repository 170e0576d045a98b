/**
 * Client security end to end: API keys and JWTs, source scoping, origin checks, CORS,
 * introspection/GraphiQL defaults, graceful shutdown, and a grep of every output of a run
 * for the configured secrets.
 */
import { assert, assertEquals, assertStringIncludes } from "@std/assert";
import { SignJWT } from "jose";
import { createDrpSimulator } from "../src/simulators/drp/simulator.ts";
import { denoWebSocketFactory } from "../src/platform/websocket.ts";
import { connectClient } from "./helpers/gql_client.ts";
import { httpQuery, startRelay, waitFor } from "./helpers/relay.ts";

async function sha256Hex(text: string): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(text));
  return [...new Uint8Array(digest)].map((b) => b.toString(16).padStart(2, "0")).join("");
}

const OPS_KEY = "ops-key-0123456789";
const LAB_KEY = "lab-key-9876543210";
const JWT_SECRET = "a-very-long-hs256-secret-for-the-tests-000";

async function authConfig() {
  return {
    auth: {
      apiKeys: [
        { id: "ops", sha256: await sha256Hex(OPS_KEY), sources: ["*"] },
        { id: "lab", sha256: await sha256Hex(LAB_KEY), sources: ["lab"] },
      ],
      jwt: { secret: JWT_SECRET, audience: "relay" },
    },
  };
}

const SUB = `subscription($source: String) { drpEvents(source: $source) { id key } }`;

/** Waits for a raw socket to close and returns its close code. */
function closeCode(ws: WebSocket): Promise<number> {
  return new Promise((resolve) => ws.addEventListener("close", (e) => resolve(e.code)));
}

Deno.test("API keys: connection_init and Bearer headers, Forbidden without", async (t) => {
  await using sim = createDrpSimulator();
  await sim.start();
  await using relay = await startRelay(
    [sim.sourceConfig("lab"), sim.sourceConfig("other")],
    { config: await authConfig() },
  );

  await t.step("graphql-ws: a valid apiKey in connection_init is acknowledged", async () => {
    await using client = connectClient(relay.wsUrl, { connectionParams: { apiKey: LAB_KEY } });
    await client.connected();
    const sub = client.subscribe<{ drpEvents: { key: string } }>(SUB, { source: "lab" });
    await waitFor(() => sim.sessions().some((s) => s.filters.includes("*.*.*")), "register");
    sim.emit({ Type: "machines", Action: "create", Key: "k1" });
    assertEquals((await sub.waitForCount(1))[0]?.drpEvents.key, "k1");
  });

  await t.step("graphql-ws: no key or a wrong key closes with 4403", async () => {
    for (const params of [{}, { apiKey: "wrong" }]) {
      const ws = new WebSocket(relay.wsUrl, "graphql-transport-ws");
      const closed = closeCode(ws);
      ws.onopen = () => ws.send(JSON.stringify({ type: "connection_init", payload: params }));
      assertEquals(await closed, 4403);
    }
  });

  await t.step(
    "graphql-ws: Authorization on the upgrade works for non-browser clients",
    async () => {
      const ws = denoWebSocketFactory(relay.wsUrl, {
        protocols: ["graphql-transport-ws"],
        headers: { authorization: `Bearer ${OPS_KEY}` },
      });
      const acked = new Promise<string>((resolve) => ws.onmessage = (e) => resolve(String(e.data)));
      ws.onopen = () => ws.send(JSON.stringify({ type: "connection_init" }));
      assertStringIncludes(await acked, "connection_ack");
      const closed = closeCode(ws);
      ws.close();
      await closed;
    },
  );

  await t.step("HTTP: Bearer key works; none is 401", async () => {
    const ok = await httpQuery<{ sources: { name: string }[] }>(
      relay.httpUrl,
      `{ sources { name } }`,
      {},
      { authorization: `Bearer ${OPS_KEY}` },
    );
    assertEquals(ok.data?.sources.map((s) => s.name), ["lab", "other"]);
    const res = await fetch(relay.httpUrl, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ query: "{ sources { name } }" }),
    });
    assertEquals(res.status, 401);
    assertEquals((await res.json()).errors[0].extensions.code, "FORBIDDEN");
  });

  await t.step("scope: a key sees only its sources; others are FORBIDDEN", async () => {
    const lab = { authorization: `Bearer ${LAB_KEY}` };
    const listed = await httpQuery<{ sources: { name: string }[] }>(
      relay.httpUrl,
      `{ sources { name } }`,
      {},
      lab,
    );
    assertEquals(listed.data?.sources.map((s) => s.name), ["lab"]);
    const denied = await httpQuery(relay.httpUrl, `{ source(name: "other") { name } }`, {}, lab);
    assertEquals(denied.errors?.[0]?.extensions?.code, "FORBIDDEN");
    await using client = connectClient(relay.wsUrl, { connectionParams: { apiKey: LAB_KEY } });
    const sub = client.subscribe(SUB, { source: "other" });
    await sub.waitForEnd();
    assertEquals(sub.errorCodes, ["FORBIDDEN"]);
    // Without a source name, the key's only DRP source is chosen (not AMBIGUOUS_SOURCE).
    const implicit = client.subscribe<{ drpEvents: { key: string } }>(SUB, {});
    const ev = client.subscribe(`subscription { events(sources: ["other"]) { id } }`);
    await ev.waitForEnd();
    assertEquals(ev.errorCodes, ["FORBIDDEN"]);
    sim.emit({ Type: "machines", Action: "create", Key: "k2" });
    await implicit.waitForCount(1);
  });

  await t.step("JWT (HS256) with a sources claim", async () => {
    const token = await new SignJWT({ sources: ["lab"] })
      .setProtectedHeader({ alg: "HS256" })
      .setSubject("alice")
      .setAudience("relay")
      .setExpirationTime("5m")
      .sign(new TextEncoder().encode(JWT_SECRET));
    const res = await httpQuery<{ sources: { name: string }[] }>(
      relay.httpUrl,
      `{ sources { name } }`,
      {},
      { authorization: `Bearer ${token}` },
    );
    assertEquals(res.data?.sources.map((s) => s.name), ["lab"]);
    const wrongAudience = await new SignJWT({ sources: ["lab"] })
      .setProtectedHeader({ alg: "HS256" })
      .setAudience("other")
      .sign(new TextEncoder().encode(JWT_SECRET));
    const refused = await fetch(relay.httpUrl, {
      method: "POST",
      headers: { "content-type": "application/json", authorization: `Bearer ${wrongAudience}` },
      body: JSON.stringify({ query: "{ sources { name } }" }),
    });
    assertEquals(refused.status, 401);
    await refused.body?.cancel();
  });
});

Deno.test("without an auth section the relay is open and warns at start-up", async () => {
  await using sim = createDrpSimulator();
  await sim.start();
  await using relay = await startRelay([sim.sourceConfig("lab")]);
  assert(relay.logs.some((l) => l.includes("the relay is open")));
  const res = await httpQuery<{ sources: { name: string }[] }>(
    relay.httpUrl,
    `{ sources { name } }`,
  );
  assertEquals(res.data?.sources.length, 1);
});

Deno.test("origins: allowlisted and same-origin pass, others get 403; CORS preflight", async () => {
  await using sim = createDrpSimulator();
  await sim.start();
  await using relay = await startRelay([sim.sourceConfig("lab")], {
    config: { server: { allowedOrigins: ["https://ops.example.com"] } },
  });
  const upgrade = (origin: string) =>
    fetch(relay.httpUrl, {
      headers: {
        origin,
        upgrade: "websocket",
        connection: "Upgrade",
        "sec-websocket-version": "13",
        "sec-websocket-key": "dGhlIHNhbXBsZSBub25jZQ==",
      },
    });
  const evil = await upgrade("https://evil.example.net");
  assertEquals(evil.status, 403);
  await evil.body?.cancel();
  const good = denoWebSocketFactory(relay.wsUrl, {
    protocols: ["graphql-transport-ws"],
    headers: { origin: "https://ops.example.com" },
  });
  await new Promise((resolve) => good.onopen = resolve);
  const closed = closeCode(good);
  good.close();
  await closed;
  const preflight = await fetch(relay.httpUrl, {
    method: "OPTIONS",
    headers: {
      origin: "https://ops.example.com",
      "access-control-request-method": "POST",
      "access-control-request-headers": "content-type,authorization",
    },
  });
  await preflight.body?.cancel();
  assertEquals(preflight.headers.get("access-control-allow-origin"), "https://ops.example.com");
  const post = await fetch(relay.httpUrl, {
    method: "POST",
    headers: { origin: "https://evil.example.net", "content-type": "application/json" },
    body: JSON.stringify({ query: "{ sources { name } }" }),
  });
  assertEquals(post.status, 403);
  await post.body?.cancel();
});

Deno.test("introspection and GraphiQL are off by default, on when configured", async () => {
  await using sim = createDrpSimulator();
  await sim.start();
  await using closed = await startRelay([sim.sourceConfig("lab")]);
  const denied = await httpQuery(closed.httpUrl, `{ __schema { queryType { name } } }`);
  assert(denied.errors?.[0]?.message.includes("introspection"), JSON.stringify(denied));
  const page = await fetch(closed.httpUrl, { headers: { accept: "text/html" } });
  assert(!(await page.text()).includes("GraphiQL"));
  await using open = await startRelay([sim.sourceConfig("lab")], {
    config: { server: { introspection: true, graphiql: true } },
  });
  const allowed = await httpQuery<{ __schema: { queryType: { name: string } } }>(
    open.httpUrl,
    `{ __schema { queryType { name } } }`,
  );
  assertEquals(allowed.data?.__schema.queryType.name, "Query");
  const graphiql = await fetch(open.httpUrl, { headers: { accept: "text/html" } });
  assertStringIncludes(await graphiql.text(), "GraphiQL");
});

Deno.test("shutdown completes running subscriptions, then closes sockets with 1001", async () => {
  await using sim = createDrpSimulator();
  await sim.start();
  const relay = await startRelay([sim.sourceConfig("lab")]);
  await using client = connectClient(relay.wsUrl);
  const sub = client.subscribe(SUB, {});
  await waitFor(() => sim.sessions().some((s) => s.filters.includes("*.*.*")), "register");
  await relay.close();
  await sub.waitForEnd();
  assertEquals(sub.error, undefined, "completed cleanly, not with an error");
  await waitFor(() => sim.sessions().length === 0, "upstream closed");
});

Deno.test("no configured secret appears in any output of a run", async () => {
  const secrets = {
    DRP_PASSWORD: "drp-pa55-Very-Secret",
    BAD_TOKEN: "bad-token-Very-Secret",
  };
  await using sim = createDrpSimulator({ users: { ops: secrets.DRP_PASSWORD } });
  await sim.start();
  const outputs: string[] = [];
  {
    await using relay = await startRelay([
      {
        name: "good",
        kind: "drp",
        url: sim.url,
        username: "ops",
        password: { env: "DRP_PASSWORD" },
      },
      {
        name: "bad",
        kind: "drp",
        url: sim.url,
        token: { env: "BAD_TOKEN" },
        authMode: "query",
        reconnect: { baseMs: 20, maxMs: 50 },
      },
    ], { env: secrets });
    await using client = connectClient(relay.wsUrl);
    const sub = client.subscribe(`subscription { drpEvents(source: "good") { id key payload } }`);
    await waitFor(() => sim.sessions().some((s) => s.filters.includes("*.*.*")), "register");
    sim.emit({ Type: "machines", Action: "create", Key: "k" });
    await sub.waitForCount(1);
    await waitFor(async () => {
      const r = await httpQuery<{ source: { lastError: string | null } }>(
        relay.httpUrl,
        `{ source(name: "bad") { lastError } }`,
      );
      return r.data?.source.lastError;
    }, "a failure on the bad source");
    for (
      const q of [`{ sources { name state lastError interest } }`, `{ recentEvents { payload } }`]
    ) {
      outputs.push(JSON.stringify(await httpQuery(relay.httpUrl, q)));
    }
    outputs.push(JSON.stringify(sub.results));
    outputs.push(...relay.logs);
  }
  const all = outputs.join("\n");
  assert(all.length > 1000, "the run produced output to check");
  for (const secret of Object.values(secrets)) {
    for (const form of [secret, encodeURIComponent(secret), btoa(`ops:${secret}`)]) {
      assert(!all.includes(form), `secret leaked in a form: ${form.slice(0, 4)}…`);
    }
  }
});

Deno.test("JWT (RS256) verified with keys from a JWKS URL", async () => {
  const { exportJWK, generateKeyPair } = await import("jose");
  const { publicKey, privateKey } = await generateKeyPair("RS256");
  const jwk = { ...(await exportJWK(publicKey)), kid: "k1", alg: "RS256", use: "sig" };
  const jwks = Deno.serve(
    { port: 0, hostname: "127.0.0.1", onListen() {} },
    () => Response.json({ keys: [jwk] }),
  );
  try {
    await using sim = createDrpSimulator();
    await sim.start();
    await using relay = await startRelay([sim.sourceConfig("lab"), sim.sourceConfig("other")], {
      config: {
        auth: {
          jwt: { jwksUrl: `http://127.0.0.1:${jwks.addr.port}/jwks.json`, issuer: "idp" },
        },
      },
    });
    const sign = (claims: Record<string, unknown>, issuer = "idp") =>
      new SignJWT(claims)
        .setProtectedHeader({ alg: "RS256", kid: "k1" })
        .setIssuer(issuer)
        .setSubject("svc")
        .setExpirationTime("5m")
        .sign(privateKey);
    const ok = await httpQuery<{ sources: { name: string }[] }>(
      relay.httpUrl,
      `{ sources { name } }`,
      {},
      { authorization: `Bearer ${await sign({ sources: ["other"] })}` },
    );
    assertEquals(ok.data?.sources.map((s) => s.name), ["other"]);
    await using client = connectClient(relay.wsUrl, {
      connectionParams: { apiKey: await sign({ sources: "*" }) },
    });
    await client.connected();
    const wrongIssuer = await fetch(relay.httpUrl, {
      method: "POST",
      headers: {
        "content-type": "application/json",
        authorization: `Bearer ${await sign({ sources: "*" }, "someone-else")}`,
      },
      body: JSON.stringify({ query: "{ sources { name } }" }),
    });
    assertEquals(wrongIssuer.status, 401);
    await wrongIssuer.body?.cancel();
  } finally {
    await jwks.shutdown();
  }
});
