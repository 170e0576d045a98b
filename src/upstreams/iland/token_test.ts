import { assertEquals, assertRejects, assertStringIncludes } from "@std/assert";
import type { Clock } from "../../platform/clock.ts";
import { silentLogger } from "../../platform/log.ts";
import { UpstreamError } from "../session.ts";
import { ilandSourceSchema } from "./config.ts";
import { IlandTokens } from "./token.ts";

/** A clock that only moves when told; timers never fire on their own. */
function manualClock(start = 1_700_000_000_000): Clock & { advance(ms: number): void } {
  let now = start;
  return {
    now: () => now,
    setTimeout: () => 0 as unknown as ReturnType<typeof setTimeout>,
    clearTimeout: () => {},
    advance: (ms) => (now += ms),
  };
}

/** A token endpoint fake recording each form and answering from a script. */
function endpoint(answer: (form: URLSearchParams, n: number) => Response) {
  const forms: URLSearchParams[] = [];
  const fetch = ((_url: string | URL | Request, init?: RequestInit) => {
    const form = new URLSearchParams(String(init?.body));
    forms.push(form);
    return Promise.resolve(answer(form, forms.length));
  }) as typeof globalThis.fetch;
  return { forms, fetch };
}

const OAUTH = ilandSourceSchema.parse({
  name: "cloud",
  kind: "iland",
  clientId: "relay",
  clientSecret: "relay-secret",
  username: "alice",
  password: "pw",
});

function grant(n: number, expiresIn = 300) {
  return Response.json({
    access_token: `access-${n}`,
    expires_in: expiresIn,
    refresh_token: `refresh-${n}`,
    refresh_expires_in: 1800,
  });
}

Deno.test("IlandTokens: password grant once, reused until 60 s before expiry, then refreshed", async () => {
  const clock = manualClock();
  const ep = endpoint((_f, n) => grant(n));
  const tokens = new IlandTokens({ config: OAUTH, fetch: ep.fetch, clock, log: silentLogger });
  const [a, b] = await Promise.all([tokens.token(), tokens.token()]);
  assertEquals([a, b], ["access-1", "access-1"]);
  assertEquals(ep.forms.length, 1, "single flight");
  assertEquals(Object.fromEntries(ep.forms[0]!), {
    grant_type: "password",
    username: "alice",
    password: "pw",
    client_id: "relay",
    client_secret: "relay-secret",
  });
  clock.advance(239_000);
  assertEquals(await tokens.token(), "access-1");
  clock.advance(1_000);
  assertEquals(await tokens.token(), "access-2");
  assertEquals(Object.fromEntries(ep.forms[1]!), {
    grant_type: "refresh_token",
    refresh_token: "refresh-1",
    client_id: "relay",
    client_secret: "relay-secret",
  });
});

Deno.test("IlandTokens: a refused token is renewed; a failed refresh falls back to a new login", async () => {
  const clock = manualClock();
  const ep = endpoint((form, n) =>
    form.get("grant_type") === "refresh_token"
      ? Response.json({ error: "invalid_grant", error_description: "Token is not active" }, {
        status: 400,
      })
      : grant(n)
  );
  const tokens = new IlandTokens({ config: OAUTH, fetch: ep.fetch, clock, log: silentLogger });
  const first = await tokens.token();
  tokens.refused("some-other-token");
  assertEquals(await tokens.token(), first, "only the current token is dropped");
  tokens.refused(first);
  assertEquals(await tokens.token(), "access-3");
  assertEquals(ep.forms.map((f) => f.get("grant_type")), ["password", "refresh_token", "password"]);
});

Deno.test("IlandTokens: endpoint refusals are auth errors with the OAuth reason and no secrets", async () => {
  const ep = endpoint(() =>
    Response.json({ error: "invalid_grant", error_description: "Invalid user credentials" }, {
      status: 401,
    })
  );
  const tokens = new IlandTokens({
    config: OAUTH,
    fetch: ep.fetch,
    clock: manualClock(),
    log: silentLogger,
  });
  const err = await assertRejects(() => tokens.token(), UpstreamError);
  assertEquals(err.auth, true);
  assertStringIncludes(err.message, "HTTP 401: invalid_grant (Invalid user credentials)");
  const down = endpoint(() => new Response("Bad gateway", { status: 502 }));
  const t2 = new IlandTokens({
    config: OAUTH,
    fetch: down.fetch,
    clock: manualClock(),
    log: silentLogger,
  });
  const e2 = await assertRejects(() => t2.token(), UpstreamError);
  assertEquals(e2.auth, false);
});

Deno.test("IlandTokens: a static token is used as is and never renewed; scrub hides runtime tokens", async () => {
  const config = ilandSourceSchema.parse({ name: "c", kind: "iland", accessToken: "static-tok" });
  const ep = endpoint((_f, n) => grant(n));
  const tokens = new IlandTokens({
    config,
    fetch: ep.fetch,
    clock: manualClock(),
    log: silentLogger,
  });
  tokens.refused("static-tok");
  assertEquals(await tokens.token(), "static-tok");
  assertEquals(ep.forms.length, 0);
  const oauth = new IlandTokens({
    config: OAUTH,
    fetch: ep.fetch,
    clock: manualClock(),
    log: silentLogger,
  });
  await oauth.token();
  assertEquals(oauth.scrub("echo access-1 and refresh-1"), "echo [redacted] and [redacted]");
});
