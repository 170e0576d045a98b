/**
 * Demo mode: with no config, the relay starts the vendor simulators in-process on
 * loopback, connects to them, and keeps a steady trickle of realistic events flowing so
 * GraphiQL shows life on a fresh machine.
 *
 * @module
 */
import type { Clock, TimerId } from "./platform/clock.ts";
import { systemClock } from "./platform/clock.ts";
import { createDrpSimulator } from "./simulators/drp/simulator.ts";
import { createKazooSimulator } from "./simulators/kazoo/simulator.ts";
import { createISymphonySimulator } from "./simulators/isymphony/simulator.ts";
import { createIlandSimulator } from "./simulators/iland/simulator.ts";
import { createWebinateSimulator } from "./simulators/webinate/simulator.ts";
import type { VendorSimulator } from "./simulators/vendor_simulator.ts";

/**
 * Interest kept registered in the demo, so `recentEvents` and `after:` have history before
 * anyone subscribes (iland and Webinate stream everything anyway).
 */
const DEMO_STANDING: Record<string, unknown[]> = {
  drp: ["*.*.*"],
  kazoo: ["call.*.*", "object.*.*"],
  isymphony: [[]],
};

/** Running simulators and the sources that point at them. */
export interface Demo extends AsyncDisposable {
  simulators: Record<string, VendorSimulator>;
  /** `sources[]` entries for the relay config. */
  sources: Record<string, unknown>[];
  stop(): Promise<void>;
}

/** Options for {@link startDemo}. */
export interface DemoOptions {
  /** Mean gap between simulated events per simulator. */
  intervalMs?: number;
  clock?: Clock;
  random?: () => number;
}

/** Starts the simulators and their event trickle. */
export async function startDemo(options: DemoOptions = {}): Promise<Demo> {
  const clock = options.clock ?? systemClock;
  const random = options.random ?? Math.random;
  const interval = options.intervalMs ?? 1500;
  const simulators: Record<string, VendorSimulator> = {
    "demo-drp": createDrpSimulator(),
    "demo-kazoo": createKazooSimulator(),
    "demo-isymphony": createISymphonySimulator(),
    "demo-iland": createIlandSimulator(),
    "demo-webinate": createWebinateSimulator(),
  };
  for (const sim of Object.values(simulators)) await sim.start();
  const timers = new Map<string, TimerId>();
  let stopped = false;
  const schedule = (name: string, sim: VendorSimulator) => {
    // Jittered gaps look like real traffic rather than a metronome.
    const gap = interval * (0.5 + random());
    timers.set(
      name,
      clock.setTimeout(() => {
        if (stopped) return;
        try {
          sim.emitRandom(random);
        } finally {
          schedule(name, sim);
        }
      }, gap),
    );
  };
  for (const [name, sim] of Object.entries(simulators)) schedule(name, sim);
  const stop = async () => {
    stopped = true;
    for (const t of timers.values()) clock.clearTimeout(t);
    await Promise.all(Object.values(simulators).map((s) => s.stop()));
  };
  return {
    simulators,
    sources: Object.entries(simulators).map(([name, sim]) => {
      const source = sim.sourceConfig(name);
      const standing = DEMO_STANDING[String(source.kind)];
      return {
        ...source,
        ...(standing ? { standing } : {}),
        // Demo upstreams reconnect quickly so restarts of a simulator are easy to watch.
        reconnect: { baseMs: 200, maxMs: 5000 },
      };
    }),
    stop,
    [Symbol.asyncDispose]: stop,
  };
}
