import { assert, assertEquals } from "@std/assert";
import { denoWebSocketFactory } from "../../platform/websocket.ts";
import {
  createWebinateSimulator,
  type WebinateSimulator,
  type WebinateSimulatorOptions,
} from "./simulator.ts";
import { genAServerEvent, genBServerEvent } from "./messages.ts";

/** A loopback client that queues every frame so none is missed between awaits. */
interface TestClient {
  ws: WebSocket;
  opened: Promise<void>;
  closed: Promise<CloseEvent>;
  next(timeoutMs?: number): Promise<Record<string, unknown>>;
  nextRaw(timeoutMs?: number): Promise<string>;
  send(frame: unknown): void;
  close(): Promise<void>;
}

const ORIGIN = { origin: "http://localhost" };

function connect(url: string, headers: Record<string, string> = ORIGIN): TestClient {
  const ws = denoWebSocketFactory(url, { headers });
  const queue: string[] = [];
  const waiters: ((s: string) => void)[] = [];
  const opened = Promise.withResolvers<void>();
  const closed = Promise.withResolvers<CloseEvent>();
  ws.onopen = () => opened.resolve();
  ws.onmessage = (e) => {
    const waiter = waiters.shift();
    if (waiter) waiter(String(e.data));
    else queue.push(String(e.data));
  };
  ws.onerror = () => {};
  ws.onclose = (e) => closed.resolve(e);
  const nextRaw = (timeoutMs = 2000) => {
    const queued = queue.shift();
    if (queued !== undefined) return Promise.resolve(queued);
    return new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => {
        waiters.splice(waiters.indexOf(waiter), 1);
        reject(new Error(`No frame within ${timeoutMs} ms`));
      }, timeoutMs);
      const waiter = (s: string) => {
        clearTimeout(timer);
        resolve(s);
      };
      waiters.push(waiter);
    });
  };
  return {
    ws,
    opened: opened.promise,
    closed: closed.promise,
    nextRaw,
    next: async (t) => JSON.parse(await nextRaw(t)),
    send: (frame) => ws.send(typeof frame === "string" ? frame : JSON.stringify(frame)),
    close: async () => {
      if (ws.readyState !== WebSocket.CLOSED) ws.close();
      await closed.promise;
    },
  };
}

async function waitFor(cond: () => boolean, timeoutMs = 2000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error("Condition not met in time");
    await new Promise((r) => setTimeout(r, 5));
  }
}

async function startSim(options: WebinateSimulatorOptions = {}): Promise<WebinateSimulator> {
  const sim = createWebinateSimulator({ sessionLookupMs: 0, ...options });
  await sim.start();
  return sim;
}

/** Connects and waits until the server has attached its handlers. */
async function ready(sim: WebinateSimulator, headers?: Record<string, string>) {
  const client = connect(sim.url, headers);
  await client.opened;
  const n = sim.server.accepted;
  await waitFor(() => sim.clients().some((c) => c.id === n && c.ready));
  return client;
}

/** Asserts that nothing arrived before the echo `probe` reply (frames are processed in order). */
async function assertNoReplyBefore(client: TestClient, probe: string) {
  client.send({ eventType: 10, message: probe });
  assertEquals(await client.next(), { eventType: 10, message: probe });
}

Deno.test("webinate sim (Gen A): approved Origin connects; echo answers the sender only", async () => {
  await using sim = await startSim();
  const a = await ready(sim);
  const b = await ready(sim, { origin: "https://relay.example.com" });
  a.send({ eventType: 10, message: "Hello world?" });
  assertEquals(await a.next(), { eventType: 10, message: "Hello world?" });
  await assertNoReplyBefore(b, "b-probe");
  assertEquals(sim.server.frames(1), [JSON.stringify({ eventType: 10, message: "Hello world?" })]);
  assertEquals(sim.sourceConfig("users"), {
    name: "users",
    kind: "webinate",
    url: sim.url,
    origin: "http://localhost",
  });
  await a.close();
  await b.close();
});

Deno.test("webinate sim: refused Origin is closed after the upgrade, not with HTTP 403", async (t) => {
  await t.step("missing Origin", async () => {
    await using sim = await startSim();
    const c = connect(sim.url, {});
    await c.opened; // the upgrade succeeded
    assertEquals((await c.closed).code, 1005);
    assertEquals(sim.rejected, 1);
    assert(sim.logs.some((l) => l.includes("not on the approved domain list")));
  });
  await t.step("anchored entries never match a browser origin; unlisted host refused", async () => {
    await using sim = await startSim({ approvedSocketDomains: ["^example\\.com$"] });
    const c = connect(sim.url, { origin: "http://example.com" });
    assertEquals((await c.closed).code, 1005);
    const d = await ready(sim, { origin: "example.com" });
    await assertNoReplyBefore(d, "ok");
    await d.close();
  });
  await t.step("rejectCloseCode knob", async () => {
    await using sim = await startSim({ rejectCloseCode: 1008 });
    const c = connect(sim.url, { origin: "http://evil.test" });
    assertEquals((await c.closed).code, 1008);
  });
});

Deno.test("webinate sim (Gen A): regexes are searched; N matching entries answer N times", async () => {
  await using sim = await startSim({ approvedSocketDomains: ["localhost", "local", "^nomatch$"] });
  // "http://localhost:3000" contains both "localhost" and "local": two handlers.
  const c = await ready(sim, { origin: "http://localhost:3000" });
  assertEquals(sim.clients()[0]?.handlers, 2);
  c.send({ eventType: 10, message: "twice" });
  assertEquals(await c.next(), { eventType: 10, message: "twice" });
  assertEquals(await c.next(), { eventType: 10, message: "twice" });
  await c.close();
});

Deno.test("webinate sim: frames sent during the session lookup are lost", async () => {
  await using sim = await startSim({ sessionLookupMs: 150 });
  const c = connect(sim.url);
  await c.opened;
  c.send({ eventType: 10, message: "too early" });
  await waitFor(() => sim.server.received.length === 1);
  await waitFor(() => sim.clients()[0]?.ready === true);
  await assertNoReplyBefore(c, "after lookup");
  assert(sim.logs.some((l) => l.includes("too early")));
  await c.close();
});

Deno.test("webinate sim (Gen A): echo broadcast reaches every socket", async () => {
  await using sim = await startSim();
  const a = await ready(sim);
  const b = await ready(sim);
  a.send({ eventType: 10, message: "all", broadcast: true });
  assertEquals(await a.next(), { eventType: 10, message: "all" });
  assertEquals(await b.next(), { eventType: 10, message: "all" });
  await a.close();
  await b.close();
});

Deno.test("webinate sim (Gen A): MetaRequest get/set without permission check", async () => {
  await using sim = await startSim({ users: { alice: { theme: "dark" } } });
  const c = await ready(sim); // anonymous
  const ask = async (frame: Record<string, unknown>) => {
    c.send({ eventType: 9, ...frame });
    return await c.next();
  };
  assertEquals(await ask({ username: "alice" }), { eventType: 9, val: { theme: "dark" } });
  assertEquals(await ask({ username: "alice", property: "lang", val: "de" }), {
    eventType: 9,
    val: true,
  });
  assertEquals(await ask({ username: "alice", property: "lang" }), { eventType: 9, val: "de" });
  assertEquals(await ask({ username: "alice", property: "missing" }), { eventType: 9 });
  assertEquals(await ask({ username: "alice", val: { plan: "pro" } }), { eventType: 9, val: true });
  assertEquals(sim.userMeta("alice"), { plan: "pro" });
  assertEquals(await ask({ username: "zed" }), { error: "Could not find user zed", eventType: 9 });
  assertEquals(await ask({}), { error: "Error: Please enter a valid username", eventType: 9 });
  assertEquals(await ask({ username: "a b" }), {
    error: "Error: Please only use alpha numeric characters for your username",
    eventType: 9,
  });
  await c.close();
});

Deno.test("webinate sim (Gen A): other eventTypes and malformed frames get no reply", async () => {
  await using sim = await startSim();
  const c = await ready(sim);
  for (
    const bad of ['{"eventType":1,"username":"x"}', '{"eventType":11}', "{not json", "null", "[]"]
  ) {
    c.send(bad);
  }
  await assertNoReplyBefore(c, "still alive");
  assert(sim.logs.some((l) => l.startsWith("Could not parse socket message")));
  assert(sim.logs.includes("Websocket alert error: No ClientEvent set"));
  // The enum lookup also accepts the digit string.
  c.send({ eventType: "10", message: "str" });
  assertEquals(await c.next(), { eventType: 10, message: "str" });
  await c.close();
});

Deno.test("webinate sim (Gen A): server events are broadcast with full payloads", async () => {
  await using sim = await startSim();
  const a = await ready(sim);
  const b = await ready(sim);
  assertEquals(sim.emit({ type: "Login", username: "bob" }).delivered, 2);
  assertEquals(await a.next(), { eventType: 1, username: "bob" });
  assertEquals(await b.next(), { eventType: 1, username: "bob" });
  const up = sim.emit({ type: "FileUploaded", username: "bob", file: { name: "cv.pdf" } });
  const got = await a.next();
  assertEquals(got, up.frame);
  const file = got.file as Record<string, unknown>;
  assertEquals(Object.keys(file).sort(), [
    "_id",
    "bucketId",
    "bucketName",
    "created",
    "identifier",
    "isPublic",
    "meta",
    "mimeType",
    "name",
    "numDownloads",
    "parentFile",
    "publicURL",
    "size",
    "user",
  ]);
  assertEquals(
    file.publicURL,
    `https://storage.googleapis.com/${file.bucketId}/${file.identifier}`,
  );
  sim.emit({ type: "FileRemoved", username: "bob" });
  const removed = await a.next();
  assertEquals(removed.eventType, 6);
  assert(!("username" in removed));
  sim.emit({ type: "BucketUploaded", username: "bob" });
  assertEquals((await a.next()).eventType, 7);
  sim.emit({ type: "BucketRemoved" });
  const bucketGone = await a.next();
  assertEquals([bucketGone.eventType, "username" in bucketGone], [8, false]);
  for (const type of ["Logout", "Activated", "Removed"] as const) sim.emit({ type, username: "x" });
  assertEquals(
    [(await a.next()).eventType, (await a.next()).eventType, (await a.next()).eventType],
    [
      2,
      3,
      4,
    ],
  );
  assertEquals(sim.sendRaw("not json"), 2);
  assertEquals(await a.nextRaw(), "not json");
  await a.close();
  await b.close();
});

Deno.test("webinate sim: SID cookie resolves the session user; expiry announces Logout", async () => {
  await using sim = await startSim({ sessions: { s3cr3t: "carol88" } });
  const c = await ready(sim, { ...ORIGIN, cookie: "theme=x; SID=s3cr3t; other=1" });
  const anon = await ready(sim);
  assertEquals(sim.clients().map((x) => [x.sessionId, x.username]), [
    ["s3cr3t", "carol88"],
    [null, null],
  ]);
  sim.expireSession("s3cr3t");
  assertEquals(await c.next(), { eventType: 2, username: "carol88" });
  assertEquals(await anon.next(), { eventType: 2, username: "carol88" });
  await c.close();
  await anon.close();
});

Deno.test("webinate sim (Gen B): api key, targeted events, MetaRequest only", async (t) => {
  await using sim = await startSim({
    generation: "B",
    apiKey: "k3y",
    sessions: { s1: "alice" },
    users: { alice: { a: 1 } },
  });
  const third = await ready(sim, { "users-api-key": "k3y" }); // no Origin needed with the key
  const aliceSock = await ready(sim, { ...ORIGIN, cookie: "SID=s1" });
  const anon = await ready(sim);
  assertEquals(sim.clients().map((c) => c.authorizedThirdParty), [true, false, false]);
  assertEquals(sim.sourceConfig("u").apiKey, "k3y");

  await t.step("wrong key without Origin is refused", async () => {
    const bad = connect(sim.url, { "users-api-key": "nope" });
    assertEquals((await bad.closed).code, 1005);
  });
  await t.step("events go to third parties and the user's own sessions", async () => {
    assertEquals(sim.emit({ type: "Login", username: "alice" }).delivered, 2);
    assertEquals(await third.next(), { type: "Login", username: "alice" });
    assertEquals(await aliceSock.next(), { type: "Login", username: "alice" });
    const f = sim.emit({ type: "FileRemoved", username: "bob" });
    assertEquals(f.delivered, 1);
    assert(genBServerEvent.safeParse(await third.next()).success);
  });
  await t.step("echo ignored; MetaRequest needs the key", async () => {
    anon.send({ eventType: 10, message: "hi" });
    anon.send("{bad");
    anon.send({ type: "MetaRequest", username: "alice" });
    assertEquals(await anon.next(), {
      type: "MetaRequest",
      error: "You do not have permission to make this request",
    });
    third.send({ type: "MetaRequest", username: "alice", property: "a" });
    assertEquals(await third.next(), {
      type: "MetaRequest",
      val: 1,
      property: "a",
      username: "alice",
    });
    third.send({ type: "MetaRequest", username: "nobody" });
    assertEquals(await third.next(), { type: "MetaRequest", error: "Could not find user nobody" });
  });
  await third.close();
  await aliceSock.close();
  await anon.close();
});

Deno.test("webinate sim (Gen B): an empty domain list refuses even keyed clients", async () => {
  await using sim = await startSim({ generation: "B", approvedSocketDomains: [] });
  const c = connect(sim.url, { ...ORIGIN, "users-api-key": "sim-users-api-key" });
  assertEquals((await c.closed).code, 1005);
});

Deno.test("webinate sim: drop and restart on the same URL; nothing is replayed", async () => {
  await using sim = await startSim();
  const c = await ready(sim);
  sim.server.dropConnections();
  assertEquals((await c.closed).code, 1011);
  const url = sim.url;
  await sim.restart();
  assertEquals(sim.url, url);
  const d = await ready(sim);
  await assertNoReplyBefore(d, "back");
  await d.close();
});

Deno.test("webinate sim: emitRandom emits valid, varied events in both generations", async () => {
  let seed = 7;
  const random = () => (seed = (seed * 16807) % 2147483647) / 2147483647;
  for (const generation of ["A", "B"] as const) {
    await using sim = await startSim({ generation, apiKey: "k" });
    const c = await ready(sim, { ...ORIGIN, "users-api-key": "k" });
    const kinds = new Set<unknown>();
    for (let i = 0; i < 60; i++) {
      sim.emitRandom(random);
      const frame = await c.next();
      const schema = generation === "A" ? genAServerEvent : genBServerEvent;
      assert(schema.safeParse(frame).success, JSON.stringify(frame));
      kinds.add(frame.eventType ?? frame.type);
    }
    assert(kinds.size >= 5, `only ${[...kinds]}`);
    await c.close();
  }
});
