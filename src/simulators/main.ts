/**
 * `deno task sim [vendor] [--port N]`: runs one vendor simulator on its own, emitting a
 * random event every second, so a relay (or a person with a websocket client) has a live
 * upstream to talk to. Prints one JSON line with the URL and a ready `sources[]` entry
 * (credentials included: these are the simulator's own test credentials) and stops on
 * SIGINT/SIGTERM.
 *
 * The port comes from `--port N` (or `--port=N`), else `SIM_PORT`, else the vendor's
 * customary port. Vendors are looked up by name in {@link SIMULATORS}.
 *
 * @module
 */
import { createDrpSimulator } from "./drp/simulator.ts";
import { createKazooSimulator } from "./kazoo/simulator.ts";
import { createISymphonySimulator } from "./isymphony/simulator.ts";
import { createIlandSimulator } from "./iland/simulator.ts";
import { createWebinateSimulator } from "./webinate/simulator.ts";
import type { VendorSimulator } from "./vendor_simulator.ts";

/** How `deno task sim` builds one vendor's simulator. */
export interface SimulatorEntry {
  /** The vendor's usual port, used when neither `--port` nor `SIM_PORT` is given. */
  defaultPort: number;
  create(port: number): VendorSimulator;
}

/** Simulators runnable by name; the first is the default. */
export const SIMULATORS: Record<string, SimulatorEntry> = {
  // PROTOCOLS.md §2.1: DRP's API port is 8092 by default.
  drp: { defaultPort: 8092, create: (port) => createDrpSimulator({ port }) },
  // PROTOCOLS.md §4.1: blackhole listens on 5555 (Crossbar on 8000; the simulator serves both).
  kazoo: { defaultPort: 5555, create: (port) => createKazooSimulator({ port }) },
  // PROTOCOLS.md §5.1: the Event API websocket listens on 58080 (55050 with SSL).
  isymphony: { defaultPort: 58080, create: (port) => createISymphonySimulator({ port }) },
  // iland serves wss on 443; plain-ws loopback simulator uses 8443 (no root needed).
  iland: { defaultPort: 8443, create: (port) => createIlandSimulator({ port }) },
  // PROTOCOLS.md §3.1: `websocket.port`; the example configs use 8063 (and 8080).
  webinate: { defaultPort: 8063, create: (port) => createWebinateSimulator({ port }) },
};

/** What the command line asked for. */
export interface SimArgs {
  vendor: string;
  port: number | undefined;
}

/** Parses `[vendor] [--port N | --port=N]`; throws on anything else. */
export function parseSimArgs(args: readonly string[]): SimArgs {
  let vendor: string | undefined;
  let port: string | undefined;
  for (let i = 0; i < args.length; i++) {
    const arg = args[i] ?? "";
    if (arg === "--port") port = args[++i];
    else if (arg.startsWith("--port=")) port = arg.slice("--port=".length);
    else if (!arg.startsWith("-") && vendor === undefined) vendor = arg;
    else throw new Error(`Unknown argument: ${arg}`);
  }
  const names = Object.keys(SIMULATORS);
  vendor ??= names[0] ?? "";
  if (!(vendor in SIMULATORS)) {
    throw new Error(`Unknown simulator "${vendor}"; choose one of: ${names.join(", ")}`);
  }
  if (port === undefined) return { vendor, port: undefined };
  const n = Number(port);
  if (!Number.isInteger(n) || n < 0 || n > 65535) throw new Error(`Invalid port: ${port}`);
  return { vendor, port: n };
}

/** Starts the chosen simulator and runs until `signal` aborts. */
export async function runSimulator(
  args: SimArgs,
  signal: AbortSignal,
  print: (line: string) => void,
): Promise<void> {
  const entry = SIMULATORS[args.vendor];
  if (!entry) throw new Error(`Unknown simulator "${args.vendor}"`);
  const envPort = Deno.env.get("SIM_PORT");
  const port = args.port ??
    (envPort ? parseSimArgs([args.vendor, "--port", envPort]).port : undefined) ??
    entry.defaultPort;
  const sim = entry.create(port);
  await sim.start();
  print(JSON.stringify({
    simulator: args.vendor,
    url: sim.url,
    source: sim.sourceConfig(`sim-${args.vendor}`),
  }));
  const timer = setInterval(() => sim.emitRandom(Math.random), 1000);
  await new Promise<void>((resolve) => {
    if (signal.aborted) resolve();
    signal.addEventListener("abort", () => resolve(), { once: true });
  });
  clearInterval(timer);
  await sim.stop();
}

if (import.meta.main) {
  const stop = new AbortController();
  const signals: Deno.Signal[] = Deno.build.os === "windows" ? ["SIGINT"] : ["SIGINT", "SIGTERM"];
  const onSignal = () => stop.abort();
  for (const s of signals) Deno.addSignalListener(s, onSignal);
  try {
    // deno-lint-ignore no-console
    await runSimulator(parseSimArgs(Deno.args), stop.signal, (line) => console.log(line));
  } catch (error) {
    // deno-lint-ignore no-console
    console.error(error instanceof Error ? error.message : String(error));
    Deno.exitCode = 2;
  } finally {
    for (const s of signals) Deno.removeSignalListener(s, onSignal);
  }
}
