/**
 * Fuzz (seeded, time-bounded): random and mutated frames through every vendor connector's
 * `onFrame` (built from VENDOR_MODULES with a fake session), and random argument values
 * through every vendor module's `plan()` / `planTypes()`. Nothing may escape but a
 * RelayError BAD_FILTER from planning; every outcome must be well formed.
 */
import { assert, assertEquals } from "@std/assert";
import type { Event } from "../../src/model/event.ts";
import { upstreamEventSchema } from "../../src/model/event.ts";
import { isRelayError } from "../../src/model/errors.ts";
import { systemClock } from "../../src/platform/clock.ts";
import { createLogger } from "../../src/platform/log.ts";
import { createDrpSimulator } from "../../src/simulators/drp/simulator.ts";
import { createIlandSimulator } from "../../src/simulators/iland/simulator.ts";
import { createISymphonySimulator } from "../../src/simulators/isymphony/simulator.ts";
import { createKazooSimulator } from "../../src/simulators/kazoo/simulator.ts";
import { createWebinateSimulator } from "../../src/simulators/webinate/simulator.ts";
import type { FrameOutcome } from "../../src/upstreams/connector.ts";
import { VENDOR_MODULES } from "../../src/upstreams/mod.ts";
import type { UpstreamSession } from "../../src/upstreams/session.ts";
import { FaultFigures } from "../helpers/fault_kit.ts";
import { type GraphQLError } from "graphql";
import { operationChecks } from "../../src/graphql/limits.ts";
import { buildRelaySchema } from "../../src/graphql/schema.ts";

const figures = new FaultFigures("fuzz");
const SEED = 0x5eed1e55;
const BUDGET_MS = 400;
const MAX_CASES = 4000;

/** mulberry32: a small seeded PRNG. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

type Rand = () => number;
const int = (r: Rand, n: number) => Math.floor(r() * n);
const pick = <T>(r: Rand, xs: readonly T[]): T => xs[int(r, xs.length)]!;

const WORDS = [
  "*",
  "#",
  "",
  " ",
  ".",
  "..",
  "a.b",
  "machines",
  "save",
  "type",
  "EVENT",
  "TASK",
  "reply",
  "event",
  "success",
  "error",
  "agentLogin",
  "call.*.*",
  "doc_created",
  "\u0000",
  "\ud800",
  "é",
  "x".repeat(600),
  "__proto__",
  "constructor",
  "null",
  "1e309",
  "-0",
  "Login",
];

function randomString(r: Rand): string {
  if (r() < 0.5) return pick(r, WORDS);
  const len = int(r, 40);
  let s = "";
  for (let i = 0; i < len; i++) s += String.fromCharCode(int(r, r() < 0.9 ? 128 : 0x10000));
  return s;
}

function randomJson(r: Rand, depth = 0): unknown {
  const k = int(r, depth > 4 ? 6 : 8);
  switch (k) {
    case 0:
      return null;
    case 1:
      return r() < 0.5;
    case 2:
      return pick(r, [0, -1, 1.5, 1e21, Number.MAX_SAFE_INTEGER, 7, 10, 11, 1714564800000]);
    case 3:
    case 4:
    case 5:
      return randomString(r);
    case 6:
      return Array.from({ length: int(r, 4) }, () => randomJson(r, depth + 1));
    default:
      return Object.fromEntries(
        Array.from({ length: int(r, 5) }, () => [randomString(r), randomJson(r, depth + 1)]),
      );
  }
}

/** Replaces, deletes or retypes one field somewhere in `value`. */
function mutate(r: Rand, value: unknown, depth = 0): unknown {
  if (value === null || typeof value !== "object" || depth > 3 || r() < 0.2) {
    return randomJson(r, 3);
  }
  if (Array.isArray(value)) {
    const copy = [...value];
    if (copy.length === 0 || r() < 0.2) copy.push(randomJson(r, 3));
    else copy[int(r, copy.length)] = mutate(r, copy[int(r, copy.length)], depth + 1);
    return copy;
  }
  const copy: Record<string, unknown> = { ...(value as Record<string, unknown>) };
  const keys = Object.keys(copy);
  const op = int(r, 4);
  if (op === 0 && keys.length) delete copy[pick(r, keys)];
  else if (op === 1) copy[randomString(r)] = randomJson(r, 3);
  else if (keys.length) {
    const key = pick(r, keys);
    copy[key] = mutate(r, copy[key], depth + 1);
  }
  return copy;
}

function mangleText(r: Rand, text: string): string {
  const at = int(r, text.length + 1);
  switch (int(r, 4)) {
    case 0:
      return text.slice(0, at);
    case 1:
      return text.slice(0, at) + randomString(r) + text.slice(at);
    case 2:
      return text.slice(0, at) + text.slice(at + 1 + int(r, 5));
    default:
      return text.repeat(2);
  }
}

/** Valid frames per vendor, the seeds that mutations start from. */
const SEEDS: Record<string, unknown[]> = {
  drp: [
    {
      Time: "2024-05-01T12:00:00.123456789Z",
      Type: "machines",
      Action: "save",
      Key: "m1",
      Principal: "user:rocketskates",
      Object: { Name: "m1", Uuid: "m1" },
      Original: null,
    },
    {
      Time: "2024-05-01T12:00:00Z",
      Type: "websocket",
      Action: "register",
      Key: "*.*.*",
      Object: null,
    },
  ],
  isymphony: [
    {
      type: "agentLogin",
      time: 1714564800000,
      username: "mike",
      queue: "Support",
      coreServerId: "c1",
    },
    { type: "success", correlationId: "relay-1" },
    { type: "error", correlationId: "relay-2", error: "Invalid filter" },
  ],
  kazoo: [
    {
      action: "event",
      subscribed_key: "call.CHANNEL_CREATE.*",
      name: "CHANNEL_CREATE",
      routing_key: "call.CHANNEL_CREATE.abc",
      data: { Call_ID: "abc", Account_ID: "acct" },
    },
    { action: "reply", request_id: "relay-1", status: "success", data: {} },
    { action: "reply", request_id: "relay-2", status: "error", data: { message: "bad" } },
  ],
  iland: [
    {
      type: "EVENT",
      data: {
        uuid: "e1",
        type: "VM_POWER_ON",
        entity_uuid: "vm1",
        entity_name: "web",
        entity_type: "IAAS_VM",
        owner_type: "COMPANY",
        owner_id: "123",
        initiated_by_username: "alice",
        timestamp: 1714564800000,
      },
    },
    {
      type: "TASK",
      data: { uuid: "t1", status: "running", operation: "power on", entity_uuid: "vm1" },
    },
  ],
  webinate: [
    { eventType: 1, username: "alice" },
    { eventType: 5, username: "bob", file: { _id: "f1", name: "a.pdf" } },
    { type: "Login", username: "carol" },
  ],
};

function fakeSession(): UpstreamSession {
  const abort = new AbortController();
  return {
    send: () => {},
    nextFrame: () => Promise.reject(new Error("fake session has no frames")),
    close: () => abort.abort(new Error("closed")),
    signal: abort.signal,
    lastFrameAt: 0,
  };
}

function sampleConfigs(): Record<string, Record<string, unknown>> {
  return {
    drp: createDrpSimulator().sourceConfig("fz"),
    isymphony: createISymphonySimulator().sourceConfig("fz"),
    kazoo: createKazooSimulator().sourceConfig("fz"),
    iland: createIlandSimulator().sourceConfig("fz"),
    webinate: createWebinateSimulator().sourceConfig("fz"),
  };
}

function checkOutcome(kind: string, frame: string, outcome: FrameOutcome): void {
  assert(
    outcome.kind === "events" || outcome.kind === "control" || outcome.kind === "dropped",
    `${kind}: bad outcome for ${frame.slice(0, 120)}`,
  );
  if (outcome.kind === "dropped") assertEquals(typeof outcome.reason, "string");
  if (outcome.kind === "events") {
    for (const event of outcome.events) {
      const checked = upstreamEventSchema.safeParse(event);
      assert(checked.success, `${kind}: malformed event from ${frame.slice(0, 120)}`);
    }
  }
}

Deno.test("fuzz: every connector's onFrame survives random and mutated frames", async () => {
  const configs = sampleConfigs();
  const log = createLogger({ level: "error", sink: () => {} });
  for (const mod of VENDOR_MODULES) {
    const config = mod.configSchema.parse(configs[mod.kind]);
    const connectors = mod.createConnectors(config, {
      ctx: { log, rejectInterest: () => {}, nowIso: () => new Date().toISOString() },
      clock: systemClock,
      caCerts: [],
      fetch: () => Promise.reject(new Error("no network in the fuzz test")),
    });
    const connector = connectors[0]!;
    const session = fakeSession();
    // Connectors whose handshake is local keep per-session state that replies reach.
    if (mod.kind === "drp" || mod.kind === "isymphony") await connector.authenticate(session);
    const seeds = SEEDS[mod.kind] ?? [];
    const r = prng(SEED ^ mod.kind.length);
    const outcomes = { events: 0, control: 0, dropped: 0 };
    // The seeds themselves must parse, or the mutations would start from nothing valid.
    for (const seed of seeds) {
      const outcome = connector.onFrame(session, JSON.stringify(seed));
      assert(outcome.kind !== "dropped", `${mod.kind} seed dropped: ${JSON.stringify(outcome)}`);
    }
    const t0 = performance.now();
    let cases = 0;
    while (cases < MAX_CASES && performance.now() - t0 < BUDGET_MS) {
      const mode = int(r, 4);
      const frame = mode === 0
        ? randomString(r)
        : mode === 1
        ? JSON.stringify(randomJson(r))
        : mode === 2
        ? JSON.stringify(mutate(r, pick(r, seeds)))
        : mangleText(r, JSON.stringify(pick(r, seeds)));
      let outcome: FrameOutcome;
      try {
        outcome = connector.onFrame(session, frame);
      } catch (err) {
        throw new Error(`${mod.kind}.onFrame threw on ${JSON.stringify(frame.slice(0, 200))}`, {
          cause: err,
        });
      }
      checkOutcome(mod.kind, frame, outcome);
      outcomes[outcome.kind]++;
      cases++;
    }
    session.close();
    figures.add("fuzzCasesTotal", cases);
    figures.set(`onFrame.${mod.kind}`, `${cases} (${JSON.stringify(outcomes)})`);
  }
});

const ARG_NAMES = [
  "type",
  "action",
  "key",
  "filters",
  "kinds",
  "entityTypes",
  "types",
  "eventTypes",
  "accountId",
  "bindings",
  "source",
  "after",
];

function randomArgs(r: Rand): Record<string, unknown> {
  const args: Record<string, unknown> = {};
  for (const name of ARG_NAMES) {
    if (r() < 0.5) continue;
    const k = int(r, 5);
    args[name] = k === 0
      ? randomString(r)
      : k === 1
      ? Array.from({ length: int(r, 4) }, () => randomString(r))
      : k === 2
      ? Array.from(
        { length: int(r, 3) },
        () => ({ property: randomString(r), value: randomString(r) }),
      )
      : k === 3
      ? Array.from({ length: int(r, 3) }, () => int(r, 14) - 1)
      : randomJson(r);
  }
  return args;
}

const PROBE_EVENT: Event = {
  id: "fz:abc:1",
  source: "fz",
  vendor: "DRP",
  type: "machines",
  action: "save",
  key: "m1",
  subject: null,
  actor: null,
  time: "2024-05-01T12:00:00.000Z",
  receivedAt: "2024-05-01T12:00:00.000Z",
  payload: {},
  detail: { vendor: "DRP", object: {}, original: null, principal: "" },
};

Deno.test("fuzz: every vendor's plan()/planTypes() accepts or refuses with BAD_FILTER", () => {
  for (const mod of VENDOR_MODULES) {
    const r = prng(SEED ^ (mod.kind.length * 7919));
    let cases = 0;
    let refused = 0;
    const t0 = performance.now();
    while (cases < MAX_CASES && performance.now() - t0 < BUDGET_MS / 2) {
      const useTypes = r() < 0.3;
      const args = randomArgs(r);
      const types = r() < 0.2
        ? undefined
        : Array.from({ length: int(r, 4) }, () => randomString(r));
      try {
        const part = useTypes ? mod.planTypes("fz", types) : mod.plan("fz", args);
        assertEquals(part.source, "fz");
        assert(Array.isArray(part.interest));
        for (const item of part.interest) assertEquals(typeof item.key, "string");
        part.match(PROBE_EVENT);
      } catch (err) {
        if (!isRelayError(err) || err.code !== "BAD_FILTER") {
          throw new Error(
            `${mod.kind}.${useTypes ? "planTypes" : "plan"} threw on ` +
              JSON.stringify(useTypes ? types : args).slice(0, 300),
            { cause: err },
          );
        }
        refused++;
      }
      cases++;
    }
    figures.add("fuzzCasesTotal", cases);
    figures.set(`plan.${mod.kind}`, `${cases} (${refused} BAD_FILTER)`);
  }
});

/** A random GraphQL document: a fragment graph (spreads, cycles, fan-out), nesting, aliases. */
function randomDocument(r: Rand): string {
  const frags = 1 + int(r, 30);
  const fields = ["sources", "source", "name", "state", "recentEvents", "id", "__typename", "x"];
  const selection = (depth: number, budget: { n: number }): string => {
    const parts: string[] = [];
    const width = 1 + int(r, 4);
    for (let i = 0; i < width && budget.n-- > 0; i++) {
      const roll = r();
      if (roll < 0.35) parts.push(`...F${int(r, frags)}`);
      else if (roll < 0.45) parts.push(`... on Query { ${selection(depth + 1, budget)} }`);
      else {
        const alias = r() < 0.3 ? `a${int(r, 50)}: ` : "";
        const nest = depth < 200 && r() < 0.6 ? ` { ${selection(depth + 1, budget)} }` : "";
        parts.push(`${alias}${pick(r, fields)}${nest}`);
      }
    }
    return parts.join(" ") || "name";
  };
  const defs = [`query Q { ${selection(0, { n: 200 })} }`];
  for (let i = 0; i < frags; i++) {
    defs.push(`fragment F${i} on ${pick(r, ["Query", "Source"])} { ${selection(0, { n: 40 })} }`);
  }
  if (r() < 0.1) defs.push(`{ ${"a{".repeat(int(r, 20_000))}b${"}".repeat(int(r, 20_000))} }`);
  return defs.join("\n");
}

Deno.test("fuzz: GraphQL documents are accepted or refused quickly, whatever their shape", () => {
  const r = prng(SEED ^ 0x6a09);
  const schema = buildRelaySchema();
  const checks = operationChecks({
    maxDepth: 12,
    maxAliases: 30,
    maxFields: 1000,
    maxTokens: 2000,
    introspection: true,
  });
  const deadline = performance.now() + BUDGET_MS * 2;
  let cases = 0;
  let worstMs = 0;
  const codes: Record<string, number> = {};
  while (cases < MAX_CASES && performance.now() < deadline) {
    const doc = randomDocument(r);
    const start = performance.now();
    let errors: readonly GraphQLError[];
    try {
      errors = checks.validate(schema, checks.parse(doc));
    } catch (err) {
      errors = [err as GraphQLError];
      assert((err as GraphQLError).message !== undefined, String(err));
    }
    const ms = performance.now() - start;
    worstMs = Math.max(worstMs, ms);
    // A bound that tells linear from exponential on a loaded machine, not a speed claim.
    assert(ms < 1000, `a document took ${ms.toFixed(0)} ms:\n${doc.slice(0, 500)}`);
    const code = String(errors[0]?.extensions?.code ?? (errors.length ? "INVALID" : "VALID"));
    codes[code] = (codes[code] ?? 0) + 1;
    cases++;
  }
  figures.add("fuzzCasesTotal", cases);
  figures.set("graphqlDocuments", `${cases} (${JSON.stringify(codes)})`);
  figures.max("graphqlWorstValidationMs", Math.round(worstMs * 10) / 10);
});

Deno.test("fuzz figures", () => figures.print());
