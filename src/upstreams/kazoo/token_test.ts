import { assertEquals, assertRejects } from "@std/assert";
import { systemClock } from "../../platform/clock.ts";
import { UpstreamError } from "../session.ts";
import { kazooSourceSchema } from "./config.ts";
import { isTokenError, scrubTokens } from "./messages.ts";
import { jwtExpiry, KazooTokens } from "./token.ts";

function jwt(claims: Record<string, unknown>): string {
  const b64 = (s: string) => btoa(s).replaceAll("+", "-").replaceAll("/", "_").replace(/=+$/, "");
  return `${b64('{"alg":"RS256"}')}.${b64(JSON.stringify(claims))}.sig`;
}

const config = kazooSourceSchema.parse({
  name: "voip",
  kind: "kazoo",
  url: "ws://kazoo:5555",
  apiUrl: "http://kazoo:8000/v2/",
  credentials: "0123456789abcdef0123456789abcdef",
  accountName: "master",
});

Deno.test("jwtExpiry reads exp, else undefined", () => {
  assertEquals(jwtExpiry(jwt({ exp: 1700000000 })), 1700000000_000);
  assertEquals(jwtExpiry(jwt({ sub: "x" })), undefined);
  assertEquals(jwtExpiry("opaque-token"), undefined);
});

Deno.test("KazooTokens: user_auth body, caching, renewal near expiry", async () => {
  let now = 1_000_000;
  const clock = { ...systemClock, now: () => now };
  const calls: { url: string; body: unknown }[] = [];
  const fetch = (url: string | URL | Request, init?: RequestInit) => {
    calls.push({ url: String(url), body: JSON.parse(String(init?.body)) });
    return Promise.resolve(Response.json(
      { auth_token: `opaque-${calls.length}`, data: { account_id: "acct" } },
      { status: 201 },
    ));
  };
  const tokens = new KazooTokens({ config, fetch: fetch as typeof globalThis.fetch, clock });
  const first = await tokens.current();
  assertEquals(first.value, "opaque-1");
  assertEquals(first.expiresAt, now + 3_600_000);
  assertEquals(calls[0]?.url, "http://kazoo:8000/v2/user_auth");
  assertEquals(calls[0]?.body, {
    data: { credentials: config.credentials, account_name: "master" },
    method: "md5",
  });
  assertEquals((await tokens.current()).value, "opaque-1");
  now += 3_600_000 - 299_000; // inside the 300 s renewal margin
  assertEquals((await tokens.current()).value, "opaque-2");
  tokens.invalidate("opaque-2");
  assertEquals((await tokens.current()).value, "opaque-3");
  assertEquals(tokens.accountId, "acct");
});

Deno.test("KazooTokens: a 401 is an auth UpstreamError without the credentials", async () => {
  const fetch = () =>
    Promise.resolve(Response.json({ message: "invalid credentials" }, { status: 401 }));
  const tokens = new KazooTokens({
    config,
    fetch: fetch as typeof globalThis.fetch,
    clock: systemClock,
  });
  const err = await assertRejects(() => tokens.current(), UpstreamError);
  assertEquals(err.auth, true);
  assertEquals(err.message, "Kazoo user_auth refused the credentials (HTTP 401)");
});

Deno.test("error replies that echo a token are scrubbed", () => {
  const text = "failed to authenticate token eyJhbGci.abc.def";
  assertEquals(isTokenError(text), true);
  assertEquals(scrubTokens(text), "failed to authenticate token [redacted]");
  assertEquals(scrubTokens("oops secret-tok here", ["secret-tok"]), "oops [redacted] here");
});
