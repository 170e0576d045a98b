/**
 * `/metrics` end to end: a relay against the DRP simulator with real graphql-ws clients,
 * scraped over HTTP and parsed by a strict exposition-format parser. Covers every family,
 * counters moving after events, deliveries counted per socket for shared and unshared
 * streams, no secret in the output, and the token and loopback rules.
 */
import { assert, assertEquals, assertGreater, assertStringIncludes } from "@std/assert";
import { createDrpSimulator } from "../../src/simulators/drp/simulator.ts";
import { connectClient } from "../helpers/gql_client.ts";
import { openSse } from "../helpers/sse_client.ts";
import { type Family, parsePrometheusText, sampleValue } from "../helpers/prometheus.ts";
import { startRelay, waitFor } from "../helpers/relay.ts";

const SUB = `subscription($after: ID) { drpEvents(type: "machines", after: $after) { id key } }`;
const METRICS_TOKEN = "scrape-token-0123456789abcdef";
const API_KEY = "ops-key-metrics-0123456789";

/** Every family the relay always exposes (relay_cluster_holder only in cluster mode). */
const FAMILIES: Record<string, Family["type"]> = {
  relay_build_info: "gauge",
  relay_upstream_up: "gauge",
  relay_upstream_state: "gauge",
  relay_upstream_events_received_total: "counter",
  relay_upstream_frames_dropped_total: "counter",
  relay_upstream_reconnects_total: "counter",
  relay_upstream_interest: "gauge",
  relay_client_connections: "gauge",
  relay_client_subscriptions: "gauge",
  relay_deliveries_total: "counter",
  relay_client_disconnects_total: "counter",
  relay_delivery_lag_seconds: "histogram",
};

async function sha256Hex(text: string): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(text));
  return [...new Uint8Array(digest)].map((b) => b.toString(16).padStart(2, "0")).join("");
}

async function scrape(url: string, headers: Record<string, string> = {}) {
  const res = await fetch(url, { headers });
  const text = await res.text();
  return { status: res.status, text, type: res.headers.get("content-type") };
}

Deno.test("metrics: every family, counters that move, no secret", async (t) => {
  await using sim = createDrpSimulator();
  await sim.start();
  const upstream = sim.sourceConfig("lab");
  await using relay = await startRelay([{ ...upstream, reconnect: { baseMs: 20, maxMs: 100 } }], {
    config: {
      server: { metrics: { token: METRICS_TOKEN } },
      auth: { apiKeys: [{ id: "ops", sha256: await sha256Hex(API_KEY), sources: ["*"] }] },
    },
  });
  const metricsUrl = `${relay.origin}/metrics`;
  const auth = { authorization: `Bearer ${METRICS_TOKEN}` };
  const read = async () => {
    const res = await scrape(metricsUrl, auth);
    assertEquals(res.status, 200, res.text);
    return parsePrometheusText(res.text);
  };
  await waitFor(
    async () => sampleValue(await read(), "relay_upstream_up", { source: "lab" }) === 1,
    "READY",
  );

  await t.step("every family, with its type, and nothing of prom-client's defaults", async () => {
    const res = await scrape(metricsUrl, auth);
    assertStringIncludes(res.type ?? "", "text/plain; version=0.0.4");
    const families = parsePrometheusText(res.text);
    for (const [name, type] of Object.entries(FAMILIES)) {
      assertEquals(families.get(name)?.type, type, `family ${name}`);
    }
    assertEquals([...families.keys()].filter((n) => !(n in FAMILIES)), []);
    assertEquals(
      sampleValue(families, "relay_build_info", { deno: Deno.version.deno }),
      1,
    );
    assertEquals(sampleValue(families, "relay_upstream_up", { source: "lab", vendor: "DRP" }), 1);
    assertEquals(
      sampleValue(families, "relay_upstream_state", { source: "lab", state: "READY" }),
      1,
    );
    assertEquals(
      sampleValue(families, "relay_upstream_state", { source: "lab", state: "BACKOFF" }),
      0,
    );
  });

  const params = { connectionParams: { apiKey: API_KEY } };
  const a = connectClient(relay.wsUrl, params);
  const b = connectClient(relay.wsUrl, params);
  const shared = [a.subscribe(SUB), b.subscribe(SUB)];
  await waitFor(() => sim.sessions().some((s) => s.filters.includes("machines.*.*")), "register");

  await t.step("deliveries count every socket of a shared stream; lag is observed", async () => {
    const before = await read();
    assertEquals(sampleValue(before, "relay_client_connections"), 2);
    assertEquals(sampleValue(before, "relay_client_subscriptions", { field: "drpEvents" }), 2);
    assertEquals(sampleValue(before, "relay_upstream_interest", { source: "lab" }), 1);
    const received0 = sampleValue(before, "relay_upstream_events_received_total", {
      source: "lab",
    });
    for (let i = 0; i < 3; i++) {
      sim.emit({ Type: "machines", Action: "update", Key: `m-${i}`, Object: { Name: `m${i}` } });
    }
    for (const c of shared) await c.waitForCount(3);
    const after = await read();
    assertEquals(
      sampleValue(after, "relay_upstream_events_received_total", { source: "lab" }) - received0,
      3,
    );
    assertEquals(sampleValue(after, "relay_deliveries_total", { source: "lab" }), 6);
    assertEquals(sampleValue(after, "relay_delivery_lag_seconds_count"), 3);
    assertGreater(sampleValue(after, "relay_delivery_lag_seconds_sum"), 0);
  });

  await t.step("an unshared (after:) stream counts too; its replay adds no lag", async () => {
    const first = shared[0]!.results[0]!.data!.drpEvents as { id: string };
    const c = connectClient(relay.wsUrl, params);
    const resumed = c.subscribe(SUB, { after: first.id });
    await resumed.waitForCount(2); // the two events after the cursor, replayed
    const mid = await read();
    assertEquals(sampleValue(mid, "relay_deliveries_total", { source: "lab" }), 8);
    assertEquals(sampleValue(mid, "relay_delivery_lag_seconds_count"), 3);
    sim.emit({ Type: "machines", Action: "update", Key: "m-live", Object: { Name: "live" } });
    await resumed.waitForCount(3);
    for (const s of shared) await s.waitForCount(4);
    const after = await read();
    assertEquals(sampleValue(after, "relay_deliveries_total", { source: "lab" }), 11);
    assertEquals(sampleValue(after, "relay_delivery_lag_seconds_count"), 5);
    await c.close();
  });

  await t.step("dropped frames by reason, reconnects, disconnects by code", async () => {
    sim.sendRaw("this is not json");
    sim.sendRaw(JSON.stringify({ Type: 42 }));
    await waitFor(async () => {
      const m = await read();
      const dropped = m.get("relay_upstream_frames_dropped_total")!.samples;
      return dropped.length === 2;
    }, "two drop reasons");
    const m = await read();
    assertEquals(
      sampleValue(m, "relay_upstream_frames_dropped_total", { source: "lab", reason: "not_json" }),
      1,
    );
    assertEquals(
      sampleValue(m, "relay_upstream_frames_dropped_total", { source: "lab", reason: "invalid" }),
      1,
    );
    await sim.restart();
    await waitFor(
      async () => {
        const m = await read();
        return sampleValue(m, "relay_upstream_reconnects_total", { source: "lab" }) >= 1 &&
          sampleValue(m, "relay_upstream_up", { source: "lab" }) === 1;
      },
      "reconnected",
      10_000,
    );
    await a.close();
    await b.close();
    await waitFor(
      async () => sampleValue(await read(), "relay_client_connections") === 0,
      "closed",
    );
    const closed = await read();
    assertEquals(sampleValue(closed, "relay_client_disconnects_total", { code: "1000" }), 3);
    assertEquals(closed.get("relay_client_subscriptions")!.samples, []);
  });

  await t.step("no secret anywhere in the output", async () => {
    const { text } = await scrape(metricsUrl, auth);
    for (const secret of [METRICS_TOKEN, API_KEY, String(upstream.password)]) {
      assert(!text.includes(secret), `metrics contain a secret`);
    }
    assert(!relay.logs.some((l) => l.includes(METRICS_TOKEN)), "a log line holds the token");
  });
});

Deno.test("metrics: SSE streams count as subscriptions and deliveries, shared or resumed", async () => {
  await using sim = createDrpSimulator();
  await sim.start();
  await using relay = await startRelay([sim.sourceConfig("lab")]);
  const read = async () => {
    const res = await scrape(`${relay.origin}/metrics`);
    assertEquals(res.status, 200, res.text);
    return parsePrometheusText(res.text);
  };
  const query = `subscription { drpEvents(type: "machines") { id key } }`;
  await using a = await openSse(relay.httpUrl, query);
  await using b = await openSse(relay.httpUrl, query);
  await waitFor(() => relay.app.ws.shared.memberCount === 2, "two SSE members");
  await waitFor(() => sim.sessions().some((s) => s.filters.includes("machines.*.*")), "register");
  assertEquals(sampleValue(await read(), "relay_client_subscriptions", { field: "drpEvents" }), 2);
  for (let i = 0; i < 3; i++) {
    sim.emit({ Type: "machines", Action: "update", Key: `s-${i}`, Object: { Name: `s${i}` } });
  }
  await a.waitForCount(3);
  await b.waitForCount(3);
  const shared = await read();
  assertEquals(sampleValue(shared, "relay_deliveries_total", { source: "lab" }), 6);
  assertEquals(sampleValue(shared, "relay_delivery_lag_seconds_count"), 3);
  // Last-Event-ID resumes: an unshared stream, its replayed event counted but not as lag.
  await using resumed = await openSse(relay.httpUrl, query, {}, {
    "last-event-id": a.frames.find((f) => f.event === "next")!.id!,
  });
  await resumed.waitForCount(2);
  const after = await read();
  assertEquals(sampleValue(after, "relay_client_subscriptions", { field: "drpEvents" }), 3);
  assertEquals(sampleValue(after, "relay_deliveries_total", { source: "lab" }), 8);
  assertEquals(sampleValue(after, "relay_delivery_lag_seconds_count"), 3);
  await a.close();
  await b.close();
  await resumed.close();
  await waitFor(() => relay.app.sse.stats.open === 0, "streams closed");
  assertEquals((await read()).get("relay_client_subscriptions")!.samples, []);
});

Deno.test("metrics: token and loopback rules", async (t) => {
  await using sim = createDrpSimulator();
  await sim.start();
  const keyed = { apiKeys: [{ id: "ops", sha256: await sha256Hex(API_KEY), sources: ["*"] }] };

  await t.step("with a token: Bearer required, the API key is not enough", async () => {
    await using relay = await startRelay([sim.sourceConfig("lab")], {
      config: { server: { metrics: { token: METRICS_TOKEN } }, auth: keyed },
    });
    const url = `${relay.origin}/metrics`;
    assertEquals((await scrape(url)).status, 401);
    assertEquals((await scrape(url, { authorization: `Bearer ${API_KEY}` })).status, 401);
    assertEquals((await scrape(url, { authorization: `Bearer ${METRICS_TOKEN}x` })).status, 401);
    assertEquals((await scrape(url, { authorization: METRICS_TOKEN })).status, 401);
    assertEquals((await scrape(url, { authorization: `Bearer ${METRICS_TOKEN}` })).status, 200);
  });

  await t.step("auth and no token: loopback clients only", async () => {
    await using relay = await startRelay([sim.sourceConfig("lab")], { config: { auth: keyed } });
    assertEquals((await scrape(`${relay.origin}/metrics`)).status, 200);
    const req = (ip: string) =>
      relay.app.fetch(new Request(`${relay.origin}/metrics`), {
        remoteAddr: { transport: "tcp", hostname: ip, port: 40000 },
      });
    for (const ip of ["127.0.0.1", "127.8.0.1", "::1", "::ffff:127.0.0.1"]) {
      assertEquals((await req(ip)).status, 200, ip);
    }
    for (const ip of ["10.1.2.3", "192.168.0.10", "::ffff:10.0.0.1", "fe80::1", "128.0.0.1"]) {
      const res = await req(ip);
      assertEquals(res.status, 403, ip);
      await res.body?.cancel();
    }
    const unknown = await relay.app.fetch(new Request(`${relay.origin}/metrics`));
    assertEquals(unknown.status, 403, "no peer address: not loopback");
    await unknown.body?.cancel();
  });

  await t.step("no auth, no token: open; a custom path; disabled: 404", async () => {
    {
      await using relay = await startRelay([sim.sourceConfig("lab")], {
        config: { server: { metrics: { path: "/internal/metrics" } } },
      });
      const res = await relay.app.fetch(new Request(`${relay.origin}/internal/metrics`), {
        remoteAddr: { transport: "tcp", hostname: "10.1.2.3", port: 1 },
      });
      assertEquals(res.status, 200);
      parsePrometheusText(await res.text());
      assertEquals((await scrape(`${relay.origin}/metrics`)).status, 404);
    }
    await using relay = await startRelay([sim.sourceConfig("lab")], {
      config: { server: { metrics: { enabled: false } } },
    });
    assertEquals((await scrape(`${relay.origin}/metrics`)).status, 404);
  });
});
