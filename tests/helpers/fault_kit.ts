/**
 * Shared pieces of the fault-injection suite (`tests/faults/`): the DRP subscription and
 * source-status queries, a figures accumulator that prints one line per test file, and a
 * latency sampler for `/healthz`.
 *
 * @module
 */
import type { DrpSimulator } from "../../src/simulators/drp/simulator.ts";
export { type SourceStatus, sourceStatus, waitForSource } from "./relay.ts";

/** A DRP subscription with every filter argument as a variable. */
export const DRP_SUB =
  `subscription($source: String, $type: String, $action: String, $key: String) {
  drpEvents(source: $source, type: $type, action: $action, key: $key) { id type action key }
}`;

/** One delivered `drpEvents` result. */
export type DrpRow = { drpEvents: { id: string; type: string; action: string; key: string } };

/** Keys of the delivered DRP rows, in arrival order. */
export function keysOf(rows: readonly DrpRow[]): string[] {
  return rows.map((r) => r.drpEvents.key);
}

/** Figures one test file reports: summed counters plus free-form values. */
export class FaultFigures {
  readonly #file: string;
  readonly #figures: Record<string, number | string> = {};

  constructor(file: string) {
    this.#file = file;
  }

  /** Adds `n` to a counter. */
  add(name: string, n: number): void {
    const prev = this.#figures[name];
    this.#figures[name] = (typeof prev === "number" ? prev : 0) + n;
  }

  /** Keeps the largest value seen for `name`. */
  max(name: string, n: number): void {
    const prev = this.#figures[name];
    this.#figures[name] = typeof prev === "number" ? Math.max(prev, n) : n;
  }

  /** Sets a value. */
  set(name: string, value: number | string): void {
    this.#figures[name] = value;
  }

  /** Counts healthy-client deliveries against what was expected. */
  delivered(got: number, expected: number): void {
    this.add("eventsDeliveredToHealthy", got);
    this.add("eventsExpectedByHealthy", expected);
  }

  /** Writes the figures as one line on stdout. */
  print(): void {
    // deno-lint-ignore no-console
    console.log(`[fault-figures] ${this.#file} ${JSON.stringify(this.#figures)}`);
  }
}

/** Polls `/healthz` back to back until stopped; reports the slowest answer. */
export function sampleHealthz(origin: string): { stop(): Promise<{ maxMs: number; n: number }> } {
  let running = true;
  let maxMs = 0;
  let n = 0;
  const loop = (async () => {
    while (running) {
      const t0 = performance.now();
      const res = await fetch(`${origin}/healthz`);
      await res.body?.cancel();
      if (!res.ok) throw new Error(`/healthz answered ${res.status}`);
      maxMs = Math.max(maxMs, performance.now() - t0);
      n++;
      await new Promise((r) => setTimeout(r, 5));
    }
  })();
  return {
    async stop() {
      running = false;
      await loop;
      return { maxMs, n };
    },
  };
}

/** Resolves after `ms` (for pacing an emitter, never for waiting on a result). */
export function tick(ms = 0): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** Emits DRP events on `sim` every ~2 ms until stopped; remembers the keys that went out. */
export function steadyEmitter(
  sim: DrpSimulator,
  prefix: string,
): { sent: string[]; stop(): Promise<void> } {
  const sent: string[] = [];
  let running = true;
  let i = 0;
  const loop = (async () => {
    while (running) {
      const key = `${prefix}-${i++}`;
      if (sim.emit({ Type: "machines", Action: "update", Key: key }) > 0) sent.push(key);
      await tick(2);
    }
  })();
  return {
    sent,
    async stop() {
      running = false;
      await loop;
    },
  };
}

/** True when some session of `sim` has `filter` registered. */
export function drpRegistered(sim: DrpSimulator, filter = "*.*.*"): boolean {
  return sim.sessions().some((s) => s.filters.includes(filter));
}
