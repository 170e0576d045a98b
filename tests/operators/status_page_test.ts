/**
 * The status page in headless Chromium (Debian's `chromium` driven by playwright-core;
 * nothing downloads a browser). The real entry point in demo mode shows every demo source
 * READY with a moving event rate and logs no console error; under `auth` the page asks for
 * an API key and then shows only that key's sources, and no secret reaches the browser.
 * The browser runs in status_page_browser.ts, in its own process (see there why); its
 * screenshots stay in test-artifacts/ (gitignored).
 */
import { assert, assertEquals, assertGreater } from "@std/assert";
import { createDrpSimulator } from "../../src/simulators/drp/simulator.ts";
import { startRelay } from "../helpers/relay.ts";
import { requireBinary } from "../helpers/services.ts";
import type { BrowserReport } from "./status_page_browser.ts";
import { waitForLogged } from "../helpers/child_output.ts";

const ROOT = new URL("../..", import.meta.url).pathname;
const DEMO_SOURCES = ["demo-drp", "demo-kazoo", "demo-isymphony", "demo-iland", "demo-webinate"];
const enabled = requireBinary("chromium", "status page browser tests");

async function drive(
  scenario: "demo" | "auth",
  origin: string,
  env: Record<string, string> = {},
): Promise<BrowserReport> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--allow-all",
      "tests/operators/status_page_browser.ts",
      scenario,
      origin,
      DEMO_SOURCES.join(","),
    ],
    cwd: ROOT,
    env: { NO_COLOR: "1", ...env },
    stdout: "piped",
    stderr: "piped",
  }).output();
  const text = new TextDecoder().decode(out.stdout).trim();
  assertEquals(out.code, 0, new TextDecoder().decode(out.stderr));
  const report = JSON.parse(text.split("\n").at(-1)!) as BrowserReport;
  assertEquals(report.failure, undefined, `browser driver: ${report.failure}`);
  return report;
}

Deno.test({
  name: "status page (demo mode): every source READY, event rates move, no console error",
  ignore: !enabled,
  fn: async () => {
    const child = new Deno.Command(Deno.execPath(), {
      args: ["run", "--allow-net", "--allow-env", "--allow-read", "src/main.ts"],
      cwd: ROOT,
      env: { PORT: "0", HOST: "127.0.0.1", NO_COLOR: "1" },
      stdout: "piped",
      stderr: "null",
    }).spawn();
    try {
      const report = await drive(
        "demo",
        await waitForLogged(child.stdout, /"url":"(http:\/\/[^"/]+)\//),
      );
      assertEquals(report.title, "Relay status");
      assert(report.graphiqlLink, "links to GraphiQL");
      assertEquals(report.ready.map((c) => c.name).sort(), [...DEMO_SOURCES].sort());
      for (const c of report.moved) {
        assertEquals(c.badge, "READY", c.name);
        assertGreater(c.rate, 0, `${c.name} rate`);
        const before = report.ready.find((r) => r.name === c.name)!;
        assertGreater(c.events, before.events, `${c.name} events`);
      }
      assert(report.clientsVisible, "an open relay shows client totals");
      assertEquals(report.errors, [], "console errors");
      assertEquals(report.foreign, [], "requests off the relay's origin");
      assert(Deno.statSync(report.screenshot).size > 10_000, "screenshot written");
    } finally {
      child.kill("SIGTERM");
      await child.status;
    }
  },
});

const LAB_KEY = "lab-key-status-0123456789";
const OPS_KEY = "ops-key-status-0123456789";

async function sha256Hex(text: string): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(text));
  return [...new Uint8Array(digest)].map((b) => b.toString(16).padStart(2, "0")).join("");
}

Deno.test({
  name: "status page under auth: asks for a key, shows only its sources, no secret",
  ignore: !enabled,
  fn: async () => {
    await using sim = createDrpSimulator();
    await sim.start();
    const lab = sim.sourceConfig("lab");
    await using relay = await startRelay([lab, sim.sourceConfig("other")], {
      config: {
        server: { statusPage: true },
        auth: {
          apiKeys: [
            { id: "lab", sha256: await sha256Hex(LAB_KEY), sources: ["lab"] },
            { id: "ops", sha256: await sha256Hex(OPS_KEY), sources: ["*"] },
          ],
        },
      },
    });
    const report = await drive("auth", relay.origin, { STATUS_KEYS: `not-a-key,${LAB_KEY}` });
    assert(report.loginShown, "the key form comes first, with no source shown");
    assertEquals(report.badKeyMessage, "That key was not accepted.");
    assertEquals(report.ready.map((c) => c.name), ["lab"]);
    assert(!report.clientsVisible, "a scoped key sees no relay-wide totals");
    // The browser logs each refused fetch (401) as a console error; nothing else may appear.
    assertEquals(report.errors.filter((e) => !e.includes("401")), []);
    assertEquals(report.foreign, []);
    for (const secret of [LAB_KEY, OPS_KEY, String(lab.password)]) {
      assert(!report.seen.includes(secret), "a secret reached the browser");
    }
    const res = await fetch(`${relay.origin}/status.json`, {
      headers: { authorization: `Bearer ${OPS_KEY}` },
    });
    const data = await res.json();
    assertEquals(data.sources.map((s: { name: string }) => s.name), ["lab", "other"]);
    assertEquals(typeof data.clients.connections, "number");
    const anonymous = await fetch(`${relay.origin}/status.json`);
    assertEquals(anonymous.status, 401);
    await anonymous.body?.cancel();
  },
});
