/**
 * Cluster-mode test nodes: relay app instances sharing one test Redis, against simulators.
 *
 * @module
 */
import type { TestRedis } from "./redis_server.ts";
import { httpQuery, startRelay, type TestRelay, waitFor } from "./relay.ts";

/** Options of {@link startNode}. */
export interface NodeOptions {
  role?: "both" | "ingest" | "edge";
  leaseMs?: number;
  keyPrefix?: string;
  outageBufferEvents?: number;
}

/** Starts one relay node of a cluster on `redis`. */
export function startNode(
  redis: TestRedis,
  nodeId: string,
  sources: Record<string, unknown>[],
  options: NodeOptions = {},
): Promise<TestRelay> {
  return startRelay(sources, {
    logLevel: "warn",
    config: {
      cluster: {
        redis: redis.url,
        nodeId,
        role: options.role ?? "both",
        leaseMs: options.leaseMs ?? 1500,
        keyPrefix: options.keyPrefix ?? "test",
        ...(options.outageBufferEvents !== undefined
          ? { outageBufferEvents: options.outageBufferEvents }
          : {}),
      },
    },
  });
}

const HOLDER_QUERY = `query($name: String!) { source(name: $name) { holder state } }`;

/** `Source.holder` and `state` of `source` as `node` reports them. */
export async function holderOn(
  node: { httpUrl: string },
  source: string,
): Promise<{ holder: string | null; state: string }> {
  const res = await httpQuery<{ source: { holder: string | null; state: string } }>(
    node.httpUrl,
    HOLDER_QUERY,
    { name: source },
  );
  if (!res.data?.source) throw new Error(`source(${source}): ${JSON.stringify(res.errors)}`);
  return res.data.source;
}

/** Waits until every node reports one holder of `source` whose upstream is READY. */
export async function waitForHolder(
  nodes: readonly { httpUrl: string }[],
  source: string,
  timeoutMs = 10_000,
): Promise<string> {
  return await waitFor(
    async () => {
      const seen = await Promise.all(nodes.map((n) => holderOn(n, source)));
      const first = seen[0]?.holder;
      return first && seen.every((s) => s.holder === first && s.state === "READY")
        ? first
        : undefined;
    },
    `one READY holder of ${source} on every node`,
    timeoutMs,
  );
}

/** A relay node running `src/main.ts` in its own process (to SIGKILL or SIGSTOP it). */
export interface NodeProcess extends AsyncDisposable {
  child: Deno.ChildProcess;
  /** http://127.0.0.1:port/graphql */
  httpUrl: string;
  /** ws://127.0.0.1:port/graphql */
  wsUrl: string;
  kill(signal?: Deno.Signal): void;
}

/**
 * Spawns a relay node process with `config` inline (its `logLevel` must let the "listening"
 * line through: info or debug); resolves once it listens.
 */
export async function spawnNode(config: Record<string, unknown>): Promise<NodeProcess> {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "--allow-net", "--allow-env", "--allow-read", "src/main.ts"],
    cwd: new URL("../..", import.meta.url).pathname,
    env: { RELAY_CONFIG_JSON: JSON.stringify(config), NO_COLOR: "1" },
    stdout: "piped",
    stderr: "null",
  }).spawn();
  const reader = child.stdout.getReader();
  const decoder = new TextDecoder();
  let text = "";
  let url: string | undefined;
  const deadline = Date.now() + 20_000;
  while (!url && Date.now() < deadline) {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const next = await Promise.race([
      reader.read(),
      new Promise<{ done: true; value: undefined }>((r) => {
        timer = setTimeout(() => r({ done: true, value: undefined }), deadline - Date.now());
      }),
    ]).finally(() => clearTimeout(timer));
    const { value, done } = next;
    if (done) break;
    text += decoder.decode(value, { stream: true });
    url = /"url":"(http:\/\/[^"]+)"/.exec(text)?.[1];
  }
  // Keep draining so the child never blocks on a full pipe.
  (async () => {
    while (!(await reader.read()).done) { /* discard */ }
  })().catch(() => {});
  const kill = (signal: Deno.Signal = "SIGKILL") => {
    try {
      child.kill(signal);
    } catch {
      // already exited
    }
  };
  if (!url) {
    kill();
    await child.status;
    throw new Error(`relay process did not report its URL: ${text.slice(0, 500)}`);
  }
  return {
    child,
    httpUrl: url,
    wsUrl: url.replace(/^http/, "ws"),
    kill,
    async [Symbol.asyncDispose]() {
      kill("SIGCONT");
      kill("SIGKILL");
      await child.status;
    },
  };
}
