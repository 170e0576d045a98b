/**
 * Entry point (also the Deno Deploy entry): read the config, wire the app, serve, and
 * shut down gracefully on SIGTERM/SIGINT. Only side effects live here.
 *
 * @module
 */
// First: graphql-js reads NODE_ENV when it loads.
import "./platform/production.ts";
import {
  ConfigError,
  locateConfig,
  parseConfig,
  parseConfigText,
  type ParsedConfig,
} from "./config.ts";
import { createApp } from "./app.ts";
import { checkConfig } from "./config_check.ts";
import { type Demo, startDemo } from "./demo.ts";
import { createLogger } from "./platform/log.ts";

const env = (name: string): string | undefined => {
  try {
    return Deno.env.get(name);
  } catch {
    return undefined; // no --allow-env
  }
};
const bootLog = createLogger({ level: "info" });

if (Deno.args.includes("--check")) {
  const result = await checkConfig(Deno.args, env, Deno.readTextFileSync);
  const out = (stream: { writeSync(b: Uint8Array): number }, line: string) =>
    stream.writeSync(new TextEncoder().encode(`${line}\n`));
  if (result.ok) out(Deno.stdout, result.summary);
  else for (const line of result.problems) out(Deno.stderr, `config: ${line}`);
  Deno.exit(result.ok ? 0 : 2);
}

let parsed: ParsedConfig;
let demo: Demo | undefined;
try {
  const located = locateConfig(Deno.args, env, Deno.readTextFileSync);
  if (located.kind === "demo") {
    demo = await startDemo();
    parsed = parseConfig({
      server: {
        port: Number(env("PORT") ?? 8080),
        hostname: env("HOST") ?? "0.0.0.0",
        // A demo is for exploring: GraphiQL and introspection on (both off by default).
        graphiql: true,
        introspection: true,
        statusPage: true,
      },
      sources: demo.sources,
    }, env);
  } else {
    parsed = parseConfigText(located.text, env);
  }
} catch (err) {
  if (err instanceof ConfigError) {
    for (const line of err.problems) bootLog.error(`config: ${line}`);
    Deno.exit(2);
  }
  throw err;
}

const app = createApp({ config: parsed.config, secrets: parsed.secrets });
const { server: serverConfig } = parsed.config;
if (demo) {
  app.log.info("demo mode: no config given, relaying from in-process simulators", {
    sources: Object.keys(demo.simulators),
  });
}
app.start();
const server = Deno.serve({
  port: serverConfig.port,
  hostname: serverConfig.hostname,
  onListen: ({ hostname, port }) => {
    const host = hostname === "0.0.0.0" || hostname === "::" ? "localhost" : hostname;
    const url = `http://${host}:${port}${serverConfig.graphqlPath}`;
    app.log.info(`relay listening; GraphiQL at ${url}`, { url, ws: url.replace(/^http/, "ws") });
    if (serverConfig.statusPage) app.log.info(`status page at http://${host}:${port}/`);
  },
}, app.fetch);

let stopping = false;
const shutdown = async (signal: string) => {
  if (stopping) return;
  stopping = true;
  app.log.info("shutting down", { signal });
  // app.close() first: it refuses new requests (503), completes every subscription and closes
  // client sockets and upstreams; Deno's shutdown() would drop upgraded sockets at once.
  await app.close();
  await server.shutdown();
  await demo?.stop();
  Deno.exit(0);
};
for (const signal of ["SIGTERM", "SIGINT"] as const) {
  try {
    Deno.addSignalListener(signal, () => void shutdown(signal));
  } catch {
    // Platforms without signals (Deno Deploy) stop the isolate themselves.
  }
}
