/**
 * Drives headless Chromium for browser_e2e_test.ts, in its own process: playwright-core needs
 * more of the system (home directory, OS release, a profile directory) than the test runner's
 * permissions grant, so only this driver runs with `--allow-all`. It prints JSON lines:
 * `{"event": {...}}` for each event a page received, and a final `{"report": {...}}`.
 *
 * Usage:
 *   deno run -A tests/browser/drive.ts graphiql HTTP_URL
 *   deno run -A tests/browser/drive.ts eventsource HTTP_URL COUNT
 *
 * @module
 */
import type { Page } from "playwright-core";
import { launchBrowser, screenshot, type TestBrowser } from "../helpers/browser.ts";

function print(line: unknown): void {
  Deno.stdout.writeSync(new TextEncoder().encode(JSON.stringify(line) + "\n"));
}

/** Polls `check` (which may throw while the page is busy) until it returns true. */
async function until(check: () => Promise<boolean>, what: string, ms = 60_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await check().catch(() => false))) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** What the GraphiQL scenario saw. */
export interface GraphiqlReport {
  docsListSubscription: boolean;
  docsListDrpEvents: boolean;
  /** Distinct drpEvents ids GraphiQL showed while the subscription ran. */
  ids: string[];
  subscribedOverWs: boolean;
  errors: string[];
  foreign: string[];
  requests: number;
  screenshots: string[];
}

async function graphiql(browser: TestBrowser, page: Page, url: string): Promise<GraphiqlReport> {
  const report: GraphiqlReport = {
    docsListSubscription: false,
    docsListDrpEvents: false,
    ids: [],
    subscribedOverWs: false,
    errors: browser.errors,
    foreign: browser.foreign,
    requests: 0,
    screenshots: [],
  };
  await page.goto(url);
  await page.waitForSelector(".graphiql-container", { timeout: 60_000 });
  await page.click('button[aria-label="Show Documentation Explorer"]');
  const docs = page.locator(".graphiql-doc-explorer");
  const subscription = docs.getByText("Subscription", { exact: true }).first();
  await subscription.waitFor({ timeout: 30_000 });
  report.docsListSubscription = true;
  await subscription.click();
  await docs.getByText("drpEvents").first().waitFor({ timeout: 10_000 });
  report.docsListDrpEvents = true;
  report.screenshots.push(await screenshot(page, "graphiql-docs"));
  await page.click('button[aria-label="Hide Documentation Explorer"]');

  // The default document holds several operations: run picks one from a menu.
  await page.click(".graphiql-execute-button");
  await page.getByRole("menuitem", { name: "DemoDrp", exact: true }).click();
  const response = page.locator(".graphiql-response");
  const ids = new Set<string>();
  await until(async () => {
    const text = await response.innerText();
    for (const m of text.matchAll(/"id":\s*"(demo-drp:[^"]+)"/g)) ids.add(m[1]!);
    return ids.size >= 4;
  }, "4 distinct drpEvents results");
  report.ids = [...ids];
  report.subscribedOverWs = browser.requests.some((u) => u.startsWith(url.replace(/^http/, "ws")));
  report.screenshots.push(await screenshot(page, "graphiql-subscription"));
  report.requests = browser.requests.length;
  return report;
}

/** What the EventSource scenario saw. */
export interface EventSourceReport {
  received: number;
  errors: string[];
  foreign: string[];
  screenshot: string;
}

async function eventSource(
  browser: TestBrowser,
  page: Page,
  url: string,
  count: number,
): Promise<EventSourceReport> {
  const keys = new Set<string>();
  await page.exposeFunction("received", (key: string, id: string) => {
    keys.add(key);
    print({ event: { key, id } });
  });
  // Any page of the relay's origin will do: EventSource needs no code to resume.
  await page.goto(`${new URL(url).origin}/healthz`);
  await page.evaluate((url) => {
    const query = 'subscription { drpEvents(type: "machines") { key } }';
    const es = new EventSource(`${url}?query=${encodeURIComponent(query)}`);
    document.body.innerHTML = "<h3>EventSource</h3><ol id=log></ol>";
    es.addEventListener("next", (e) => {
      const { data, lastEventId } = e as MessageEvent;
      const key = JSON.parse(data).data.drpEvents.key;
      (globalThis as unknown as { received(k: string, id: string): void }).received(
        key,
        lastEventId,
      );
      const li = document.createElement("li");
      li.textContent = `${key} (id ${lastEventId})`;
      document.getElementById("log")!.append(li);
    });
  }, url);
  print({ ready: true });
  await until(() => Promise.resolve(keys.size >= count), `${count} events`, 120_000);
  // Anything repeated after the last event shows up in this grace period.
  await new Promise((r) => setTimeout(r, 500));
  return {
    received: keys.size,
    // A dropped stream is logged by Chromium as a failed resource load: expected here.
    errors: browser.errors.filter((e) => !/ERR_|Failed to load resource/.test(e)),
    foreign: browser.foreign,
    screenshot: await screenshot(page, "eventsource"),
  };
}

if (import.meta.main) {
  const [scenario, url, count] = Deno.args;
  const browser = await launchBrowser(new URL(url!).origin);
  try {
    const page = await browser.newPage();
    const report = scenario === "graphiql"
      ? await graphiql(browser, page, url!)
      : await eventSource(browser, page, url!, Number(count));
    print({ report });
  } catch (err) {
    print({ report: { failure: String(err) } });
  } finally {
    await browser.close();
  }
}
