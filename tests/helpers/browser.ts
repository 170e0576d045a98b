/**
 * Headless Chromium for browser tests: Debian's `/usr/bin/chromium` driven by
 * playwright-core (nothing downloads a browser), a fresh empty profile per launch, and every
 * request the pages make recorded, so a test can assert that nothing left the relay's origin.
 * Requests to any other host are refused, as they would be on a machine without internet.
 *
 * @module
 */
import { type BrowserContext, chromium, type Page } from "playwright-core";

/** The Chromium flags GUIDE.md prescribes for CI machines. */
export const CHROMIUM_ARGS = [
  "--no-sandbox",
  "--disable-gpu",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
  "--no-first-run",
];

/** A running browser with one context. */
export interface TestBrowser extends AsyncDisposable {
  context: BrowserContext;
  /** Every URL requested (HTTP, WebSocket, workers), in order. */
  requests: string[];
  /** Requests that went (or tried to go) to a host other than `origin`. */
  foreign: string[];
  /** Console errors and uncaught page errors, per page. */
  errors: string[];
  newPage(): Promise<Page>;
  close(): Promise<void>;
}

/** Where screenshots go: a gitignored folder tests may fill freely. */
export const ARTEFACTS = new URL("../../test-artifacts/", import.meta.url);

/** Saves a screenshot of `page` as test-artifacts/<name>.png; returns its path. */
export async function screenshot(page: Page, name: string): Promise<string> {
  await Deno.mkdir(ARTEFACTS, { recursive: true });
  const path = new URL(`${name}.png`, ARTEFACTS).pathname;
  await page.screenshot({ path });
  return path;
}

/** Launches Chromium; only `origin` (scheme://host:port) is reachable from its pages. */
export async function launchBrowser(origin: string): Promise<TestBrowser> {
  const profile = await Deno.makeTempDir({ prefix: "relay-chromium-" });
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: "/usr/bin/chromium",
    headless: true,
    args: CHROMIUM_ARGS,
    viewport: { width: 1400, height: 860 },
  });
  const requests: string[] = [];
  const foreign: string[] = [];
  const errors: string[] = [];
  const own = new URL(origin);
  const isOwn = (url: string) => {
    const u = new URL(url);
    if (u.protocol === "blob:" || u.protocol === "data:" || u.protocol === "about:") return true;
    return u.host === own.host;
  };
  const note = (url: string) => {
    requests.push(url);
    if (!isOwn(url)) foreign.push(url);
  };
  await context.route("**/*", (route) => {
    const url = route.request().url();
    return isOwn(url) ? route.continue() : route.abort("internetdisconnected");
  });
  context.on("request", (req) => note(req.url()));
  const watch = (page: Page) => {
    page.on("websocket", (ws) => note(ws.url()));
    page.on("console", (msg) => {
      if (msg.type() === "error") errors.push(`console: ${msg.text()}`);
    });
    page.on("pageerror", (err) => errors.push(`pageerror: ${err.message}`));
  };
  for (const page of context.pages()) watch(page);
  context.on("page", watch);
  const close = async () => {
    await context.close();
    await Deno.remove(profile, { recursive: true }).catch(() => {});
  };
  return {
    context,
    requests,
    foreign,
    errors,
    newPage: async () => {
      const existing = context.pages()[0];
      return existing && existing.url() === "about:blank" ? existing : await context.newPage();
    },
    close,
    [Symbol.asyncDispose]: close,
  };
}
