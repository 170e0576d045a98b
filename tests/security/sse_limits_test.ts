/**
 * Attacks on the SSE transport that must fail: one key opening SSE subscriptions without
 * bound (before: 700 opened with one key, each registered upstream), using SSE to get past
 * the per-key subscription rate limit, and spreading over both transports to double it.
 */
import { assert, assertEquals } from "@std/assert";
import { connectClient } from "../helpers/gql_client.ts";
import { openSse, type SseStream } from "../helpers/sse_client.ts";
import { startRelay, waitFor } from "../helpers/relay.ts";
import { createDrpSimulator } from "../../src/simulators/drp/simulator.ts";

const KEY = "sse-attacker-key-0123456789";

async function sha256Hex(text: string): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(text));
  return [...new Uint8Array(digest)].map((b) => b.toString(16).padStart(2, "0")).join("");
}

async function relayWith(limits: Record<string, number>) {
  const sim = createDrpSimulator();
  await sim.start();
  const relay = await startRelay([sim.sourceConfig("lab")], {
    logLevel: "error",
    config: {
      server: { limits },
      auth: { apiKeys: [{ id: "attacker", sha256: await sha256Hex(KEY), sources: ["*"] }] },
    },
  });
  return {
    sim,
    relay,
    [Symbol.asyncDispose]: async () => {
      await relay.close();
      await sim.stop();
    },
  };
}

const auth = { authorization: `Bearer ${KEY}` };
const distinct = (i: number) => `subscription { drpEvents(key: "k-${i}") { id } }`;

Deno.test("SSE: one key cannot hold more streams than a socket may hold subscriptions", async () => {
  await using env = await relayWith({ maxSubscriptionsPerSocket: 5, subscriptionsPerMinute: 1000 });
  const open: SseStream[] = [];
  try {
    const answers = [];
    for (let i = 0; i < 40; i++) {
      const s = await openSse(env.relay.httpUrl, distinct(i), {}, auth);
      answers.push(s.status);
      if (s.status === 200) open.push(s);
    }
    assertEquals(answers.filter((s) => s === 200).length, 5);
    assertEquals(answers.filter((s) => s === 429).length, 35);
    assertEquals(env.relay.app.sse.stats.capped, 35);
    // Upstream registrations are bounded by the cap, not by the attempts.
    await waitFor(() => env.sim.sessions()[0]?.filters.length === 5, "5 registrations");
    const refused = await openSse(env.relay.httpUrl, distinct(99), {}, auth);
    assert(refused.text?.includes("LIMIT_EXCEEDED"), refused.text);
    // Closing a stream frees its slot.
    await open.pop()!.close();
    await waitFor(() => env.relay.app.sse.streams("attacker") === 4, "slot freed");
    const again = await openSse(env.relay.httpUrl, distinct(100), {}, auth);
    assertEquals(again.status, 200);
    open.push(again);
  } finally {
    for (const s of open) await s.close();
  }
});

Deno.test("SSE: the per-key subscription rate limit holds, shared with graphql-ws", async () => {
  await using env = await relayWith({
    maxSubscriptionsPerSocket: 100,
    subscriptionsPerMinute: 6,
    subscriptionBurst: 6,
  });
  await using ws = connectClient(env.relay.wsUrl, { connectionParams: { apiKey: KEY } });
  const viaWs = [0, 1, 2].map((i) => ws.subscribe(distinct(i)));
  await waitFor(() => env.sim.sessions()[0]?.filters.length === 3, "3 ws registrations");
  const streams: SseStream[] = [];
  try {
    const statuses = [];
    for (let i = 3; i < 10; i++) {
      const s = await openSse(env.relay.httpUrl, distinct(i), {}, auth);
      statuses.push(s.status);
      if (s.status === 200) streams.push(s);
      else assert(s.text?.includes("RATE_LIMITED"), s.text);
    }
    // 6 a minute for the key, whatever the transport: 3 over ws leave 3 for SSE.
    assertEquals(statuses, [200, 200, 200, 429, 429, 429, 429]);
    assertEquals(env.relay.app.sse.stats.rateLimited, 4);
    const overWs = ws.subscribe(distinct(50));
    await overWs.waitForEnd();
    assertEquals(overWs.errorCodes, ["RATE_LIMITED"]);
  } finally {
    for (const s of streams) await s.close();
    for (const c of viaWs) c.stop();
  }
});

Deno.test("SSE: without a key nothing streams", async () => {
  await using env = await relayWith({});
  const s = await openSse(env.relay.httpUrl, distinct(1));
  assertEquals(s.status, 401);
  assertEquals(env.relay.app.sse.stats.open, 0);
});
