/**
 * Runs issue 7's attacks against the real entry point in its own process and prints, per
 * attack, the time, the HTTP status / close code and the relay's RSS. Not a test: run it by
 * hand (`deno run -A tests/security/measure.ts`) to get before/after figures.
 *
 * @module
 */
import { createDrpSimulator } from "../../src/simulators/drp/simulator.ts";
import { connectClient } from "../helpers/gql_client.ts";
import {
  binaryFlood,
  browserGet,
  chunkedPost,
  deepQuery,
  fragmentBomb,
  healthLatency,
  hs256,
  post,
  rawHttp,
  readyz,
  sha256Hex,
} from "./attacks.ts";

const KEY = "ops-key-0123456789";
const SECRET = "a-very-long-hs256-secret-for-the-tests-000";
const levels = Number(Deno.args[0] ?? 20);

/** Current and peak resident memory of `pid`, in MB (Linux). */
function rssMb(pid: number): string {
  const status = Deno.readTextFileSync(`/proc/${pid}/status`);
  const mb = (field: string) =>
    (Number(new RegExp(`${field}:\\s+(\\d+)`).exec(status)?.[1] ?? 0) / 1024).toFixed(0);
  return `${mb("VmRSS")} MB (peak ${mb("VmHWM")} MB)`;
}

async function listening(stdout: ReadableStream<Uint8Array>): Promise<string> {
  const reader = stdout.getReader();
  let text = "";
  while (true) {
    const { value, done } = await reader.read();
    if (done) throw new Error(`relay exited: ${text}`);
    text += new TextDecoder().decode(value);
    const m = /"url":"(http:\/\/[^"]+)"/.exec(text);
    if (m?.[1]) {
      (async () => {
        while (!(await reader.read()).done) { /* drain */ }
      })().catch(() => {});
      return m[1];
    }
  }
}

await using sim = createDrpSimulator();
await sim.start();
const config = {
  server: {
    port: 0,
    hostname: "127.0.0.1",
    allowedOrigins: ["https://ops.example.com"],
  },
  auth: {
    apiKeys: [{ id: "ops", sha256: await sha256Hex(KEY), sources: ["*"] }],
    jwt: { secret: SECRET },
  },
  sources: [sim.sourceConfig("lab-drp")],
};
const child = new Deno.Command(Deno.execPath(), {
  args: ["run", "--allow-net", "--allow-env", "--allow-read", "src/main.ts"],
  cwd: new URL("../..", import.meta.url).pathname,
  env: { RELAY_CONFIG_JSON: JSON.stringify(config), NO_COLOR: "1" },
  stdout: "piped",
  stderr: "inherit",
}).spawn();
const url = (await listening(child.stdout)).replace("localhost", "127.0.0.1");
const origin = new URL(url).origin;
const wsUrl = url.replace(/^http/, "ws");
const auth = { authorization: `Bearer ${KEY}` };
// deno-lint-ignore no-console
const print = (line: string) => console.log(line);
const row = (name: string, detail: string) =>
  print(`${name.padEnd(34)} ${detail}  rss ${rssMb(child.pid)}`);

try {
  row("idle", "");
  {
    const attack = post(url, fragmentBomb(levels), auth);
    await new Promise((r) => setTimeout(r, 300));
    const health = await healthLatency(origin);
    const r = await attack;
    row(
      `fragment bomb ${levels} levels (key)`,
      `${r.status} ${r.ms.toFixed(0)} ms, /healthz ${health.toFixed(0)} ms ${r.body.slice(0, 80)}`,
    );
  }
  {
    const r = await browserGet(url, fragmentBomb(levels));
    row(
      `fragment bomb GET text/html no key`,
      `${r.status} ${r.ms.toFixed(0)} ms ${r.body.slice(0, 80)}`,
    );
  }
  {
    const r = await browserGet(url, `{ source(name: "lab-drp") { name } }`);
    row("GET text/html no key, source()", `${r.status} ${r.body.slice(0, 100)}`);
  }
  {
    const r = await post(url, deepQuery(10_000), auth);
    row("nested 10,000 levels", `${r.status} ${r.ms.toFixed(0)} ms ${r.body.slice(0, 100)}`);
  }
  {
    const r = await chunkedPost(url, 1_000_000, auth);
    row("chunked 1 MB body", `${r.status} ${r.ms.toFixed(0)} ms ${r.body.slice(0, 80)}`);
  }
  {
    const r = await binaryFlood(wsUrl, 4, 60 * 1024 * 1024);
    row("4 x 60 MiB binary pre-auth", `codes ${r.codes.join(",")} ${r.ms.toFixed(0)} ms`);
  }
  {
    const evil = `evil.example:${new URL(url).port}`;
    const r = await rawHttp(origin, "POST", new URL(url).pathname, {
      host: evil,
      origin: `http://${evil}`,
      "content-type": "application/json",
      ...auth,
    }, JSON.stringify({ query: "{ sources { name } }" }));
    row("DNS rebinding Origin=Host=evil", `${r.status} ${r.body.slice(0, 60)}`);
  }
  {
    const noExp = await hs256(SECRET, { sub: "x", sources: "*" });
    const far = await hs256(SECRET, { sub: "x", sources: "*", exp: 253402300799 });
    const a = await post(url, "{ sources { name } }", { authorization: `Bearer ${noExp}` });
    const b = await post(url, "{ sources { name } }", { authorization: `Bearer ${far}` });
    row("JWT without exp / exp 9999", `${a.status} ${a.body.slice(0, 50)} / ${b.status}`);
  }
  {
    const r = await readyz(origin);
    row("/readyz no key", `${r.status} ${r.body.slice(0, 90)}`);
  }
  {
    const r = await post(url, "{ sourcs { name } }", auth);
    row("suggestions, introspection off", `${r.status} ${r.body.slice(0, 110)}`);
  }
  {
    // Two JWTs of one sub: the narrow one joins the wide one's stream?
    const wide = await hs256(SECRET, { sub: "u", sources: "*", exp: Date.now() / 1000 + 600 });
    const narrow = await hs256(SECRET, {
      sub: "u",
      sources: ["pbx"],
      exp: Date.now() / 1000 + 600,
    });
    const q = `subscription { drpEvents(source: "lab-drp") { key } }`;
    await using a = connectClient(wsUrl, { connectionParams: { apiKey: wide } });
    await using b = connectClient(wsUrl, { connectionParams: { apiKey: narrow } });
    const sa = a.subscribe<{ drpEvents: { key: string } }>(q);
    await sa.waitForCount(0);
    await new Promise((r) => setTimeout(r, 300));
    const sb = b.subscribe<{ drpEvents: { key: string } }>(q);
    await new Promise((r) => setTimeout(r, 300));
    sim.emit({ Type: "machines", Action: "create", Key: "leak" });
    await sa.waitForCount(1).catch(() => {});
    await new Promise((r) => setTimeout(r, 300));
    row(
      "JWT same sub, sources [pbx]",
      `narrow got ${sb.data.length} events, codes ${sb.errorCodes}`,
    );
  }
} finally {
  child.kill("SIGKILL");
  await child.status;
}
