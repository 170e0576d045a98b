/**
 * Drives the status page in headless Chromium and prints what it saw as one JSON line.
 * status_page_test.ts runs it in its own process: playwright-core needs more of the system
 * (home directory, OS release, a profile directory, /proc) than the test runner's
 * permissions grant, so only this driver runs with `--allow-all`.
 *
 * Usage: `deno run -A status_page_browser.ts demo|auth ORIGIN`; the `auth` scenario reads
 * the keys to try from STATUS_KEYS (comma-separated), so no key appears in a process list.
 *
 * @module
 */
import type { Page } from "playwright-core";
import { launchBrowser, screenshot } from "../helpers/browser.ts";

/** A source card as the page shows it. */
export interface CardView {
  name: string;
  state: string;
  badge: string;
  events: number;
  rate: number;
}

/** What the driver reports. */
export interface BrowserReport {
  title: string;
  /** Cards when every demo source was READY, and once every count and rate had moved. */
  ready: CardView[];
  moved: CardView[];
  /** For `auth`: whether the key form was shown first, and the error after a bad key. */
  loginShown: boolean;
  badKeyMessage: string;
  clientsVisible: boolean;
  graphiqlLink: boolean;
  screenshot: string;
  errors: string[];
  foreign: string[];
  /** Every response body and the final DOM, to search for secrets. */
  seen: string;
  failure?: string;
}

function cards(page: Page): Promise<CardView[]> {
  return page.$$eval("article.card", (els) =>
    els.map((e) => {
      const d = (e as HTMLElement).dataset;
      return {
        name: d.source ?? "",
        state: d.state ?? "",
        badge: e.querySelector(".state")?.textContent ?? "",
        events: Number(d.events),
        rate: Number(d.rate),
      };
    }));
}

async function demo(page: Page, report: BrowserReport, sources: string[]): Promise<void> {
  await page.waitForFunction(
    (names: string[]) =>
      names.every((n) =>
        document.querySelector<HTMLElement>(`article.card[data-source="${n}"]`)?.dataset.state ===
          "READY"
      ),
    sources,
    { timeout: 30_000 },
  );
  report.ready = await cards(page);
  // The demo emits one event per source every 0.75-2.25 s.
  await page.waitForFunction(
    (start: Record<string, number>) =>
      Object.entries(start).every(([n, events]) => {
        const d = document.querySelector<HTMLElement>(`article.card[data-source="${n}"]`)
          ?.dataset;
        return d !== undefined && Number(d.events) > events && Number(d.rate) > 0;
      }),
    Object.fromEntries(report.ready.map((c) => [c.name, c.events])),
    { timeout: 45_000, polling: 250 },
  );
  report.moved = await cards(page);
}

async function auth(page: Page, report: BrowserReport, keys: string[]): Promise<void> {
  await page.waitForSelector("#login:not([hidden])", { timeout: 15_000 });
  report.loginShown = (await cards(page)).length === 0;
  const [bad, good] = keys;
  await page.fill("#key", bad ?? "");
  await page.click("#login button");
  await page.waitForFunction(() => document.getElementById("login-error")?.textContent !== "");
  report.badKeyMessage = (await page.textContent("#login-error")) ?? "";
  await page.fill("#key", good ?? "");
  await page.click("#login button");
  await page.waitForSelector("article.card[data-state=READY]", { timeout: 15_000 });
  // One more poll, so a card that should not be there would have appeared.
  await page.waitForTimeout(1500);
  report.ready = await cards(page);
}

if (import.meta.main) {
  const [scenario, origin, sourceList = ""] = Deno.args;
  const report: BrowserReport = {
    title: "",
    ready: [],
    moved: [],
    loginShown: false,
    badKeyMessage: "",
    clientsVisible: false,
    graphiqlLink: false,
    screenshot: "",
    errors: [],
    foreign: [],
    seen: "",
  };
  const browser = await launchBrowser(origin!);
  // Bodies as they arrive: awaiting every response's text can stall on a refused one.
  const bodies: string[] = [];
  try {
    const page = await browser.newPage();
    page.on("response", (res) => {
      res.text().then((t) => bodies.push(t), () => {});
    });
    await page.goto(`${origin}/`);
    report.title = await page.title();
    if (scenario === "demo") await demo(page, report, sourceList.split(","));
    else await auth(page, report, (Deno.env.get("STATUS_KEYS") ?? "").split(","));
    report.clientsVisible = await page.isVisible("#clients");
    report.graphiqlLink = await page.isVisible('a[href="/graphql"]');
    report.screenshot = await screenshot(page, `status_page_${scenario}`);
    report.seen = bodies.join("\n") + (await page.content());
  } catch (err) {
    report.failure = String(err);
  } finally {
    report.errors = [...browser.errors];
    report.foreign = [...browser.foreign];
    await browser.close();
  }
  await Deno.stdout.write(new TextEncoder().encode(`${JSON.stringify(report)}\n`));
}
