/**
 * Attack 3 (issue 7) and the JWT rules: shared streams and rate-limit buckets are keyed by
 * the full effective scope, so two tokens of one `sub` with different rights never share;
 * tokens without `exp`, or minted to live longer than `jwt.maxLifetimeSec`, are refused.
 */
import { assert, assertEquals, assertNotEquals } from "@std/assert";
import { scopeKey } from "../../src/model/access.ts";
import { authSchema, createAuthenticator } from "../../src/server/auth.ts";
import { createDrpSimulator } from "../../src/simulators/drp/simulator.ts";
import { connectClient } from "../helpers/gql_client.ts";
import { startRelay, waitFor } from "../helpers/relay.ts";
import { hs256 } from "./attacks.ts";

const SECRET = "a-very-long-hs256-secret-for-the-tests-000";
const inOneHour = () => Math.floor(Date.now() / 1000) + 3600;

Deno.test("JWT lifetime rules", async (t) => {
  const auth = createAuthenticator(authSchema.parse({ jwt: { secret: SECRET } }));
  await t.step("a token without exp is refused by default", async () => {
    assertEquals(
      await auth.authenticate(await hs256(SECRET, { sub: "u", sources: "*" })),
      undefined,
    );
  });
  await t.step("a token that expires in 9999 is refused (maxLifetimeSec)", async () => {
    const far = await hs256(SECRET, { sub: "u", sources: "*", exp: 253402300799 });
    assertEquals(await auth.authenticate(far), undefined);
  });
  await t.step("a token for an hour is accepted", async () => {
    const ok = await hs256(SECRET, { sub: "u", sources: "*", exp: inOneHour() });
    assertEquals((await auth.authenticate(ok))?.id, "jwt:u");
  });
  await t.step("iat long ago plus exp soon is still too long a lifetime", async () => {
    const now = Math.floor(Date.now() / 1000);
    const token = await hs256(SECRET, { sub: "u", sources: "*", exp: now + 60 });
    // setIssuedAt() in hs256 sets iat = now; mint one with an old iat by hand.
    const { SignJWT } = await import("jose");
    const old = await new SignJWT({ sub: "u", sources: "*", iat: now - 2 * 86_400, exp: now + 60 })
      .setProtectedHeader({ alg: "HS256" }).sign(new TextEncoder().encode(SECRET));
    assert(await auth.authenticate(token));
    assertEquals(await auth.authenticate(old), undefined);
  });
  await t.step("requireExp: false is honoured", async () => {
    const lax = createAuthenticator(
      authSchema.parse({ jwt: { secret: SECRET, requireExp: false } }),
    );
    assert(await lax.authenticate(await hs256(SECRET, { sub: "u", sources: "*" })));
  });
});

Deno.test("scope keys cover identity, sources and tenants", async (t) => {
  const auth = createAuthenticator(authSchema.parse({ jwt: { secret: SECRET } }));
  const scopeOf = async (claims: Record<string, unknown>) =>
    (await auth.authenticate(await hs256(SECRET, { exp: inOneHour(), ...claims })))!;
  await t.step("one sub, different sources or tenants: different keys", async () => {
    const wide = await scopeOf({ sub: "u", sources: "*" });
    const narrow = await scopeOf({ sub: "u", sources: ["pbx"] });
    const tenant = await scopeOf({ sub: "u", sources: "*", tenants: { cloud: ["1"] } });
    assertEquals(wide.id, narrow.id);
    assertEquals(new Set([scopeKey(wide), scopeKey(narrow), scopeKey(tenant)]).size, 3);
  });
  await t.step("same rights in another order: the same key", async () => {
    const a = await scopeOf({
      sub: "u",
      sources: ["b", "a"],
      tenants: { b: ["2", "1"], a: ["x"] },
    });
    const b = await scopeOf({
      sub: "u",
      sources: ["a", "b"],
      tenants: { a: ["x"], b: ["1", "2"] },
    });
    assertEquals(scopeKey(a), scopeKey(b));
  });
  await t.step("tokens without sub are each their own identity", async () => {
    const a = await scopeOf({ sources: "*", jti: "1" });
    const b = await scopeOf({ sources: "*", jti: "2" });
    assertNotEquals(a.id, b.id);
    assert(a.id.startsWith("jwt:~"), a.id);
  });
});

Deno.test("two JWTs of one sub with different scopes never share a stream", async () => {
  // One simulator behind two sources: every event arrives on both.
  await using sim = createDrpSimulator();
  await sim.start();
  await using relay = await startRelay([sim.sourceConfig("lab-drp"), sim.sourceConfig("pbx")], {
    logLevel: "warn",
    config: { auth: { jwt: { secret: SECRET } } },
  });
  const wide = await hs256(SECRET, { sub: "u", sources: "*", exp: inOneHour() });
  const narrow = await hs256(SECRET, { sub: "u", sources: ["pbx"], exp: inOneHour() });
  const q = `subscription { events { id source } }`;
  await using a = connectClient(relay.wsUrl, { connectionParams: { apiKey: wide } });
  await using b = connectClient(relay.wsUrl, { connectionParams: { apiKey: narrow } });
  const sa = a.subscribe<{ events: { source: string } }>(q);
  await waitFor(() => relay.app.ws.shared.groupCount === 1, "the wide stream");
  const sb = b.subscribe<{ events: { source: string } }>(q);
  await waitFor(() => relay.app.ws.shared.groupCount === 2, "a stream of its own for the narrow");
  await waitFor(
    () => sim.sessions().filter((s) => s.filters.length > 0).length === 2,
    "both registered",
  );
  sim.emit({ Type: "machines", Action: "create", Key: "k1" });
  const wideSources = (await sa.waitForCount(2)).map((r) => r.events.source).sort();
  assertEquals(wideSources, ["lab-drp", "pbx"]);
  sim.emit({ Type: "machines", Action: "create", Key: "k2" });
  await sa.waitForCount(4);
  // Events are delivered in order per stream: by the narrow one's second pbx event it has
  // seen everything it would have seen of lab-drp's.
  await sb.waitForCount(2);
  assertEquals(sb.data.map((r) => r.events.source), ["pbx", "pbx"]);
});
