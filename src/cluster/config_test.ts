import { assertEquals, assertStringIncludes, assertThrows } from "@std/assert";
import { ConfigError, parseConfig } from "../config.ts";
import { createRedactor } from "../platform/redact.ts";
import { displayRedisUrl } from "./config.ts";

const env = (vars: Record<string, string> = {}) => (name: string) => vars[name];

Deno.test("cluster config section", async (t) => {
  await t.step("absent: no cluster mode", () => {
    assertEquals(parseConfig({}, env()).config.cluster, undefined);
  });

  await t.step("defaults", () => {
    const { config } = parseConfig({ cluster: { redis: "redis://localhost:6379" } }, env());
    assertEquals(config.cluster, {
      redis: "redis://localhost:6379",
      keyPrefix: "relay",
      role: "both",
      leaseMs: 10_000,
      outageBufferEvents: 10_000,
      dedupeWindow: 10_000,
    });
  });

  await t.step("redis from the environment; its password is a secret", () => {
    const url = "rediss://relay:s3cret-pw@redis.example.com:6380";
    const { config, secrets } = parseConfig(
      { cluster: { redis: { env: "REDIS_URL" }, nodeId: "edge-1", role: "edge" } },
      env({ REDIS_URL: url }),
    );
    assertEquals(config.cluster?.redis, url);
    const redact = createRedactor(secrets);
    assertEquals(redact(`cannot reach ${url}`).includes("s3cret-pw"), false);
    assertEquals(displayRedisUrl(url), "rediss://relay:redacted@redis.example.com:6380");
    const inline = parseConfig({ cluster: { redis: "redis://:pw-inline@h:1" } }, env());
    assertEquals(inline.secrets.includes("pw-inline"), true);
  });

  await t.step("bad values name the field", () => {
    const err = assertThrows(
      () =>
        parseConfig({
          cluster: {
            redis: "http://x",
            role: "leader",
            leaseMs: 5,
            nodeId: "a b",
            keyPrefix: "",
            extra: 1,
          },
        }, env()),
      ConfigError,
    );
    const text = err.problems.join("\n");
    for (const field of ["redis", "role", "leaseMs", "nodeId", "keyPrefix"]) {
      assertStringIncludes(text, `cluster.${field}:`);
    }
    assertStringIncludes(text, "extra");
  });
});
