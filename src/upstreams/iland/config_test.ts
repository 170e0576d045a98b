import { assertEquals } from "@std/assert";
import {
  companyScopes,
  ILAND_DEFAULT_TOKEN_URL,
  ILAND_DEFAULT_URL,
  ilandSourceSchema,
} from "./config.ts";

const base = { name: "cloud", kind: "iland" };

function problems(input: Record<string, unknown>): string[] {
  const r = ilandSourceSchema.safeParse({ ...base, ...input });
  return r.success ? [] : r.error.issues.map((i) => `${i.path.join(".")}: ${i.message}`);
}

Deno.test("iland config: defaults and company scopes", () => {
  const c = ilandSourceSchema.parse({ ...base, accessToken: "t" });
  assertEquals(c.url, ILAND_DEFAULT_URL);
  assertEquals(c.tokenUrl, ILAND_DEFAULT_TOKEN_URL);
  assertEquals([c.silenceMs, c.refreshSkewMs, c.tokenTimeoutMs], [600_000, 60_000, 10_000]);
  assertEquals(companyScopes(c), [undefined]);
  assertEquals(companyScopes({ ...c, companyId: "1" }), ["1"]);
  assertEquals(companyScopes({ ...c, companyIds: ["1", "2"] }), ["1", "2"]);
});

Deno.test("iland config: credentials and scopes are checked", () => {
  assertEquals(problems({}), [
    "accessToken: iland needs accessToken, or clientId, clientSecret, username and password",
  ]);
  assertEquals(problems({ clientId: "a", clientSecret: "b", username: "c" }), [
    "password: iland needs accessToken, or clientId, clientSecret, username and password",
  ]);
  assertEquals(problems({ accessToken: "t", username: "u" }).length, 1);
  assertEquals(problems({ accessToken: "t", companyId: "1", companyIds: ["2"] }), [
    "companyIds: Give either companyId or companyIds, not both",
  ]);
  assertEquals(problems({ accessToken: "t", companyIds: ["1", "1"] }), [
    "companyIds: Company ids must be unique",
  ]);
  assertEquals(problems({ accessToken: "t", companyId: "1,2" }).length, 1);
  assertEquals(problems({ accessToken: "t", companyIds: [] }).length, 1);
  assertEquals(problems({ accessToken: "t", url: "https://x" }).length, 1);
});
