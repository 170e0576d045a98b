/**
 * The real entry point under SIGTERM: subscriptions are completed, sockets closed with
 * 1001, and the process exits 0.
 */
import { assertEquals } from "@std/assert";
import { createDrpSimulator } from "../src/simulators/drp/simulator.ts";
import { waitForLogged } from "./helpers/child_output.ts";

Deno.test("SIGTERM completes subscriptions, closes sockets with 1001 and exits 0", async () => {
  if (Deno.build.os === "windows") return;
  await using sim = createDrpSimulator();
  await sim.start();
  const config = {
    server: { port: 0, hostname: "127.0.0.1" },
    sources: [sim.sourceConfig("lab")],
  };
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "--allow-net", "--allow-env", "--allow-read", "src/main.ts"],
    cwd: new URL("..", import.meta.url).pathname,
    env: { RELAY_CONFIG_JSON: JSON.stringify(config), NO_COLOR: "1" },
    stdout: "piped",
    stderr: "null",
  }).spawn();
  try {
    const url = await waitForLogged(child.stdout, /"ws":"(ws:\/\/[^"]+)"/, 15_000);
    const ws = new WebSocket(url, "graphql-transport-ws");
    const frames: string[] = [];
    const closed = new Promise<number>((resolve) => ws.onclose = (e) => resolve(e.code));
    const subscribed = Promise.withResolvers<void>();
    ws.onopen = () => ws.send(JSON.stringify({ type: "connection_init" }));
    ws.onmessage = (e) => {
      const data = String(e.data);
      frames.push(data);
      if (data.includes("connection_ack")) {
        ws.send(JSON.stringify({
          id: "s1",
          type: "subscribe",
          payload: { query: "subscription { drpEvents { id key } }" },
        }));
      }
      if (data.includes('"type":"next"')) subscribed.resolve();
    };
    // An event proves the subscription is live before the signal.
    const emit = setInterval(() => sim.emit({ Type: "machines", Action: "create", Key: "k" }), 20);
    await subscribed.promise;
    clearInterval(emit);
    child.kill("SIGTERM");
    assertEquals(await closed, 1001);
    assertEquals(JSON.parse(frames.at(-1)!), { id: "s1", type: "complete" });
    assertEquals((await child.status).code, 0);
  } finally {
    try {
      child.kill("SIGKILL");
    } catch {
      // already exited
    }
    await child.status;
  }
});
