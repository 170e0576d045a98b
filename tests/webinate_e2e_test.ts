/**
 * Webinate users server end to end: the real relay against the Webinate simulator over
 * loopback sockets, with a real graphql-ws client. Covers Origin auth and its refusal,
 * local `eventTypes` filtering, reconnect, malformed frames, Gen B names, the liveness
 * probe, and `webinateSend` (echo round trip, failure while the source is down).
 *
 * @module
 */
import { assert, assertEquals, assertStringIncludes } from "@std/assert";
import { createWebinateSimulator } from "../src/simulators/webinate/simulator.ts";
import { connectClient } from "./helpers/gql_client.ts";
import {
  httpQuery,
  type SourceStatus,
  sourceStatus,
  startRelay,
  waitFor,
} from "./helpers/relay.ts";

const SUB = `subscription($eventTypes: [Int!], $after: ID) {
  webinateEvents(eventTypes: $eventTypes, after: $after) {
    id type eventType eventName key subject actor username file bucket message val error
  }
}`;

const SEND = `mutation($eventType: Int!, $payload: JSON) {
  webinateSend(eventType: $eventType, payload: $payload)
}`;

type Row = {
  webinateEvents: {
    id: string;
    type: string;
    eventType: number;
    eventName: string;
    key: string | null;
    subject: string | null;
    actor: string | null;
    username: string | null;
    file: { _id: string; name: string } | null;
    bucket: { _id: string; name: string } | null;
    message: unknown;
    val: unknown;
    error: string | null;
  };
};

/** Small backoff and settle time keep the file fast. */
const FAST = { reconnect: { baseMs: 20, maxMs: 100 }, settleMs: 100 };

function source(url: string, name = "users"): Promise<SourceStatus> {
  return sourceStatus(url, name);
}

async function ready(url: string, name = "users"): Promise<void> {
  await waitFor(async () => (await source(url, name)).state === "READY", `${name} READY`);
}

/** Waits until `n` subscriptions hold the source, so no emitted event precedes them. */
async function subscribed(url: string, n: number): Promise<void> {
  await waitFor(async () => (await source(url)).subscribers >= n, `${n} subscribers`);
}

Deno.test("an approved Origin connects and events arrive with their mapped fields", async () => {
  await using sim = createWebinateSimulator({ sessions: { s42: "alice" } });
  await sim.start();
  await using relay = await startRelay([{ ...sim.sourceConfig("users"), ...FAST, sid: "s42" }]);
  await ready(relay.httpUrl);
  const [client] = sim.clients();
  assertEquals(client?.origin, "http://localhost");
  assertEquals(client?.sessionId, "s42");
  await using gql = connectClient(relay.wsUrl);
  const all = gql.subscribe<Row>(SUB);
  await subscribed(relay.httpUrl, 1);
  await waitFor(() => sim.clients()[0]?.ready, "session lookup");
  sim.emit({ type: "Login", username: "bjones" });
  const file = sim.emit({ type: "FileUploaded", username: "carol88", file: { name: "a.pdf" } })
    .frame.file as { _id: string };
  const bucket = sim.emit({ type: "BucketRemoved", username: "erin" }).frame.bucket as {
    _id: string;
    name: string;
  };
  const rows = (await all.waitForCount(3)).map((r) => r.webinateEvents);
  assertEquals(
    rows.map((r) => [r.type, r.eventType, r.key, r.subject, r.actor]),
    [
      ["Login", 1, "bjones", "bjones", "bjones"],
      ["FileUploaded", 5, file._id, "a.pdf", "carol88"],
      // Gen A's BucketRemoved names no user (§3.3).
      ["BucketRemoved", 8, bucket._id, "erin-bucket", null],
    ],
  );
  assertEquals(rows[1]?.file?.name, "a.pdf");
  assertEquals(rows[2]?.bucket?.name, bucket.name);
  const status = await source(relay.httpUrl);
  assertEquals(status.interest, []);
  assertEquals(status.lastError, null);
  assert(!relay.logs.some((l) => l.includes("s42")), "the session id never reaches the logs");
});

Deno.test("an Origin the server does not approve ends in BACKOFF with a clear lastError", async () => {
  await using sim = createWebinateSimulator({
    approvedSocketDomains: ["^https://app\\.example\\.com$"],
  });
  await sim.start();
  await using relay = await startRelay([{ ...sim.sourceConfig("users"), ...FAST }]);
  const status = await waitFor(async () => {
    const s = await source(relay.httpUrl);
    return s.state === "BACKOFF" && s.lastError ? s : undefined;
  }, "BACKOFF after the refusal");
  assertStringIncludes(status.lastError!, 'origin "http://localhost" not approved');
  assert(sim.rejected >= 1);
  // Approving the origin lets the next attempt through.
  sim.approvedSocketDomains = ["localhost"];
  await ready(relay.httpUrl);
});

Deno.test("eventTypes filters locally; bad eventTypes fail with BAD_FILTER", async () => {
  await using sim = createWebinateSimulator();
  await sim.start();
  await using relay = await startRelay([{ ...sim.sourceConfig("users"), ...FAST }]);
  await using gql = connectClient(relay.wsUrl);
  const files = gql.subscribe<Row>(SUB, { eventTypes: [5, 6] });
  const logins = gql.subscribe<Row>(SUB, { eventTypes: [1] });
  const all = gql.subscribe<Row>(SUB);
  const unknown = gql.subscribe<Row>(SUB, { eventTypes: [42] });
  const empty = gql.subscribe<Row>(SUB, { eventTypes: [] });
  await ready(relay.httpUrl);
  await subscribed(relay.httpUrl, 3);
  await waitFor(() => sim.clients()[0]?.ready, "session lookup");
  sim.emit({ type: "Login", username: "alice" });
  sim.emit({ type: "FileUploaded", username: "alice" });
  sim.emit({ type: "Logout", username: "alice" });
  sim.emit({ type: "FileRemoved", username: "alice" });
  await all.waitForCount(4);
  assertEquals(
    (await files.waitForCount(2)).map((r) => r.webinateEvents.type),
    ["FileUploaded", "FileRemoved"],
  );
  assertEquals((await logins.waitForCount(1)).map((r) => r.webinateEvents.type), ["Login"]);
  assertEquals(files.results.length, 2);
  assertEquals(logins.results.length, 1);
  await unknown.waitForEnd();
  await empty.waitForEnd();
  assertEquals(unknown.errorCodes, ["BAD_FILTER"]);
  assertEquals(empty.errorCodes, ["BAD_FILTER"]);
});

Deno.test("reconnects after a drop and keeps subscriptions open", async () => {
  await using sim = createWebinateSimulator();
  await sim.start();
  await using relay = await startRelay([{ ...sim.sourceConfig("users"), ...FAST }]);
  await using gql = connectClient(relay.wsUrl);
  const logins = gql.subscribe<Row>(SUB, { eventTypes: [1] });
  await ready(relay.httpUrl);
  await subscribed(relay.httpUrl, 1);
  await waitFor(() => sim.clients()[0]?.ready, "session lookup");
  sim.emit({ type: "Login", username: "alice" });
  await logins.waitForCount(1);
  sim.server.dropConnections();
  await waitFor(async () => (await source(relay.httpUrl)).reconnects >= 1, "a reconnect");
  await ready(relay.httpUrl);
  await waitFor(() => sim.clients().length === 1 && sim.clients()[0]?.ready, "new session");
  sim.emit({ type: "Login", username: "bjones" });
  const rows = await logins.waitForCount(2);
  assertEquals(rows.map((r) => r.webinateEvents.username), ["alice", "bjones"]);
  assert(!logins.completed);
  assertEquals(sim.server.accepted, 2);
});

Deno.test("only frames without a type are dropped; sparse and unknown ones arrive", async () => {
  await using sim = createWebinateSimulator();
  await sim.start();
  await using relay = await startRelay([{ ...sim.sourceConfig("users"), ...FAST }]);
  await using gql = connectClient(relay.wsUrl);
  const all = gql.subscribe<Row>(SUB);
  await ready(relay.httpUrl);
  await subscribed(relay.httpUrl, 1);
  sim.sendRaw("not json {");
  sim.sendRaw(JSON.stringify({ username: "x" })); // neither eventType nor type
  sim.sendRaw(JSON.stringify({ eventType: "1", username: "x" }));
  sim.sendRaw(JSON.stringify({ eventType: 1 })); // Login without username
  sim.sendRaw(JSON.stringify({ eventType: 99, username: "x" })); // a newer server's number
  sim.sendRaw(JSON.stringify({ type: "Nonsense", username: "x" })); // a newer server's name
  sim.emit({ type: "Activated", username: "dmitri" });
  const rows = await all.waitForCount(4);
  assertEquals(rows.map((r) => r.webinateEvents.type), ["Login", "99", "Nonsense", "Activated"]);
  await waitFor(async () => (await source(relay.httpUrl)).framesDropped === 3, "3 drops");
  assertEquals(all.results.length, 4);
  assertEquals((await source(relay.httpUrl)).state, "READY");
});

Deno.test("webinateSend echo round trip: the reply arrives on webinateEvents(eventTypes:[10])", async () => {
  await using sim = createWebinateSimulator();
  await sim.start();
  await using relay = await startRelay([{ ...sim.sourceConfig("users"), ...FAST }]);
  await using gql = connectClient(relay.wsUrl);
  const echoes = gql.subscribe<Row>(SUB, { eventTypes: [10] });
  await ready(relay.httpUrl);
  await subscribed(relay.httpUrl, 1);
  const res = await httpQuery<{ webinateSend: boolean }>(relay.httpUrl, SEND, {
    eventType: 10,
    payload: { message: "hello webinate" },
  });
  assertEquals(res, { data: { webinateSend: true } });
  const [row] = await echoes.waitForCount(1);
  assertEquals(row?.webinateEvents.type, "Echo");
  assertEquals(row?.webinateEvents.eventType, 10);
  assertEquals(row?.webinateEvents.message, "hello webinate");
  assertEquals(sim.server.frames(), ['{"eventType":10,"message":"hello webinate"}']);

  // A MetaRequest (9) reply is an event too.
  const metas = gql.subscribe<Row>(SUB, { eventTypes: [9] });
  await subscribed(relay.httpUrl, 2);
  const meta = await httpQuery(relay.httpUrl, SEND, {
    eventType: 9,
    payload: { username: "alice", property: "theme" },
  });
  assertEquals(meta, { data: { webinateSend: true } });
  const [reply] = await metas.waitForCount(1);
  assertEquals(reply?.webinateEvents.type, "MetaRequest");
  assertEquals(reply?.webinateEvents.val, "dark");

  const bad = await httpQuery(relay.httpUrl, SEND, { eventType: 10, payload: [1, 2] });
  assertEquals(bad.errors?.[0]?.extensions?.code, "BAD_USER_INPUT");
});

Deno.test("webinateSend fails with SOURCE_UNAVAILABLE while the source is down", async () => {
  await using sim = createWebinateSimulator();
  await sim.start();
  await using relay = await startRelay([{ ...sim.sourceConfig("users"), ...FAST }]);
  await ready(relay.httpUrl);
  await sim.stop();
  await waitFor(async () => (await source(relay.httpUrl)).state !== "READY", "source down");
  const res = await httpQuery(relay.httpUrl, SEND, { eventType: 10, payload: { message: "x" } });
  assertEquals(res.errors?.[0]?.extensions?.code, "SOURCE_UNAVAILABLE");
  assertStringIncludes(res.errors?.[0]?.message ?? "", 'source "users" is not connected');
  assertEquals(sim.server.frames(), []);
});

Deno.test("liveness probes keep a quiet socket READY and their echoes are not events", async () => {
  await using sim = createWebinateSimulator();
  await sim.start();
  await using relay = await startRelay([
    { ...sim.sourceConfig("users"), ...FAST, silenceMs: 200 },
  ]);
  await using gql = connectClient(relay.wsUrl);
  const echoes = gql.subscribe<Row>(SUB, { eventTypes: [10] });
  await ready(relay.httpUrl);
  await waitFor(
    () => sim.server.frames().filter((f) => f.includes("relayprobe")).length >= 3,
    "three probes",
  );
  const status = await source(relay.httpUrl);
  assertEquals([status.state, status.reconnects, status.eventsReceived], ["READY", 0, 0]);
  assertEquals(echoes.results.length, 0);
});

Deno.test("Gen B: users-api-key, type names mapped to numbers, MetaRequest probe", async () => {
  await using sim = createWebinateSimulator({ generation: "B", apiKey: "sekrit-key-123" });
  await sim.start();
  await using relay = await startRelay([
    { ...sim.sourceConfig("users"), ...FAST, apiKey: { env: "USERS_KEY" }, silenceMs: 200 },
  ], { env: { USERS_KEY: "sekrit-key-123" } });
  await using gql = connectClient(relay.wsUrl);
  const uploads = gql.subscribe<Row>(SUB, { eventTypes: [5] });
  await ready(relay.httpUrl);
  await subscribed(relay.httpUrl, 1);
  await waitFor(() => sim.clients()[0]?.ready, "session lookup");
  assertEquals(sim.clients()[0]?.authorizedThirdParty, true);
  sim.emit({ type: "Login", username: "erin" });
  sim.emit({ type: "FileUploaded", username: "erin", file: { name: "b.png" } });
  const [row] = await uploads.waitForCount(1);
  assertEquals([row?.webinateEvents.type, row?.webinateEvents.eventType], ["FileUploaded", 5]);
  assertEquals(row?.webinateEvents.username, "erin");
  await waitFor(
    () => sim.server.frames().some((f) => f.includes('"MetaRequest"')),
    "a MetaRequest probe",
  );
  await waitFor(() => sim.logs.some((l) => l.includes("relayprobe")), "the probe handled");
  const status = await source(relay.httpUrl);
  assertEquals([status.state, status.eventsReceived], ["READY", 2]);
  assert(!relay.logs.some((l) => l.includes("sekrit-key-123")), "the API key is never logged");
});

Deno.test("events(vendors:[WEBINATE], types:[Login]) gets Webinate logins with typed fields", async () => {
  await using sim = createWebinateSimulator();
  await sim.start();
  await using relay = await startRelay([{ ...sim.sourceConfig("users"), ...FAST }]);
  await using gql = connectClient(relay.wsUrl);
  const logins = gql.subscribe<{ events: { type: string; eventType: number; username: string } }>(
    `subscription {
      events(vendors: [WEBINATE], types: ["Login"]) {
        type ... on WebinateEvent { eventType username }
      }
    }`,
  );
  await ready(relay.httpUrl);
  await subscribed(relay.httpUrl, 1);
  await waitFor(() => sim.clients()[0]?.ready, "session lookup");
  sim.emit({ type: "Logout", username: "alice" });
  sim.emit({ type: "Login", username: "carol88" });
  const [row] = await logins.waitForCount(1);
  assertEquals(row?.events, { type: "Login", eventType: 1, username: "carol88" });
  assertEquals(logins.results.length, 1);
});
