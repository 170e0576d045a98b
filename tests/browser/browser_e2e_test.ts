/**
 * Browser tests with Debian's Chromium (playwright-core, nothing downloaded) on a machine
 * with no route to the internet: every request to another host is refused and recorded.
 * GraphiQL in demo mode must load from the relay alone, log no console error, show the schema
 * in its Docs panel and keep a live drpEvents subscription streaming; a plain `EventSource`
 * page must get every event once when its stream is dropped from the server side. The
 * browser runs in drive.ts, in its own process (see there why); screenshots go to
 * test-artifacts/.
 */
import { assert, assertEquals } from "@std/assert";
import { startDemo } from "../../src/demo.ts";
import { runProgram, runReconnectScenario } from "../helpers/reconnect_scenario.ts";
import { startRelay } from "../helpers/relay.ts";
import { requireBinary } from "../helpers/services.ts";
import { redisAvailable, startRedis } from "../helpers/redis_server.ts";
import type { EventSourceReport, GraphiqlReport } from "./drive.ts";

const ignore = !requireBinary("chromium", "browser tests (tests/browser/browser_e2e_test.ts)");
const DRIVER = new URL("./drive.ts", import.meta.url).pathname;

function reportOf<T>(lines: unknown[]): T {
  const found = lines.find((l) => (l as { report?: unknown }).report) as { report: T } | undefined;
  if (!found) throw new Error(`driver printed no report: ${JSON.stringify(lines.slice(-3))}`);
  const failure = (found.report as { failure?: string }).failure;
  assertEquals(failure, undefined, `browser driver: ${failure}`);
  return found.report;
}

Deno.test({
  name: "GraphiQL in demo mode: offline, no console error, Docs list Subscription, live drpEvents",
  ignore,
  fn: async () => {
    await using demo = await startDemo({ intervalMs: 250 });
    await using relay = await startRelay(demo.sources, {
      config: { server: { graphiql: true, introspection: true } },
      logLevel: "warn",
    });
    const driver = runProgram(["run", "--allow-all", DRIVER, "graphiql", relay.httpUrl]);
    await driver.exited;
    await driver.close();
    const report = reportOf<GraphiqlReport>(driver.lines);
    assertEquals(report.docsListSubscription, true);
    assertEquals(report.docsListDrpEvents, true);
    assert(report.ids.length >= 4, `results kept arriving: ${report.ids}`);
    assertEquals(report.subscribedOverWs, true);
    assertEquals(report.foreign, [], "no request left the relay's origin");
    assertEquals(report.errors, []);
  },
});

const withRedis = !ignore && redisAvailable("EventSource restart test (tests/browser/)");

Deno.test({
  name: "EventSource page: a server-side drop and a relay restart resume with Last-Event-ID",
  ignore: ignore || !withRedis,
  // node-redis keeps sockets and timers a little past quit().
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async () => {
    await using redis = await startRedis();
    const total = 60;
    let report: EventSourceReport | undefined;
    const figures = await runReconnectScenario(({ httpUrl }) => {
      const driver = runProgram([
        "run",
        "--allow-all",
        DRIVER,
        "eventsource",
        httpUrl,
        String(total),
      ]);
      return Promise.resolve({
        keys: driver.keys,
        close: async () => {
          let timer: ReturnType<typeof setTimeout> | undefined;
          await Promise.race([driver.exited, new Promise((r) => (timer = setTimeout(r, 5000)))]);
          clearTimeout(timer);
          await driver.close();
          report = reportOf<EventSourceReport>(driver.lines);
        },
      });
    }, {
      total,
      timeoutMs: 90_000,
      // First the relay ends every stream, then the node the page is connected to restarts.
      drops: [(relay) => relay.app.sse.closeAll(), "restart"],
      restart: redis,
    });
    // deno-lint-ignore no-console
    console.log(
      `reconnect figures EventSource: sent ${figures.sent}, received ${figures.received}, ` +
        `duplicated ${figures.duplicated}, missing ${figures.missing}, in order ` +
        `${figures.inOrder}, connections ${figures.connections}, relay restarts ${figures.restarts}`,
    );
    assertEquals(
      [figures.received, figures.duplicated, figures.missing, figures.inOrder],
      [figures.sent, 0, 0, true],
    );
    assert(figures.connections >= 3, "the browser reconnected twice");
    assertEquals(figures.restarts, 1);
    assertEquals(report?.foreign, []);
    assertEquals(report?.errors, []);
  },
});
