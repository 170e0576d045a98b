/**
 * Subscriptions over server-sent events end to end: `id:` is the event's cursor, identical
 * subscriptions share one stream, `Last-Event-ID` resumes exactly like `after:`, queries over
 * SSE still work, and shutdown ends streams without `complete` so browsers reconnect.
 */
import { assert, assertEquals } from "@std/assert";
import { createDrpSimulator } from "../src/simulators/drp/simulator.ts";
import { openSse } from "./helpers/sse_client.ts";
import { sourceStatus, startRelay, waitFor } from "./helpers/relay.ts";

const SUB = `subscription { drpEvents(type: "machines") { type key } }`;
type Row = { drpEvents: { type: string; key: string } };

async function setup() {
  const sim = createDrpSimulator();
  await sim.start();
  const relay = await startRelay([{ ...sim.sourceConfig("lab"), standing: ["*.*.*"] }], {
    logLevel: "warn",
  });
  await waitFor(() => sim.sessions().some((s) => s.filters.includes("*.*.*")), "standing");
  return {
    sim,
    relay,
    emit: (key: string) => sim.emit({ Type: "machines", Action: "update", Key: key }),
    [Symbol.asyncDispose]: async () => {
      await relay.close();
      await sim.stop();
    },
  };
}

Deno.test("SSE: each event goes out with id: set to its cursor, even when id is not selected", async () => {
  await using env = await setup();
  await using stream = await openSse(env.relay.httpUrl, SUB);
  assertEquals(stream.status, 200);
  assertEquals(stream.headers.get("content-type"), "text/event-stream; charset=utf-8");
  await waitFor(() => env.relay.app.sse.stats.open === 1, "stream open");
  await waitFor(() => env.relay.app.ws.shared.groupCount === 1, "stream joined");
  env.emit("m-1");
  env.emit("m-2");
  await stream.waitForCount(2);
  const [a, b] = stream.frames;
  assertEquals(stream.results.map((r) => (r.data as Row).drpEvents.key), ["m-1", "m-2"]);
  assert(/^lab:[^:]+:\d+$/.test(a!.id!), a!.id);
  const offset = (id: string) => Number(id.split(":")[2]);
  assertEquals(offset(b!.id!), offset(a!.id!) + 1);
});

Deno.test("SSE: identical subscriptions share one stream and one hub subscription", async () => {
  await using env = await setup();
  const streams = await Promise.all(
    Array.from({ length: 20 }, () => openSse(env.relay.httpUrl, SUB)),
  );
  try {
    await waitFor(() => env.relay.app.ws.shared.memberCount === 20, "20 members");
    assertEquals(env.relay.app.ws.shared.groupCount, 1);
    // The standing interest is not a subscriber: the 20 streams are one hub subscription.
    assertEquals((await sourceStatus(env.relay.httpUrl, "lab")).subscribers, 1);
    env.emit("shared");
    for (const s of streams) await s.waitForCount(1);
    // One execution, one serialisation: every member got the very same frame.
    assertEquals(new Set(streams.map((s) => s.frames[0]!.data)).size, 1);
  } finally {
    for (const s of streams) await s.close();
  }
  await waitFor(() => env.relay.app.ws.shared.groupCount === 0, "group released");
  await waitFor(() => env.relay.app.sse.stats.open === 0, "streams closed");
});

Deno.test("SSE: Last-Event-ID resumes exactly after that event, with no $after in the document", async () => {
  await using env = await setup();
  const first = await openSse(env.relay.httpUrl, SUB);
  await waitFor(() => env.relay.app.ws.shared.groupCount === 1, "joined");
  for (let i = 0; i < 5; i++) env.emit(`k-${i}`);
  await first.waitForCount(5);
  const resumeAt = first.frames[1]!.id!;
  await first.close();
  for (let i = 5; i < 8; i++) env.emit(`k-${i}`);
  await using resumed = await openSse(env.relay.httpUrl, SUB, {}, { "last-event-id": resumeAt });
  await resumed.waitForCount(6);
  env.emit("k-8");
  await resumed.waitForCount(7);
  assertEquals(
    resumed.results.map((r) => (r.data as Row).drpEvents.key),
    ["k-2", "k-3", "k-4", "k-5", "k-6", "k-7", "k-8"],
  );
  // A resuming stream replays from its own moment: it does not join the shared group.
  assertEquals(env.relay.app.ws.shared.groupCount, 0);
});

Deno.test("SSE: an expired Last-Event-ID answers CURSOR_EXPIRED, then complete", async () => {
  await using env = await setup();
  await using s = await openSse(env.relay.httpUrl, SUB, {}, { "last-event-id": "lab:old:1" });
  await s.ended;
  assertEquals(s.results[0]?.errors?.[0]?.extensions?.code, "CURSOR_EXPIRED");
  assertEquals(s.frames.at(-1)?.event, "complete");
});

Deno.test("SSE: queries still answer over SSE (yoga), and shutdown ends streams without complete", async () => {
  await using env = await setup();
  await using q = await openSse(env.relay.httpUrl, `{ sources { name } }`);
  await q.ended;
  assert(q.frames.some((f) => f.data.includes('"lab"')), JSON.stringify(q.frames));
  const s = await openSse(env.relay.httpUrl, SUB);
  await waitFor(() => env.relay.app.sse.stats.open === 1, "open");
  await env.relay.close();
  await s.ended;
  assertEquals(s.frames.filter((f) => f.event === "complete"), []);
});

Deno.test("SSE: POST with a JSON body (what graphql-sse clients send) streams the same way", async () => {
  await using env = await setup();
  const abort = new AbortController();
  const res = await fetch(env.relay.httpUrl, {
    method: "POST",
    headers: { accept: "text/event-stream", "content-type": "application/json" },
    body: JSON.stringify({
      query: `subscription($t: String) { drpEvents(type: $t) { key } }`,
      variables: { t: "machines" },
    }),
    signal: abort.signal,
  });
  assertEquals(res.headers.get("content-type"), "text/event-stream; charset=utf-8");
  await waitFor(() => env.relay.app.ws.shared.groupCount === 1, "joined");
  env.emit("posted");
  const reader = res.body!.getReader();
  let text = "";
  while (!text.includes('"posted"')) {
    const { value, done } = await reader.read();
    if (done) break;
    text += new TextDecoder().decode(value);
  }
  assert(
    /id: lab:[^\n]+\nevent: next\ndata: \{"data":\{"drpEvents":\{"key":"posted"\}\}\}/.test(text),
    text,
  );
  abort.abort();
  await reader.cancel().catch(() => {});
});
