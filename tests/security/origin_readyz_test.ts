/**
 * Same-origin from configuration, not from `Host` (a DNS-rebinding page sends both naming
 * the attacker's domain), and `/readyz` detail only with a key or to a loopback peer.
 */
import { assert, assertEquals } from "@std/assert";
import { startRelay } from "../helpers/relay.ts";
import { rawHttp, sha256Hex } from "./attacks.ts";

const KEY = "ops-key-0123456789";

async function config(server: Record<string, unknown> = {}) {
  return {
    server: { allowedOrigins: ["https://ops.example.com"], ...server },
    auth: { apiKeys: [{ id: "ops", sha256: await sha256Hex(KEY), sources: ["*"] }] },
  };
}

const query = JSON.stringify({ query: "{ sources { name } }" });

/** A keyed POST to `relay` with the given Host and Origin headers; its port and GraphQL path. */
function asker(relay: { origin: string; httpUrl: string }) {
  const path = new URL(relay.httpUrl).pathname;
  return {
    port: new URL(relay.origin).port,
    path,
    ask: (host: string, origin: string) =>
      rawHttp(relay.origin, "POST", path, {
        host,
        origin,
        "content-type": "application/json",
        authorization: `Bearer ${KEY}`,
      }, query),
  };
}

Deno.test("same-origin comes from configuration, not from Host", async (t) => {
  await using relay = await startRelay([], { config: await config() });
  const { port, path, ask } = asker(relay);

  await t.step("DNS rebinding (Origin and Host both evil.example): 403", async () => {
    const r = await ask(`evil.example:${port}`, `http://evil.example:${port}`);
    assertEquals(r.status, 403);
  });
  await t.step("an allowlisted origin: 200", async () => {
    assertEquals((await ask(`127.0.0.1:${port}`, "https://ops.example.com")).status, 200);
  });
  await t.step("a loopback page of the relay itself (no publicOrigin): 200", async () => {
    assertEquals((await ask(`localhost:${port}`, `http://localhost:${port}`)).status, 200);
    assertEquals((await ask(`127.0.0.1:${port}`, `http://127.0.0.1:${port}`)).status, 200);
  });
  await t.step("WebSocket upgrade from a rebinding page: 403", async () => {
    const r = await rawHttp(relay.origin, "GET", path, {
      host: `evil.example:${port}`,
      origin: `http://evil.example:${port}`,
      upgrade: "websocket",
      connection: "Upgrade, close",
      "sec-websocket-key": "dGhlIHNhbXBsZSBub25jZQ==",
      "sec-websocket-version": "13",
      "sec-websocket-protocol": "graphql-transport-ws",
    });
    assertEquals(r.status, 403);
  });
});

Deno.test("publicOrigin: its pages are same-origin, loopback names no longer are", async () => {
  await using relay = await startRelay([], {
    config: await config({ publicOrigin: "https://relay.example.com/" }),
  });
  const { port, ask } = asker(relay);
  assertEquals((await ask("relay.example.com", "https://relay.example.com")).status, 200);
  assertEquals((await ask(`localhost:${port}`, `http://localhost:${port}`)).status, 403);
});

Deno.test("/readyz lists sources only with a key or to a loopback peer", async (t) => {
  await using relay = await startRelay([], { config: await config() });
  const remote = (hostname: string) => ({
    remoteAddr: { transport: "tcp" as const, hostname, port: 40000 },
  });
  const readyz = async (hostname: string, headers: Record<string, string> = {}) => {
    const res = await relay.app.fetch(
      new Request(`${relay.origin}/readyz`, { headers }),
      remote(hostname),
    );
    return { status: res.status, body: await res.json() };
  };
  await t.step("from the internet without a key: status only", async () => {
    const r = await readyz("203.0.113.7");
    assertEquals(r.body, { status: "ready" });
  });
  await t.step("from the internet with a key: detail", async () => {
    const r = await readyz("203.0.113.7", { authorization: `Bearer ${KEY}` });
    assert(Array.isArray(r.body.sources), JSON.stringify(r.body));
  });
  await t.step("with a wrong key: status only", async () => {
    const r = await readyz("203.0.113.7", { authorization: "Bearer nope" });
    assertEquals(r.body, { status: "ready" });
  });
  await t.step("from loopback: detail; through a local proxy (X-Forwarded-For): not", async () => {
    assert(Array.isArray((await readyz("127.0.0.1")).body.sources));
    assert(Array.isArray((await readyz("::1")).body.sources));
    assertEquals((await readyz("127.0.0.1", { "x-forwarded-for": "203.0.113.7" })).body, {
      status: "ready",
    });
  });
  await t.step("over the real socket (loopback): detail", async () => {
    const res = await fetch(`${relay.origin}/readyz`);
    assert(Array.isArray((await res.json()).sources));
  });
});
