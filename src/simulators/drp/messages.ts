/**
 * Wire formats of the Digital Rebar Provision (DRP) event websocket, as the simulator
 * speaks them: the text commands a client sends (`register T.A.K` / `deregister T.A.K`),
 * the event object the server writes, the v3 filter matcher, and Go's JSON quirks
 * (time format, HTML escaping) so the output is byte-for-byte what a Go server writes.
 *
 * Facts come from `shared/PROTOCOLS.md` §2 (v3 server code: `frontend/websocket.go`
 * `websocketHandler` and `wsFilterFunction`; `models/event.go`).
 *
 * @module
 */
import { z } from "zod";
import { pick } from "../vendor_simulator.ts";

/** The two command prefixes the server acts on (PROTOCOLS.md §2.2). */
export const DRP_COMMANDS = ["register", "deregister"] as const;
/** One of {@link DRP_COMMANDS}. */
export type DrpCommandName = typeof DRP_COMMANDS[number];

/**
 * A client command after the server's own parsing (trim, split at the first space).
 * The filter is an opaque, non-empty string: the server stores it verbatim.
 */
export const drpClientCommandSchema = z.discriminatedUnion("command", [
  z.object({ command: z.literal("register"), filter: z.string().min(1) }),
  z.object({ command: z.literal("deregister"), filter: z.string().min(1) }),
]);
/** A parsed client command. */
export type DrpClientCommand = z.infer<typeof drpClientCommandSchema>;

/**
 * Go's `unicode.IsSpace` set, which `bytes.TrimSpace` strips. It differs from JS `trim()`
 * (Go also strips U+0085 but keeps U+FEFF), so a faithful trim needs its own class.
 */
const GO_SPACE =
  "\\t\\n\\v\\f\\r \\u0085\\u00a0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000";
const GO_TRIM = new RegExp(`^[${GO_SPACE}]+|[${GO_SPACE}]+$`, "g");

/**
 * Parses one text frame the way the v3 `websocketHandler` does, or returns `undefined` for
 * a frame the server only logs and ignores.
 *
 * PROTOCOLS.md §2.2: `bytes.SplitN(bytes.TrimSpace(buf), " ", 2)`; fewer than two parts ->
 * ignored, no reply; a prefix other than register/deregister -> ignored, no reply. Only
 * the first single space splits, so `register  a.b.c` registers the filter ` a.b.c`.
 */
export function parseClientFrame(text: string): DrpClientCommand | undefined {
  const trimmed = text.replace(GO_TRIM, "");
  const space = trimmed.indexOf(" ");
  if (space < 0) return undefined;
  const parsed = drpClientCommandSchema.safeParse({
    command: trimmed.slice(0, space),
    filter: trimmed.slice(space + 1),
  });
  return parsed.success ? parsed.data : undefined;
}

/**
 * The event object (PROTOCOLS.md §2.3, `models/event.go`): a Go struct without JSON tags,
 * so every key is capitalised and always present; `Object`/`Original` are `null` when unset.
 */
export const drpEventSchema = z.strictObject({
  Time: z.string(),
  Type: z.string(),
  Action: z.string(),
  Key: z.string(),
  Principal: z.string(),
  Object: z.unknown(),
  Original: z.unknown(),
});
/** One DRP event as written to the socket. */
export type DrpEvent = z.infer<typeof drpEventSchema>;

/**
 * Formats a time like Go's `time.Time.MarshalJSON` (RFC 3339 with nanoseconds, UTC here):
 * the fraction has its trailing zeros trimmed and is left out when zero, exactly as Go's
 * `RFC3339Nano` layout does (`…:43.412554192Z`, `…:43.4125Z`, `…:43Z`).
 */
export function formatGoTime(epochMs: number, subMsNanos = 0): string {
  const iso = new Date(epochMs).toISOString(); // 2024-01-01T00:00:00.123Z
  const ms = Math.floor(epochMs) - Math.floor(epochMs / 1000) * 1000;
  const nanos = ms * 1_000_000 + Math.min(999_999, Math.max(0, Math.floor(subMsNanos)));
  const fraction = nanos === 0 ? "" : `.${String(nanos).padStart(9, "0").replace(/0+$/, "")}`;
  return `${iso.slice(0, 19)}${fraction}Z`;
}

/** "Now" in Go's format, with sub-millisecond digits from the monotonic clock. */
export function goNow(): string {
  const sub = (performance.now() % 1) * 1_000_000;
  return formatGoTime(Date.now(), sub);
}

/**
 * `JSON.stringify` with Go's `encoding/json` escaping: `<`, `>`, `&`, U+2028 and U+2029
 * become `\u003c`-style escapes. They can only occur inside string literals, so a global
 * replace on the finished text is safe.
 */
export function goJson(value: unknown): string {
  return JSON.stringify(value).replace(
    /[<>&\u2028\u2029]/g,
    (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`,
  );
}

/** The registration acknowledgement (PROTOCOLS.md §2.3, v3 from Jan 2018 on). */
export function ackEvent(command: DrpClientCommand, time: string = goNow()): DrpEvent {
  // The handler builds `models.Event{Time, Type: "websocket", Action: prefix, Key: msg}`:
  // Principal stays empty and Object/Original nil.
  return {
    Time: time,
    Type: "websocket",
    Action: command.command,
    Key: command.filter,
    Principal: "",
    Object: null,
    Original: null,
  };
}

/** Result of matching one stored filter against an event. */
export type FilterMatch = "match" | "no-match" | "would-panic";

/**
 * Matches one stored filter as v3 `wsFilterFunction` does (PROTOCOLS.md §2.4):
 * `strings.SplitN(filter, ".", 3)` gives type, action and key (the key keeps any further
 * dots); each part matches when it is exactly `*` or exactly (case-sensitively) the event's
 * field. No globbing, no comma lists (those came later and never match on v3).
 *
 * The Go code indexes `arr[1]`/`arr[2]` without a length check, so a short filter panics
 * as soon as the parts before the missing one match. The simulator reports that as
 * `"would-panic"` and treats it as no match instead of crashing.
 */
export function matchFilter(
  filter: string,
  event: Pick<DrpEvent, "Type" | "Action" | "Key">,
): FilterMatch {
  const parts = splitN(filter, ".", 3);
  const fields = [event.Type, event.Action, event.Key];
  for (let i = 0; i < 3; i++) {
    const part = parts[i];
    if (part === undefined) return "would-panic";
    if (part !== "*" && part !== fields[i]) return "no-match";
  }
  return "match";
}

/** Go's `strings.SplitN(s, sep, n)` for n > 0. */
function splitN(s: string, sep: string, n: number): string[] {
  const out: string[] = [];
  let rest = s;
  while (out.length < n - 1) {
    const at = rest.indexOf(sep);
    if (at < 0) break;
    out.push(rest.slice(0, at));
    rest = rest.slice(at + sep.length);
  }
  out.push(rest);
  return out;
}

/** Fields every DRP model carries in `Object` (PROTOCOLS.md §2.5; seed 13.4.4 example). */
function modelBase(meta: Record<string, string>): Record<string, unknown> {
  return { Validated: true, Available: true, Errors: [], ReadOnly: false, Meta: meta };
}

/** What {@link drpMachine} needs; the rest gets realistic defaults. */
export interface DrpMachineInit {
  Uuid: string;
  Name: string;
  Address: string;
  Stage?: string;
  BootEnv?: string;
  Workflow?: string;
  CurrentTask?: number;
  Tasks?: string[];
  Runnable?: boolean;
  Params?: Record<string, unknown>;
  Profiles?: string[];
  HardwareAddrs?: string[];
}

/** A `machines` model object as the server publishes it. */
export function drpMachine(init: DrpMachineInit): Record<string, unknown> {
  return {
    ...modelBase({ color: "black", icon: "server", feature_flags: "change-stage-v2" }),
    Endpoint: "",
    Uuid: init.Uuid,
    Name: init.Name,
    Description: "",
    Address: init.Address,
    HardwareAddrs: init.HardwareAddrs ?? [],
    Stage: init.Stage ?? "discover",
    BootEnv: init.BootEnv ?? "sledgehammer",
    Workflow: init.Workflow ?? "discover-base",
    WorkflowComplete: false,
    Profiles: init.Profiles ?? [],
    Params: init.Params ?? {},
    Tasks: init.Tasks ?? [],
    CurrentTask: init.CurrentTask ?? -1,
    Runnable: init.Runnable ?? true,
    Locked: false,
    Context: "",
    Arch: "amd64",
    OS: "",
    Pool: "default",
    PoolStatus: "Free",
  };
}

/** What {@link drpJob} needs. */
export interface DrpJobInit {
  Uuid: string;
  Machine: string;
  Task: string;
  State?: "created" | "running" | "finished" | "failed" | "incomplete";
  Stage?: string;
  BootEnv?: string;
  Workflow?: string;
  StartTime?: string;
  EndTime?: string;
  Previous?: string;
}

/** A `jobs` model object (key = `Uuid`). */
export function drpJob(init: DrpJobInit): Record<string, unknown> {
  const state = init.State ?? "running";
  return {
    ...modelBase({}),
    Endpoint: "",
    Uuid: init.Uuid,
    Previous: init.Previous ?? "00000000-0000-0000-0000-000000000000",
    Machine: init.Machine,
    Task: init.Task,
    Stage: init.Stage ?? "discover",
    Workflow: init.Workflow ?? "discover-base",
    BootEnv: init.BootEnv ?? "sledgehammer",
    Context: "",
    State: state,
    ExitState: state === "finished" ? "complete" : state === "failed" ? "failed" : "",
    StartTime: init.StartTime ?? goNow(),
    EndTime: init.EndTime ?? "0001-01-01T00:00:00Z",
    Archived: false,
    Current: true,
    CurrentIndex: 0,
    NextIndex: 1,
    ResultErrors: [],
  };
}

/** A `profiles` model object (key = `Name`), shaped like the seed's `global` example. */
export function drpProfile(
  name: string,
  params: Record<string, unknown>,
  description = "",
): Record<string, unknown> {
  const meta = name === "global"
    ? { color: "blue", icon: "world", title: "Digital Rebar Provision" }
    : { color: "blue", icon: "search", title: "User added" };
  return { ...modelBase(meta), Name: name, Description: description, Params: params };
}

/** A `params` model object (key = `Name`). */
export function drpParam(
  name: string,
  schema: Record<string, unknown>,
  description = "",
): Record<string, unknown> {
  return {
    ...modelBase({ color: "blue", icon: "hashtag", title: "User added" }),
    Name: name,
    Description: description,
    Documentation: "",
    Secure: false,
    Schema: schema,
  };
}

/** An event without its `Time` (the publisher stamps it). */
export type DrpEventBody = Omit<DrpEvent, "Time">;

const STAGES = ["discover", "sledgehammer-wait", "centos-8-install", "finish-install", "complete"];
const BOOTENVS: Record<string, string> = {
  "discover": "sledgehammer",
  "sledgehammer-wait": "sledgehammer",
  "centos-8-install": "centos-8-install",
  "finish-install": "local",
  "complete": "local",
};
const TASKS = [
  "gohai",
  "inventory",
  "bios-configure",
  "raid-configure",
  "ssh-access",
  "set-hostname",
];
const PARAMS: [string, Record<string, unknown>][] = [
  ["kernel-console", { type: "string" }],
  ["ntp-servers", { type: "array", items: { type: "string", format: "ipv4" } }],
  ["access-keys", { type: "object" }],
  ["provisioner-default-password-hash", { type: "string" }],
];

/** A random v4 UUID drawn from `random` (so seeded demo runs repeat). */
export function randomUuid(random: () => number): string {
  const hex = Array.from({ length: 32 }, () => Math.floor(random() * 16).toString(16));
  hex[12] = "4";
  hex[16] = (8 + Math.floor(random() * 4)).toString(16);
  const h = hex.join("");
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

/**
 * A small, consistent fake installation for demo mode: machines that walk through a
 * workflow, jobs that start and finish on them, the `global` profile being edited and
 * params coming and going, each event with the Principal DRP would record
 * (`runner:<machine uuid>` for agent writes, `user:<name>` for API users; §2.3).
 */
export class DrpRandomFleet {
  readonly #machines = new Map<string, Record<string, unknown>>();
  readonly #jobs = new Map<string, Record<string, unknown>>();
  readonly #params = new Set<string>();
  #global: Record<string, unknown> = drpProfile("global", {
    "kernel-console": "console=ttyS1,115200",
  });
  #serial = 0;

  /** The next event; `user` is the Principal of API-user writes (`user:<name>`). */
  next(random: () => number, user: string): DrpEventBody {
    if (this.#machines.size < 3) return this.#newMachine(random, user);
    const roll = random();
    if (roll < 0.3) return this.#advanceMachine(random, user);
    if (roll < 0.5) return this.#startJob(random);
    if (roll < 0.7) return this.#jobs.size ? this.#finishJob(random) : this.#startJob(random);
    if (roll < 0.8) return this.#saveGlobal(random, user);
    if (roll < 0.88) return this.#toggleParam(random, user);
    if (roll < 0.94 || this.#machines.size > 8) return this.#deleteMachine(random, user);
    return this.#newMachine(random, user);
  }

  #newMachine(random: () => number, user: string): DrpEventBody {
    const n = ++this.#serial;
    const mac = Array.from(
      { length: 6 },
      (_, i) => i === 0 ? "52" : Math.floor(random() * 256).toString(16).padStart(2, "0"),
    );
    const uuid = randomUuid(random);
    const machine = drpMachine({
      Uuid: uuid,
      Name: random() < 0.5
        ? `d${mac.join("-")}`
        : `rack${1 + (n % 4)}-node${String(n).padStart(2, "0")}`,
      Address: `10.0.${1 + Math.floor(random() * 4)}.${10 + Math.floor(random() * 240)}`,
      HardwareAddrs: [mac.join(":")],
      Tasks: [...TASKS.slice(0, 3)],
      Profiles: random() < 0.5 ? ["rack-defaults"] : [],
    });
    this.#machines.set(uuid, machine);
    return model("machines", "create", uuid, user, machine, null);
  }

  #advanceMachine(random: () => number, user: string): DrpEventBody {
    const [uuid, before] = pickEntry(random, this.#machines);
    const after = structuredClone(before);
    const stage = STAGES[Math.min(STAGES.indexOf(String(before.Stage)) + 1, STAGES.length - 1)];
    if (random() < 0.5 && stage !== undefined) {
      // A user (or the workflow engine on their behalf) moves the machine on: PUT -> save.
      Object.assign(after, { Stage: stage, BootEnv: BOOTENVS[stage] ?? "local", CurrentTask: -1 });
      after.WorkflowComplete = stage === "complete";
      this.#machines.set(uuid, after);
      return model("machines", "save", uuid, user, after, before);
    }
    // The runner on the machine reports task progress: PATCH -> update.
    const tasks = after.Tasks as string[];
    after.CurrentTask = Math.min(Number(after.CurrentTask) + 1, tasks.length - 1);
    after.Runnable = random() < 0.9;
    this.#machines.set(uuid, after);
    return model("machines", "update", uuid, `runner:${uuid}`, after, before);
  }

  #startJob(random: () => number): DrpEventBody {
    const [machineUuid, machine] = pickEntry(random, this.#machines);
    const uuid = randomUuid(random);
    const job = drpJob({
      Uuid: uuid,
      Machine: machineUuid,
      Task: TASKS[Math.floor(random() * TASKS.length)] ?? "gohai",
      Stage: String(machine.Stage),
      BootEnv: String(machine.BootEnv),
      Workflow: String(machine.Workflow),
    });
    this.#jobs.set(uuid, job);
    return model("jobs", "create", uuid, `runner:${machineUuid}`, job, null);
  }

  #finishJob(random: () => number): DrpEventBody {
    const [uuid, before] = pickEntry(random, this.#jobs);
    const failed = random() < 0.15;
    const after = {
      ...structuredClone(before),
      State: failed ? "failed" : "finished",
      ExitState: failed ? "failed" : "complete",
      EndTime: goNow(),
      ResultErrors: failed ? ["Command exited with status 1"] : [],
    };
    this.#jobs.delete(uuid);
    return model("jobs", "update", uuid, `runner:${String(before.Machine)}`, after, before);
  }

  #saveGlobal(random: () => number, user: string): DrpEventBody {
    const before = this.#global;
    const params = { ...(before.Params as Record<string, unknown>) };
    if ("bar" in params) delete params.bar;
    else params.bar = pick(random, ["blatz", "baz", "qux"]);
    this.#global = { ...structuredClone(before), Params: params };
    return model("profiles", "save", "global", user, this.#global, before);
  }

  #toggleParam(random: () => number, user: string): DrpEventBody {
    const [name, schema] = pick(random, PARAMS);
    const param = drpParam(name, schema);
    const existed = this.#params.delete(name);
    if (!existed) this.#params.add(name);
    return model("params", existed ? "delete" : "create", name, user, param, null);
  }

  #deleteMachine(random: () => number, user: string): DrpEventBody {
    const [uuid, machine] = pickEntry(random, this.#machines);
    this.#machines.delete(uuid);
    for (const [id, job] of this.#jobs) if (job.Machine === uuid) this.#jobs.delete(id);
    return model("machines", "delete", uuid, user, machine, null);
  }
}

function model(
  type: string,
  action: string,
  key: string,
  principal: string,
  object: unknown,
  original: unknown,
): DrpEventBody {
  return {
    Type: type,
    Action: action,
    Key: key,
    Principal: principal,
    Object: object,
    Original: original,
  };
}

function pickEntry<V>(random: () => number, map: Map<string, V>): [string, V] {
  return pick(random, [...map.entries()]);
}
