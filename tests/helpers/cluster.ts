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
  node: TestRelay,
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
  nodes: readonly TestRelay[],
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
