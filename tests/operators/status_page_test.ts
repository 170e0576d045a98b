/**
 * The status page in headless Chromium (Debian's `chromium`, driven by playwright-core;
 * nothing downloads a browser): the real entry point in demo mode shows every demo source
 * READY with a moving event rate and logs no console error; under `auth` the page asks for
 * an API key and then shows only that key's sources, and no secret reaches the browser.
 * Screenshots are kept under tests/artifacts/ (gitignored).
 */
import { assert, assertEquals, assertGreater } from "@std/assert";
import { type BrowserContext, chromium, type Page } from "playwright-core";
import { createDrpSimulator } from "../../src/simulators/drp/simulator.ts";
import { startRelay } from "../helpers/relay.ts";
import { requireBinary } from "../helpers/services.ts";

const CHROMIUM = "/usr/bin/chromium";
const ARTIFACTS = new URL("../artifacts/", import.meta.url);
const DEMO_SOURCES = ["demo-drp", "demo-kazoo", "demo-isymphony", "demo-iland", "demo-webinate"];
const enabled = requireBinary("chromium", "status page browser tests");

/** A fresh headless Chromium with an empty profile; closed and removed on dispose. */
async function launch(): Promise<BrowserContext & AsyncDisposable> {
  const profile = await Deno.makeTempDir({ prefix: "relay-chromium-" });
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    args: [
      "--no-sandbox",
      "--disable-gpu",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
      "--no-first-run",
    ],
    viewport: { width: 1280, height: 900 },
  });
  return Object.assign(context, {
    [Symbol.asyncDispose]: async () => {
      await context.close();
      await Deno.remove(profile, { recursive: true }).catch(() => {});
    },
  });
}

/** Every console error and uncaught page error, to assert there were none. */
function collectErrors(page: Page): string[] {
  const errors: string[] = [];
  page.on("console", (msg) => {
    if (msg.type() === "error") errors.push(msg.text());
  });
  page.on("pageerror", (err) => errors.push(String(err)));
  return errors;
}

/** The source cards as the page shows them. */
function cards(page: Page) {
  return page.$$eval("article.card", (els) =>
    els.map((e) => {
      const d = (e as HTMLElement).dataset;
      return {
        name: d.source ?? "",
        state: d.state ?? "",
        events: Number(d.events),
        rate: Number(d.rate),
        badge: e.querySelector(".state")?.textContent ?? "",
      };
    }));
}

async function screenshot(page: Page, name: string): Promise<string> {
  await Deno.mkdir(ARTIFACTS, { recursive: true });
  const path = new URL(name, ARTIFACTS).pathname;
  await page.screenshot({ path, fullPage: true });
  return path;
}

/** Reads stdout until the relay logs its URL, then keeps draining. */
async function listeningOrigin(stdout: ReadableStream<Uint8Array>): Promise<string> {
  const reader = stdout.getReader();
  const decoder = new TextDecoder();
  let text = "";
  const deadline = Date.now() + 30_000;
  while (Date.now() < deadline) {
    const { value, done } = await reader.read();
    if (done) break;
    text += decoder.decode(value, { stream: true });
    const m = /"url":"(http:\/\/[^"/]+)\//.exec(text);
    if (m?.[1]) {
      (async () => {
        while (!(await reader.read()).done) { /* discard */ }
      })().catch(() => {});
      return m[1];
    }
  }
  throw new Error(`relay did not report its URL: ${text.slice(0, 500)}`);
}

Deno.test({
  name: "status page (demo mode): every source READY, event rates move, no console error",
  ignore: !enabled,
  fn: async () => {
    const child = new Deno.Command(Deno.execPath(), {
      args: ["run", "--allow-net", "--allow-env", "--allow-read", "src/main.ts"],
      cwd: new URL("../..", import.meta.url).pathname,
      env: { PORT: "0", HOST: "127.0.0.1", NO_COLOR: "1" },
      stdout: "piped",
      stderr: "null",
    }).spawn();
    try {
      const origin = await listeningOrigin(child.stdout);
      await using browser = await launch();
      const page = await browser.newPage();
      const errors = collectErrors(page);
      await page.goto(`${origin}/`);
      assertEquals(await page.title(), "Relay status");
      assert(await page.isVisible('a[href="/graphql"]'), "links to GraphiQL");

      // Every demo source READY, then each one's count and rate move (the demo emits one
      // event per source every 0.75-2.25 s).
      await page.waitForFunction(
        (names: string[]) =>
          names.every((n) =>
            document.querySelector<HTMLElement>(`article.card[data-source="${n}"]`)?.dataset
              .state === "READY"
          ),
        DEMO_SOURCES,
        { timeout: 30_000 },
      );
      const first = await cards(page);
      await page.waitForFunction(
        (start: Record<string, number>) =>
          Object.entries(start).every(([n, events]) => {
            const d = document.querySelector<HTMLElement>(`article.card[data-source="${n}"]`)
              ?.dataset;
            return d && Number(d.events) > events && Number(d.rate) > 0;
          }),
        Object.fromEntries(first.map((c) => [c.name, c.events])),
        { timeout: 45_000, polling: 250 },
      );
      const shown = await cards(page);
      assertEquals(shown.map((c) => c.name).sort(), [...DEMO_SOURCES].sort());
      for (const c of shown) {
        assertEquals(c.badge, "READY", c.name);
        assertGreater(c.rate, 0, c.name);
      }
      assert(await page.isVisible("#clients"), "an open relay shows client totals");
      const path = await screenshot(page, "status_page_demo.png");
      assertEquals(errors, [], `console errors: ${errors.join("\n")}`);
      assert(Deno.statSync(path).size > 10_000, "screenshot written");
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
    await using browser = await launch();
    const page = await browser.newPage();
    const errors = collectErrors(page);
    const bodies: string[] = [];
    page.on("response", async (res) => {
      if (res.url().startsWith(relay.origin)) bodies.push(await res.text().catch(() => ""));
    });
    await page.goto(`${relay.origin}/`);
    await page.waitForSelector("#login:not([hidden])");
    assertEquals(await cards(page), []);

    await page.fill("#key", "not-a-key");
    await page.click("#login button");
    await page.waitForFunction(() =>
      document.getElementById("login-error")?.textContent === "That key was not accepted."
    );

    await page.fill("#key", LAB_KEY);
    await page.click("#login button");
    await page.waitForSelector('article.card[data-source="lab"][data-state="READY"]');
    assertEquals((await cards(page)).map((c) => c.name), ["lab"]);
    assert(!(await page.isVisible("#clients")), "a scoped key sees no relay-wide totals");
    await screenshot(page, "status_page_scoped.png");

    // The 401s are the browser's own console errors for failed fetches; nothing else.
    assertEquals(errors.filter((e) => !e.includes("401")), []);
    const seen = bodies.join("\n") + (await page.content());
    for (const secret of [LAB_KEY, OPS_KEY, String(lab.password)]) {
      assert(!seen.includes(secret), "a secret reached the browser");
    }
    const raw = await fetch(`${relay.origin}/status.json`, {
      headers: { authorization: `Bearer ${OPS_KEY}` },
    });
    const data = await raw.json();
    assertEquals(data.sources.map((s: { name: string }) => s.name), ["lab", "other"]);
    assertEquals(typeof data.clients.connections, "number");
  },
});
