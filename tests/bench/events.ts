/**
 * The benchmark's event fixtures: realistic DRP `machines` create events of about 1 KB on
 * the wire, built with the simulator's own model helpers so they look like what a v3 server
 * publishes.
 *
 * @module
 */
import type { DrpEmitInit } from "../../src/simulators/drp/simulator.ts";
import { drpMachine, formatGoTime, goJson } from "../../src/simulators/drp/messages.ts";

/** One event in both shapes: what the simulator emits and the wire text it sends. */
export interface BenchEvent {
  init: DrpEmitInit & { Time: string; Principal: string };
  /** The DRP wire text (what the raw broadcast baseline sends to every socket). */
  text: string;
}

function hex(n: number, width: number): string {
  return n.toString(16).padStart(width, "0");
}

/** `count` distinct machine-create events (deterministic). */
export function machineEvents(count: number, seed = 1): BenchEvent[] {
  return Array.from({ length: count }, (_, i) => machineEvent(i, seed));
}

/** The `i`th machine-create event of a seeded series (deterministic). */
export function machineEvent(i: number, seed = 1): BenchEvent {
  const base = Date.UTC(2024, 4, 1, 12, 0, 0);
  {
    const n = seed * 100_000 + i;
    const uuid = `${hex(n, 8)}-4b1d-4c2a-9e6f-${hex(n * 7919, 12).slice(-12)}`;
    const mac = [
      "52",
      "54",
      "00",
      hex((n >> 16) & 255, 2),
      hex((n >> 8) & 255, 2),
      hex(n & 255, 2),
    ];
    const object = drpMachine({
      Uuid: uuid,
      Name: `rack${1 + (n % 4)}-node${String(n % 100).padStart(2, "0")}`,
      Address: `10.0.${1 + (n % 4)}.${10 + (n % 240)}`,
      HardwareAddrs: [mac.join(":")],
      Stage: "discover",
      BootEnv: "sledgehammer",
      Workflow: "discover-base",
      Tasks: ["gohai", "inventory-minimal", "bios-configure", "raid-configure"],
      Profiles: ["rack-defaults"],
      Params: {
        "kernel-console": "console=ttyS1,115200",
        "ipmi/enabled": true,
        "ipmi/address": `10.1.${1 + (n % 4)}.${10 + (n % 240)}`,
        "inventory/CPUs": 2,
        "inventory/Manufacturer": "Dell Inc.",
      },
    });
    const init = {
      Time: formatGoTime(base + i * 37, (i * 104_729) % 1_000_000),
      Type: "machines",
      Action: "create",
      Key: uuid,
      Principal: "user:rocketskates",
      Object: object,
      Original: null,
    };
    return { init, text: goJson(init) };
  }
}
