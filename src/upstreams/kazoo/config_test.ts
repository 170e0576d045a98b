import { assert, assertEquals } from "@std/assert";
import { kazooSourceSchema } from "./config.ts";

const base = {
  name: "voip",
  kind: "kazoo",
  url: "ws://kazoo:5555",
  apiUrl: "http://kazoo:8000/v2",
};

Deno.test("kazoo config: defaults and the two auth forms", () => {
  const c = kazooSourceSchema.parse({ ...base, credentials: "abc", accountName: "master" });
  assertEquals(c.method, "md5");
  assertEquals(c.tokenTtlSeconds, 3600);
  assertEquals(c.keepaliveMs, 300_000);
  assertEquals(c.pacing, { burst: 50, perSecond: 8 });
  assertEquals(c.standing, []);
  assert(kazooSourceSchema.safeParse({ ...base, apiKey: "k" }).success);
});

Deno.test("kazoo config: missing or conflicting auth and bad standing bindings are refused", () => {
  for (
    const bad of [
      base,
      { ...base, credentials: "abc" },
      { ...base, credentials: "abc", accountName: "m", apiKey: "k" },
      { ...base, apiKey: "k", standing: ["call..*"] },
      { ...base, apiKey: "k", url: "http://kazoo:5555" },
    ]
  ) {
    assert(!kazooSourceSchema.safeParse(bad).success, JSON.stringify(bad));
  }
  const ok = kazooSourceSchema.parse({
    ...base,
    apiKey: "k",
    standing: ["call.*.*", { accountId: "abc", binding: "object.*.*" }],
  });
  assertEquals(ok.standing.length, 2);
});
