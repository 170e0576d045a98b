/**
 * `relay_cluster_holder{source}` on a two-node cluster (real redis-server): 1 on the node
 * holding the source's lease, 0 on the other; a single node has no such family (see
 * metrics_test.ts).
 */
import { assertEquals } from "@std/assert";
import { createDrpSimulator } from "../../src/simulators/drp/simulator.ts";
import { startNode, waitForHolder } from "../helpers/cluster.ts";
import { parsePrometheusText, sampleValue } from "../helpers/prometheus.ts";
import { redisAvailable, startRedis } from "../helpers/redis_server.ts";

const ready = redisAvailable("tests/operators/cluster_metrics_test.ts");

Deno.test({
  name: "cluster: relay_cluster_holder is 1 on the holder only",
  ignore: !ready,
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async () => {
    await using redis = await startRedis();
    await using sim = createDrpSimulator();
    await sim.start();
    const src = () => ({ ...sim.sourceConfig("lab"), reconnect: { baseMs: 20, maxMs: 200 } });
    const a = await startNode(redis, "node-a", [src()]);
    const b = await startNode(redis, "node-b", [src()]);
    try {
      const holder = await waitForHolder([a, b], "lab");
      for (const [id, node] of [["node-a", a], ["node-b", b]] as const) {
        const res = await fetch(`${node.origin}/metrics`);
        const families = parsePrometheusText(await res.text());
        assertEquals(families.get("relay_cluster_holder")?.type, "gauge");
        assertEquals(
          sampleValue(families, "relay_cluster_holder", { source: "lab" }),
          id === holder ? 1 : 0,
          id,
        );
      }
    } finally {
      await b.close();
      await a.close();
    }
  },
});
