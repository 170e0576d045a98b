/**
 * Traces: the real entry point with `OTEL_DENO=true` exports the relay's spans over OTLP
 * (http/json here, to a receiver in this test) through Deno's built-in OpenTelemetry, and
 * no span attribute carries a credential. Without OTEL_DENO the helpers call straight
 * through.
 */
import { assert, assertEquals } from "@std/assert";
import { createDrpSimulator } from "../../src/simulators/drp/simulator.ts";
import { traced, tracedSync, tracing } from "../../src/platform/tracing.ts";
import { connectClient } from "../helpers/gql_client.ts";
import { waitFor } from "../helpers/relay.ts";
import { waitForLogged } from "../helpers/child_output.ts";

interface OtlpSpan {
  name: string;
  attributes: { key: string; value: { stringValue?: string; boolValue?: boolean } }[];
  status?: { code?: number; message?: string };
}

function spansOf(body: unknown): OtlpSpan[] {
  const doc = body as { resourceSpans?: { scopeSpans?: { spans?: OtlpSpan[] }[] }[] };
  return (doc.resourceSpans ?? []).flatMap((r) =>
    (r.scopeSpans ?? []).flatMap((s) => s.spans ?? [])
  );
}

const attr = (span: OtlpSpan, key: string) => {
  const v = span.attributes.find((a) => a.key === key)?.value;
  return v?.stringValue ?? v?.boolValue;
};

Deno.test("tracing off: the helpers run the function and nothing else", async () => {
  assertEquals(tracing, Deno.env.get("OTEL_DENO") === "true");
  assertEquals(await traced("x", {}, () => Promise.resolve(7)), 7);
  assertEquals(tracedSync("x", {}, () => 8), 8);
});

Deno.test("OTEL_DENO=true: upstream and subscription spans reach an OTLP receiver", async () => {
  const bodies: string[] = [];
  const receiver = Deno.serve(
    { port: 0, hostname: "127.0.0.1", onListen: () => {} },
    async (req) => {
      const text = await req.text();
      if (new URL(req.url).pathname === "/v1/traces") bodies.push(text);
      return new Response("{}", { headers: { "content-type": "application/json" } });
    },
  );
  await using sim = createDrpSimulator();
  await sim.start();
  const upstream = sim.sourceConfig("lab");
  const config = { server: { port: 0, hostname: "127.0.0.1" }, sources: [upstream] };
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "--allow-net", "--allow-env", "--allow-read", "src/main.ts"],
    cwd: new URL("../..", import.meta.url).pathname,
    env: {
      RELAY_CONFIG_JSON: JSON.stringify(config),
      NO_COLOR: "1",
      OTEL_DENO: "true",
      OTEL_DENO_CONSOLE: "ignore",
      OTEL_EXPORTER_OTLP_ENDPOINT: `http://127.0.0.1:${receiver.addr.port}`,
      OTEL_EXPORTER_OTLP_PROTOCOL: "http/json",
      OTEL_SERVICE_NAME: "relay-test",
    },
    stdout: "piped",
    stderr: "null",
  }).spawn();
  try {
    const wsUrl = await waitForLogged(child.stdout, /"ws":"(ws:\/\/[^"]+)"/);
    await using client = connectClient(wsUrl);
    const sub = client.subscribe('subscription { drpEvents(type: "machines") { id } }');
    await waitFor(() => sim.sessions().some((s) => s.filters.includes("machines.*.*")), "register");
    sim.emit({ Type: "machines", Action: "update", Key: "m-1", Object: {} });
    await sub.waitForCount(1);
    await client.close();
    // A graceful stop flushes what is still batched.
    child.kill("SIGTERM");
    assertEquals((await child.status).code, 0);
    await waitFor(
      () => {
        const names = new Set(bodies.flatMap((b) => spansOf(JSON.parse(b))).map((s) => s.name));
        return ["upstream.dial", "upstream.connect", "upstream.authenticate", "relay.subscribe"]
          .every((n) => names.has(n));
      },
      "the relay's spans",
      20_000,
    );
    const spans = bodies.flatMap((b) => spansOf(JSON.parse(b)));
    const auth = spans.find((s) => s.name === "upstream.authenticate")!;
    assertEquals(attr(auth, "relay.source"), "lab");
    assertEquals(attr(auth, "relay.vendor"), "DRP");
    const subscribe = spans.find((s) => s.name === "relay.subscribe")!;
    assertEquals(attr(subscribe, "relay.source"), "lab");
    assertEquals(attr(subscribe, "relay.resume"), false);
    const everything = bodies.join("\n");
    assert(!everything.includes(String(upstream.password)), "a span holds the upstream password");
  } finally {
    try {
      child.kill("SIGKILL");
    } catch {
      // already exited
    }
    await child.status;
    await receiver.shutdown();
  }
});
