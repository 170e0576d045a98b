/**
 * `deno task start --check`: the real entry point validates a config file or
 * RELAY_CONFIG_JSON, resolves env references, prints every problem or "config ok", exits 2
 * or 0, and connects nowhere (a listener on the source's port sees no connection).
 */
import { assert, assertEquals, assertStringIncludes } from "@std/assert";

const ROOT = new URL("../..", import.meta.url).pathname;

function passThrough(names: string[]): Record<string, string> {
  return Object.fromEntries(
    names.flatMap((n) => {
      const v = Deno.env.get(n);
      return v === undefined ? [] : [[n, v]];
    }),
  );
}

async function check(args: string[], env: Record<string, string>) {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "--allow-net", "--allow-env", "--allow-read", "src/main.ts", "--check", ...args],
    cwd: ROOT,
    // Only what Deno itself needs is passed on, so no RELAY_CONFIG* of the outer shell leaks in.
    env: { ...passThrough(["HOME", "PATH", "DENO_DIR"]), NO_COLOR: "1", ...env },
    clearEnv: true,
    stdout: "piped",
    stderr: "piped",
  }).output();
  const dec = new TextDecoder();
  return { code: out.code, stdout: dec.decode(out.stdout), stderr: dec.decode(out.stderr) };
}

Deno.test("--check: ok configs exit 0, bad ones list every problem and exit 2, nothing connects", async (t) => {
  // Anything that dials the source would land here.
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  let connections = 0;
  const accepting = (async () => {
    for await (const conn of listener) {
      connections++;
      conn.close();
    }
  })().catch(() => {});
  const url = `ws://127.0.0.1:${listener.addr.port}/api/v3/ws`;
  const secret = "drp-password-do-not-print";
  const good = {
    server: { port: 0, metrics: { token: { env: "SCRAPE_TOKEN" } } },
    sources: [{ name: "lab", kind: "drp", url, username: "ops", password: { env: "DRP_PW" } }],
  };
  // The committed fixture is `good` with its url also an env reference.
  const file = "tests/fixtures/config/relay.json";
  const missingFile = "tests/fixtures/config/none.json";
  const missingCa = "tests/fixtures/config/none.pem";
  const env = { DRP_PW: secret, DRP_URL: url, SCRAPE_TOKEN: "scrape-token-0123456789" };

  try {
    await t.step("a good file", async () => {
      const r = await check(["--config", file], env);
      assertEquals(r.code, 0, r.stderr);
      assertStringIncludes(r.stdout, "config ok");
      assertStringIncludes(r.stdout, "lab (drp)");
    });

    await t.step("the same in RELAY_CONFIG_JSON", async () => {
      const r = await check([], { ...env, RELAY_CONFIG_JSON: JSON.stringify(good) });
      assertEquals(r.code, 0, r.stderr);
      assertStringIncludes(r.stdout, "config ok");
    });

    await t.step("every problem at once, no secret, exit 2", async () => {
      const bad = {
        server: { port: 0, statusPage: "yes" },
        sources: [
          { ...good.sources[0], password: { env: "UNSET_PASSWORD" } },
          { name: "lab", kind: "drp", url: "not a url", username: "u", password: secret },
          { name: "x", kind: "nope" },
          { name: "ca", kind: "drp", url, username: "u", password: "p", caFile: missingCa },
        ],
      };
      const r = await check([], { ...env, RELAY_CONFIG_JSON: JSON.stringify(bad) });
      assertEquals(r.code, 2);
      assertEquals(r.stdout, "");
      for (
        const want of [
          "server.statusPage",
          "sources[0].password: environment variable UNSET_PASSWORD is not set",
          "sources[1].url",
          "sources[2].kind",
        ]
      ) assertStringIncludes(r.stderr, want);
      assert(!r.stderr.includes(secret), "a problem shows the secret");
      assert(!r.stderr.includes("config ok"));
    });

    await t.step("a CA file that cannot be read; metrics on a taken path", async () => {
      const caBad = {
        server: { metrics: { path: "/graphql" } },
        sources: [{ ...good.sources[0], caFile: missingCa }],
      };
      const r = await check([], { ...env, RELAY_CONFIG_JSON: JSON.stringify(caBad) });
      assertEquals(r.code, 2);
      assertStringIncludes(r.stderr, "server.metrics.path: /graphql is already served");
      const caOnly = { sources: [{ ...good.sources[0], caFile: missingCa }] };
      const r2 = await check([], { ...env, RELAY_CONFIG_JSON: JSON.stringify(caOnly) });
      assertEquals(r2.code, 2);
      assertStringIncludes(r2.stderr, "sources[0].caFile: cannot read");
    });

    await t.step("no config at all, unreadable file, bad JSON", async () => {
      const none = await check([], {});
      assertEquals(none.code, 2);
      assertStringIncludes(none.stderr, "no config given");
      const missing = await check(["--config", missingFile], {});
      assertEquals(missing.code, 2);
      assertStringIncludes(missing.stderr, "none.json");
      const broken = await check([], { RELAY_CONFIG_JSON: "{ nope" });
      assertEquals(broken.code, 2);
      assertStringIncludes(broken.stderr, "not valid JSON");
    });

    assertEquals(connections, 0, "--check connected to the upstream");
  } finally {
    listener.close();
    await accepting;
  }
});
