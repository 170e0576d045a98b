/**
 * The relay's config: one JSON document validated with zod. Any string may instead be
 * `{ "env": "NAME" }`, read from the environment, so secrets need not sit in the file.
 * Looked up from `--config PATH`, then `RELAY_CONFIG` (a path), then `RELAY_CONFIG_JSON`
 * (inline); with none of them the relay runs in demo mode.
 *
 * @module
 */
import { z } from "zod";
import { type ClusterConfig, clusterSchema, redisUrlSecrets } from "./cluster/config.ts";
import { LOG_LEVELS } from "./platform/log.ts";
import { type AuthConfig, authSchema } from "./server/auth.ts";
import { VENDOR_MODULES } from "./upstreams/mod.ts";
import { STATUS_DATA_PATH } from "./server/status_page.ts";
import type { SourceConfigBase } from "./upstreams/vendor_module.ts";

/** Limits on what one client may ask for; each violation is a clear error. */
export const limitsSchema = z.object({
  /** A socket that sends no `connection_init` within this is closed (4408). */
  connectionInitTimeoutMs: z.number().int().min(100).max(120_000).default(3_000),
  /** Active subscriptions per socket. */
  maxSubscriptionsPerSocket: z.number().int().min(1).max(100_000).default(100),
  /** Largest inbound WebSocket message or HTTP request body, in bytes. */
  maxMessageBytes: z.number().int().min(1024).max(16 * 1024 * 1024).default(64 * 1024),
  /** Deepest field nesting an operation may have. */
  maxDepth: z.number().int().min(1).max(100).default(12),
  /** Most aliased fields in one operation (a fragment's count once per spread). */
  maxAliases: z.number().int().min(0).max(10_000).default(30),
  /**
   * Most field selections an operation may expand to, a fragment counted once per spread
   * (the standard introspection query is 230; a subscription rarely passes 50).
   */
  maxFields: z.number().int().min(1).max(100_000).default(1_000),
  /**
   * Most lexical tokens in a document (graphql-js `maxTokens`, checked while parsing); the
   * standard introspection query has under 200.
   */
  maxTokens: z.number().int().min(100).max(20_000).default(2_000),
  /**
   * New subscriptions per minute: the refill rate of each keyed scope's bucket, and of each
   * anonymous connection's (whose bucket holds `maxSubscriptionsPerSocket`).
   */
  subscriptionsPerMinute: z.number().int().min(1).max(1_000_000).default(600),
  /**
   * Base bucket size per keyed scope. The relay adds the most subscriptions the scope held
   * at once in the last 10 minutes, so a reconnect of all its sockets is admitted at once;
   * this base is what a scope gets after a relay restart, when nothing is remembered.
   */
  subscriptionBurst: z.number().int().min(1).max(1_000_000).default(1_000),
  /** New anonymous subscriptions per remote address per minute (refill rate). */
  addressSubscriptionsPerMinute: z.number().int().min(1).max(10_000_000).default(6_000),
  /**
   * Anonymous bucket size per remote address: generous, since many clients can share an
   * address (NAT, a proxy) and all of them come back at once after a restart.
   */
  addressSubscriptionBurst: z.number().int().min(1).max(10_000_000).default(10_000),
  /**
   * WebSockets one address may hold open before `connection_init` (429 past it). Deno reads
   * a whole frame (up to 64 MiB) before the relay can refuse it by size, so this bounds what
   * one address can make the relay buffer before authentication.
   */
  maxPendingSocketsPerAddress: z.number().int().min(1).max(1_000_000).default(4_096),
}).strict();

/** The Prometheus endpoint. */
export const metricsSchema = z.object({
  /** Serve metrics (on by default: scraping is how operators watch the relay). */
  enabled: z.boolean().default(true),
  path: z.string().regex(/^\/[A-Za-z0-9_\-/.]*$/, "Must start with /").default("/metrics"),
  /**
   * Scrapers must send `Authorization: Bearer <token>`. Without a token the endpoint is open,
   * or, when `auth` is configured, served to loopback clients only.
   */
  token: z.string().min(16, "Use at least 16 characters").optional(),
}).strict();

/** The HTTP/WebSocket listener. */
export const serverSchema = z.object({
  port: z.number().int().min(0).max(65535).default(8080),
  hostname: z.string().min(1).default("0.0.0.0"),
  /** Path of the GraphQL endpoint (HTTP and WebSocket). */
  graphqlPath: z.string().regex(/^\/[A-Za-z0-9_\-/]*$/, "Must start with /").default("/graphql"),
  /** Serve GraphiQL on GET of the GraphQL path (on in demo mode). */
  graphiql: z.boolean().default(false),
  /** Answer introspection queries (on in demo mode). */
  introspection: z.boolean().default(false),
  /**
   * Browser origins allowed to open WebSockets and make CORS requests, e.g.
   * `https://ops.example.com`; `"*"` allows any. `publicOrigin` and clients that send no
   * Origin (non-browser) are always allowed.
   */
  allowedOrigins: z.array(z.string().min(1)).default([]),
  /**
   * The origin clients reach the relay at (e.g. `https://relay.example.com`): pages from it
   * (GraphiQL) are same-origin. Without it, only a loopback origin naming the request's own
   * host (`http://localhost:8080`) is; the request's `Host` alone never decides.
   */
  publicOrigin: z.string().url().transform((u) => new URL(u).origin).optional(),
  /** Bytes a client socket may have unsent before it is closed as too slow (1013). */
  maxBufferedBytes: z.number().int().min(1024).default(4 * 1024 * 1024),
  /**
   * Messages a client socket may have unsent before it is closed as too slow (1013). Keep it
   * above the largest `history`, since an `after:` replay is sent in one burst.
   */
  maxQueuedMessages: z.number().int().min(1).default(10_000),
  limits: limitsSchema.prefault({}),
  metrics: metricsSchema.prefault({}),
  /** Serve the live status page at `/` (on in demo mode); it asks for an API key under auth. */
  statusPage: z.boolean().default(false),
}).strict().superRefine((server, ctx) => {
  const taken = ["/", "/healthz", "/readyz", STATUS_DATA_PATH, server.graphqlPath];
  if (server.metrics.enabled && taken.includes(server.metrics.path)) {
    ctx.addIssue({
      code: "custom",
      path: ["metrics", "path"],
      message: `${server.metrics.path} is already served by the relay`,
    });
  }
});

const topSchema = z.object({
  server: serverSchema.prefault({}),
  /** Client authentication; without it the relay is open (and says so at start-up). */
  auth: authSchema.optional(),
  logLevel: z.enum(LOG_LEVELS).default("info"),
  /** Cluster mode (several nodes on one Redis); without it everything stays in-process. */
  cluster: clusterSchema.optional(),
  sources: z.array(z.unknown()).default([]),
}).strict();

/** A validated config. */
export interface Config {
  server: z.infer<typeof serverSchema>;
  auth: AuthConfig | undefined;
  logLevel: z.infer<typeof topSchema>["logLevel"];
  cluster: ClusterConfig | undefined;
  sources: SourceConfigBase[];
}

/** A config that failed validation: one line per bad field, each naming its path. */
export class ConfigError extends Error {
  readonly problems: string[];

  constructor(problems: string[]) {
    super(`Invalid config:\n${problems.map((p) => `  ${p}`).join("\n")}`);
    this.name = "ConfigError";
    this.problems = problems;
  }
}

/** A parsed config and every secret value it holds (for redaction). */
export interface ParsedConfig {
  config: Config;
  secrets: string[];
}

type Path = (string | number)[];

function formatPath(path: readonly PropertyKey[]): string {
  let out = "";
  for (const p of path) {
    out += typeof p === "number" ? `[${p}]` : `${out ? "." : ""}${String(p)}`;
  }
  return out || "(root)";
}

function isEnvRef(v: unknown): v is { env: string } {
  return typeof v === "object" && v !== null && !Array.isArray(v) &&
    Object.keys(v).length === 1 && typeof (v as { env?: unknown }).env === "string";
}

/** Replaces `{ "env": NAME }` with the variable's value, collecting problems and values. */
function resolveEnv(
  value: unknown,
  env: (name: string) => string | undefined,
  path: Path,
  problems: string[],
  secrets: string[],
): unknown {
  if (isEnvRef(value)) {
    const resolved = env(value.env);
    if (resolved === undefined) {
      problems.push(`${formatPath(path)}: environment variable ${value.env} is not set`);
      return undefined;
    }
    secrets.push(resolved);
    return resolved;
  }
  if (Array.isArray(value)) {
    return value.map((v, i) => resolveEnv(v, env, [...path, i], problems, secrets));
  }
  if (typeof value === "object" && value !== null) {
    return Object.fromEntries(
      Object.entries(value).map((
        [k, v],
      ) => [k, resolveEnv(v, env, [...path, k], problems, secrets)]),
    );
  }
  return value;
}

const SECRET_KEY = /token|password|secret|credential|apikey|api_key|cookie|^sid$/i;

/** Collects string values held under secret-looking keys. */
function collectSecrets(value: unknown, out: string[], underSecret = false): void {
  if (typeof value === "string") {
    if (underSecret) out.push(value);
  } else if (Array.isArray(value)) {
    for (const v of value) collectSecrets(v, out, underSecret);
  } else if (typeof value === "object" && value !== null) {
    for (const [k, v] of Object.entries(value)) {
      collectSecrets(v, out, underSecret || (SECRET_KEY.test(k) && !/url$/i.test(k)));
    }
  }
}

function sourcesOf(doc: unknown): unknown[] {
  const sources = (doc as { sources?: unknown } | null)?.sources;
  return Array.isArray(sources) ? sources : [];
}

/** A known key close enough to `key` to be what was meant (one or two edits away). */
function closestKey(key: string, known: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestDistance = 3;
  for (const k of known) {
    const d = editDistance(key.toLowerCase(), k.toLowerCase());
    if (d < bestDistance) [best, bestDistance] = [k, d];
  }
  return best;
}

/** Levenshtein distance with adjacent transpositions counted as one edit. */
function editDistance(a: string, b: string): number {
  const d: number[][] = Array.from({ length: a.length + 1 }, (_, i) => [i]);
  for (let j = 1; j <= b.length; j++) d[0]![j] = j;
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let v = Math.min(d[i - 1]![j]! + 1, d[i]![j - 1]! + 1, d[i - 1]![j - 1]! + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) {
        v = Math.min(v, d[i - 2]![j - 2]! + 1);
      }
      d[i]![j] = v;
    }
  }
  return d[a.length]![b.length]!;
}

/** The keys an object schema at `path` accepts, for suggestions; empty when unknown. */
function knownKeysAt(schema: z.ZodType, path: readonly PropertyKey[]): string[] {
  let node: unknown = schema;
  for (const p of path) {
    const shape = (node as { shape?: Record<string, unknown> } | undefined)?.shape;
    node = unwrap(shape?.[String(p)]);
    if (node === undefined) return [];
  }
  const shape = (node as { shape?: Record<string, unknown> } | undefined)?.shape;
  return shape ? Object.keys(shape) : [];
}

/** Looks through defaults and optionals to the object schema inside. */
function unwrap(schema: unknown): unknown {
  let node = schema as { unwrap?: () => unknown; def?: { innerType?: unknown } } | undefined;
  for (let i = 0; i < 5 && node; i++) {
    const inner = node.def?.innerType ??
      (typeof node.unwrap === "function" ? node.unwrap() : undefined);
    if (!inner) break;
    node = inner as typeof node;
  }
  return node;
}

function issuesToLines(error: z.ZodError, prefix: Path, schema?: z.ZodType): string[] {
  return error.issues.flatMap((i) => {
    if (i.code !== "unrecognized_keys") {
      return [`${formatPath([...prefix, ...i.path])}: ${i.message}`];
    }
    // One line per key, each naming its own path: a typo like "histroy" would otherwise
    // be accepted silently and change nothing.
    const known = schema ? knownKeysAt(schema, i.path) : [];
    return i.keys.map((key) => {
      const hint = closestKey(key, known);
      return `${formatPath([...prefix, ...i.path, key])}: unknown key` +
        (hint ? ` (did you mean "${hint}"?)` : "");
    });
  });
}

/**
 * Validates a config document. Throws {@link ConfigError} listing every bad field.
 *
 * @param input the parsed JSON document
 * @param env environment lookup for `{ "env": NAME }` references
 */
export function parseConfig(
  input: unknown,
  env: (name: string) => string | undefined,
): ParsedConfig {
  const problems: string[] = [];
  const secrets: string[] = [];
  const resolved = resolveEnv(input, env, [], problems, secrets);
  // A field whose variable is missing is reported once, not again as missing or invalid.
  const unset = new Set(problems.map((p) => p.slice(0, p.indexOf(": "))));
  const report = (lines: string[]) =>
    problems.push(...lines.filter((l) => !unset.has(l.slice(0, l.indexOf(": ")))));
  const top = topSchema.safeParse(resolved);
  if (!top.success) report(issuesToLines(top.error, [], topSchema));
  const sources: SourceConfigBase[] = [];
  const names = new Map<string, number>();
  // Sources are checked even when the top level is bad, so every bad field is named at once.
  const rawSources = top.success ? top.data.sources : sourcesOf(resolved);
  rawSources.forEach((raw, i) => {
    const kind = (raw as { kind?: unknown } | null)?.kind;
    const mod = VENDOR_MODULES.find((m) => m.kind === kind);
    if (!mod) {
      const kinds = VENDOR_MODULES.map((m) => `"${m.kind}"`).join(", ");
      problems.push(`sources[${i}].kind: expected one of ${kinds}, got ${JSON.stringify(kind)}`);
      return;
    }
    const parsed = mod.configSchema.safeParse(raw);
    if (!parsed.success) {
      report(issuesToLines(parsed.error, ["sources", i], mod.configSchema));
      return;
    }
    const previous = names.get(parsed.data.name);
    if (previous !== undefined) {
      problems.push(
        `sources[${i}].name: "${parsed.data.name}" is already used by sources[${previous}]`,
      );
      return;
    }
    names.set(parsed.data.name, i);
    sources.push(parsed.data);
  });
  if (problems.length > 0 || !top.success) throw new ConfigError(problems);
  collectSecrets(resolved, secrets);
  if (top.data.cluster) secrets.push(...redisUrlSecrets(top.data.cluster.redis));
  return {
    config: {
      server: top.data.server,
      auth: top.data.auth,
      logLevel: top.data.logLevel,
      cluster: top.data.cluster,
      sources,
    },
    secrets: [...new Set(secrets)],
  };
}

/** Where the config came from. */
export type ConfigSource =
  | { kind: "file"; path: string; text: string }
  | { kind: "inline"; text: string }
  | { kind: "demo" };

/** Finds the config document: `--config PATH`, `RELAY_CONFIG`, `RELAY_CONFIG_JSON`, else demo. */
export function locateConfig(
  args: readonly string[],
  env: (name: string) => string | undefined,
  readTextFile: (path: string) => string,
): ConfigSource {
  let path: string | undefined;
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!;
    if (arg === "--config") path = args[i + 1];
    else if (arg.startsWith("--config=")) path = arg.slice("--config=".length);
  }
  if (args.includes("--config") && !path) throw new ConfigError(["--config: needs a path"]);
  path ??= env("RELAY_CONFIG") || undefined;
  if (path) {
    try {
      return { kind: "file", path, text: readTextFile(path) };
    } catch (err) {
      throw new ConfigError([`config file ${path}: ${(err as Error).message}`]);
    }
  }
  const inline = env("RELAY_CONFIG_JSON");
  if (inline) return { kind: "inline", text: inline };
  return { kind: "demo" };
}

/** Parses a located config's JSON text; a syntax error is reported like a bad field. */
export function parseConfigText(
  text: string,
  env: (name: string) => string | undefined,
): ParsedConfig {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    throw new ConfigError([`(root): not valid JSON (${(err as Error).message})`]);
  }
  return parseConfig(json, env);
}
