/**
 * Browser tests with Debian's Chromium (playwright-core, nothing downloaded) on a machine
 * with no route to the internet: every request to another host is refused and recorded.
 * GraphiQL in demo mode must load from the relay alone, show the schema in its Docs panel
 * and keep a live drpEvents subscription streaming; a plain `EventSource` page must get
 * every event once when its stream is dropped from the server side. Screenshots go to
 * test-artifacts/.
 */
import { assert, assertEquals } from "@std/assert";
import { startDemo } from "../src/demo.ts";
import { launchBrowser, screenshot } from "./helpers/browser.ts";
import { runReconnectScenario } from "./helpers/reconnect_scenario.ts";
import { startRelay, waitFor } from "./helpers/relay.ts";
import { requireBinary } from "./helpers/services.ts";

const ignore = !requireBinary("chromium", "browser tests (tests/browser_e2e_test.ts)");

Deno.test({
  name: "GraphiQL in demo mode: offline, no console error, Docs list Subscription, live drpEvents",
  ignore,
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async (t) => {
    await using demo = await startDemo({ intervalMs: 250 });
    await using relay = await startRelay(demo.sources, {
      config: { server: { graphiql: true, introspection: true } },
      logLevel: "warn",
    });
    await using browser = await launchBrowser(relay.origin);
    const page = await browser.newPage();
    await page.goto(relay.httpUrl);
    await page.waitForSelector(".graphiql-container", { timeout: 60_000 });

    await t.step("the Docs panel lists the Subscription type", async () => {
      await page.click('button[aria-label="Show Documentation Explorer"]');
      const docs = page.locator(".graphiql-doc-explorer");
      await docs.getByText("Subscription", { exact: true }).first().waitFor({ timeout: 30_000 });
      await docs.getByText("Subscription", { exact: true }).first().click();
      await docs.getByText("drpEvents").first().waitFor({ timeout: 10_000 });
      await screenshot(page, "graphiql-docs");
      await page.click('button[aria-label="Hide Documentation Explorer"]');
    });

    await t.step("a drpEvents subscription over WebSocket keeps delivering", async () => {
      await page.click(".graphiql-execute-button");
      await page.getByRole("menuitem", { name: "DemoDrp", exact: true }).click();
      const response = page.locator(".graphiql-response");
      const ids = new Set<string>();
      await waitFor(
        async () => {
          const text = await response.innerText();
          for (const m of text.matchAll(/"id":\s*"(demo-drp:[^"]+)"/g)) ids.add(m[1]!);
          return ids.size >= 4;
        },
        "4 distinct drpEvents results in GraphiQL",
        60_000,
      );
      assert(browser.requests.some((u) => u.startsWith(relay.wsUrl)), "subscribed over ws");
      await screenshot(page, "graphiql-subscription");
    });

    await t.step("nothing left the origin, nothing logged an error", () => {
      assertEquals(browser.foreign, []);
      assertEquals(browser.errors, []);
    });
  },
});

Deno.test({
  name: "EventSource page: streams dropped from the server side resume with Last-Event-ID",
  ignore,
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async () => {
    let shot: Promise<unknown> = Promise.resolve();
    const figures = await runReconnectScenario(async ({ httpUrl }) => {
      const origin = new URL(httpUrl).origin;
      const browser = await launchBrowser(origin);
      const page = await browser.newPage();
      const keys: string[] = [];
      await page.exposeFunction("received", (key: string) => keys.push(key));
      // Any page of the relay's origin will do: EventSource needs no code to resume.
      await page.goto(`${origin}/healthz`);
      await page.evaluate((url) => {
        const query = 'subscription { drpEvents(type: "machines") { key } }';
        const es = new EventSource(`${url}?query=${encodeURIComponent(query)}`);
        document.body.innerHTML = "<h3>EventSource</h3><ol id=log></ol>";
        es.addEventListener("next", (e) => {
          const key = JSON.parse((e as MessageEvent).data).data.drpEvents.key;
          (globalThis as unknown as { received(k: string): void }).received(key);
          const li = document.createElement("li");
          li.textContent = `${key} (id ${(e as MessageEvent).lastEventId})`;
          document.getElementById("log")!.append(li);
        });
      }, httpUrl);
      return {
        keys,
        close: async () => {
          shot = screenshot(page, "eventsource");
          await shot;
          assertEquals(browser.foreign, []);
          assertEquals(browser.errors.filter((e) => !e.includes("ERR_")), []);
          await browser.close();
        },
      };
    }, {
      total: 60,
      timeoutMs: 60_000,
      // First the relay ends every stream (as on shutdown), then the network drops.
      drops: [(relay) => relay.app.sse.closeAll(), (_, proxy) => proxy.dropAll()],
    });
    await shot;
    // deno-lint-ignore no-console
    console.log(
      `reconnect figures EventSource: sent ${figures.sent}, received ${figures.received}, ` +
        `duplicated ${figures.duplicated}, missing ${figures.missing}, in order ` +
        `${figures.inOrder}, connections ${figures.connections}`,
    );
    assertEquals(
      [figures.received, figures.duplicated, figures.missing, figures.inOrder],
      [figures.sent, 0, 0, true],
    );
  },
});
