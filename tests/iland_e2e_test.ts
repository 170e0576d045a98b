import { assert, assertEquals, assertStringIncludes } from "@std/assert";
import {
  createIlandSimulator,
  type IlandSimulatorOptions,
} from "../src/simulators/iland/simulator.ts";
import { connectClient } from "./helpers/gql_client.ts";
import { httpQuery, startRelay, type TestRelay, waitFor } from "./helpers/relay.ts";

const SUB = `subscription($kinds: [IlandKind!], $entityTypes: [String!], $types: [String!]) {
  ilandEvents(kinds: $kinds, entityTypes: $entityTypes, types: $types) {
    id type action key subject actor time kind entityType companyId ownerType ownerId
    taskUuid details actorFullName status operation operationDescription progress taskType
  }
}`;

type Row = {
  ilandEvents: {
    type: string;
    action: string | null;
    key: string | null;
    subject: string | null;
    actor: string | null;
    time: string;
    kind: "EVENT" | "TASK";
    entityType: string | null;
    companyId: string | null;
    ownerType: string | null;
    taskUuid: string | null;
    details: string | null;
    status: string | null;
    operation: string | null;
    progress: number | null;
    taskType: string | null;
  };
};

const FAST = { reconnect: { baseMs: 20, maxMs: 100 } };

type SourceRow = {
  name: string;
  state: string;
  lastError: string | null;
  interest: string[];
  framesDropped: number;
  reconnects: number;
  subscribers: number;
};

async function source(relay: TestRelay, name = "cloud"): Promise<SourceRow> {
  const res = await httpQuery<{ source: SourceRow }>(
    relay.httpUrl,
    `query($n: String!) { source(name: $n) {
      name state lastError interest framesDropped reconnects subscribers } }`,
    { n: name },
  );
  return res.data!.source;
}

/** Waits until the source is READY with `n` subscriptions attached (no upstream ack exists). */
async function ready(relay: TestRelay, n: number, name = "cloud"): Promise<void> {
  await waitFor(async () => {
    const src = await source(relay, name);
    return src.state === "READY" && src.subscribers === n;
  }, `READY with ${n} subscribers`);
}

/** A started simulator whose socket count the tests can wait on. */
async function sim(options: IlandSimulatorOptions = {}) {
  const s = createIlandSimulator(options);
  await s.start();
  return s;
}

function authorized(s: ReturnType<typeof createIlandSimulator>, n = 1): boolean {
  return s.sessions().filter((x) => x.phase === "authorized").length >= n;
}

Deno.test("ilandEvents: static token, companyId auth line, EVENT mapping, TASK kept out by default", async () => {
  await using s = await sim();
  await using relay = await startRelay([{ ...s.sourceConfig("cloud"), ...FAST }]);
  await using client = connectClient(relay.wsUrl);
  const events = client.subscribe<Row>(SUB);
  await waitFor(() => authorized(s), "authorised socket");
  assertEquals(s.server.frames().filter((f) => f.startsWith("companyId=")).length, 1);
  assertEquals(s.sessions()[0], {
    connection: 1,
    phase: "authorized",
    username: "alice",
    companyId: "1000123",
    companies: ["1000123"],
  });
  await ready(relay, 1);
  s.emitTask();
  const sent = s.emitEvent({ timestamp: Date.UTC(2024, 0, 2, 3, 4, 5) });
  const [row] = await events.waitForCount(1);
  assertEquals(row?.ilandEvents, {
    ...row!.ilandEvents,
    type: "VM_POWER_STATE_CHANGE",
    action: null,
    key: sent.entity_uuid,
    subject: "web01",
    actor: "alice",
    time: "2024-01-02T03:04:05.000Z",
    kind: "EVENT",
    entityType: "IAAS_VM",
    companyId: "1000123",
    ownerType: "COMPANY",
    taskUuid: sent.task_uuid!,
    details: "Virtual machine web01 powered on",
    status: null,
  });
  assertEquals(events.results.length, 1);
  assertEquals((await source(relay)).interest, ["companyId=1000123"]);
  assert(!relay.logs.join("\n").includes("iland-sim-static-token"), "token in logs");
});

Deno.test("ilandEvents: TASK vs EVENT, entityTypes and case-insensitive types filter locally", async () => {
  await using s = await sim();
  await using relay = await startRelay([{ ...s.sourceConfig("cloud"), ...FAST }]);
  await using client = connectClient(relay.wsUrl);
  const tasks = client.subscribe<Row>(SUB, { kinds: ["TASK"] });
  const both = client.subscribe<Row>(SUB, { kinds: ["EVENT", "TASK"], entityTypes: ["iaas_edge"] });
  const typed = client.subscribe<Row>(SUB, {
    kinds: ["EVENT", "TASK"],
    types: ["vm_create", "TASK_SUCCESS"],
  });
  await waitFor(() => authorized(s), "authorised socket");
  await ready(relay, 3);
  s.emitEvent({ type: "VM_CREATE" });
  s.emitEvent({ type: "EDGE_NAT_MODIFIED", entity_type: "IAAS_EDGE", entity_name: "edge-gw" });
  const running = s.emitTask({ progress: 40 });
  s.emitTask({ uuid: running.uuid, status: "success" });
  s.emitTask({ status: "waiting-on-user-input", operation: "create snapshot" });

  const t = (await tasks.waitForCount(3)).map((r) => r.ilandEvents);
  assertEquals(t.map((r) => r.type), [
    "TASK_RUNNING",
    "TASK_SUCCESS",
    "TASK_WAITING_ON_USER_INPUT",
  ]);
  assertEquals(t[0]?.kind, "TASK");
  assertEquals(t[0]?.action, "power on");
  assertEquals(t[0]?.operation, "power on");
  assertEquals(t[0]?.status, "running");
  assertEquals(t[0]?.progress, 40);
  assertEquals(t[0]?.taskUuid, running.uuid);
  assertEquals(t[0]?.taskType, "VCD");
  assertEquals(t[0]?.companyId, "1000123");
  assertEquals(t[0]?.entityType, null);
  assertEquals(t[1]?.progress, 100);

  // entityTypes restricts EVENTs only: the edge event plus all three task updates.
  const b = (await both.waitForCount(4)).map((r) => r.ilandEvents.type);
  assertEquals(b, [
    "EDGE_NAT_MODIFIED",
    "TASK_RUNNING",
    "TASK_SUCCESS",
    "TASK_WAITING_ON_USER_INPUT",
  ]);
  const ty = (await typed.waitForCount(2)).map((r) => r.ilandEvents.type);
  assertEquals(ty, ["VM_CREATE", "TASK_SUCCESS"]);
  s.emitEvent({ type: "VM_CREATE" });
  await typed.waitForCount(3);
  assertEquals(tasks.results.length, 3);
  assertEquals(both.results.length, 4);
  // Nothing is registered upstream: iland has no filter command, only the auth line.
  assertEquals(s.server.frames().length, 1);
});

Deno.test("ilandEvents rejects empty kinds / entityTypes / types with BAD_FILTER", async () => {
  await using s = await sim();
  await using relay = await startRelay([{ ...s.sourceConfig("cloud"), ...FAST }]);
  await using client = connectClient(relay.wsUrl);
  for (const vars of [{ kinds: [] }, { entityTypes: [] }, { types: [""] }]) {
    const c = client.subscribe<Row>(SUB, vars);
    await c.waitForEnd();
    assertEquals(c.errorCodes, ["BAD_FILTER"], JSON.stringify(vars));
  }
});

Deno.test("iland refuses a bad static token: the source backs off with a safe lastError", async () => {
  await using s = await sim();
  await using relay = await startRelay([{
    ...s.sourceConfig("cloud"),
    ...FAST,
    accessToken: { env: "ILAND_TOKEN" },
  }], { env: { ILAND_TOKEN: "wrong-token-value" } });
  await waitFor(() => s.authRejections >= 2, "two refusals");
  const src = await source(relay);
  assert(src.state !== "READY" || src.reconnects >= 1);
  assertStringIncludes(src.lastError ?? "", "1008");
  const logs = relay.logs.join("\n");
  assert(!logs.includes("wrong-token-value"), "token in logs");
  assertStringIncludes(logs, "static accessToken");
});

Deno.test("iland OAuth: password grant, refresh before expiry, fresh login after the token is refused", async () => {
  // 30 s tokens are inside the 60 s refresh margin, so every reconnect renews first.
  await using s = await sim({ tokenTtlSeconds: 30 });
  await using relay = await startRelay([{ ...s.oauthSourceConfig("cloud"), ...FAST }]);
  await using client = connectClient(relay.wsUrl);
  const events = client.subscribe<Row>(SUB, { types: ["VM_CREATE"] });
  await waitFor(() => authorized(s), "authorised socket");
  const grants = () =>
    relay.logs.filter((l) => l.includes("iland token obtained")).map((l) =>
      JSON.parse(l).grant as string
    );
  assertEquals(grants(), ["password"]);
  await ready(relay, 1);
  s.emitEvent({ type: "VM_CREATE" });
  await events.waitForCount(1);

  // Reconnect: the token expires within the margin, so the refresh grant runs first.
  s.server.dropConnections();
  await waitFor(() => grants().length === 2 && authorized(s), "refresh and re-auth");
  assertEquals(grants(), ["password", "refresh_token"]);
  await ready(relay, 1);
  s.emitEvent({ type: "VM_CREATE" });
  await events.waitForCount(2);

  // Every token (refresh included) stops working: the socket is refused (1008), the refresh
  // grant fails, and a new password grant gets the stream back.
  s.expireAllTokens();
  s.server.dropConnections();
  await waitFor(() => grants().length === 3 && authorized(s), "new login", 8000);
  assertEquals(grants(), ["password", "refresh_token", "password"]);
  await ready(relay, 1);
  s.emitEvent({ type: "VM_CREATE" });
  await events.waitForCount(3);
  const logs = relay.logs.join("\n");
  assertStringIncludes(logs, "refresh grant failed");
  assert(!logs.includes("alice-password") && !logs.includes("relay-secret"), "secret in logs");
  for (const f of s.server.frames()) {
    const token = f.split("Bearer ")[1];
    if (token) assert(!logs.includes(token), "runtime token in logs");
  }
});

Deno.test("iland OAuth with a wrong password fails at the token endpoint, not on the socket", async () => {
  await using s = await sim();
  await using relay = await startRelay([{
    ...s.oauthSourceConfig("cloud"),
    ...FAST,
    password: "not-the-password",
  }]);
  await waitFor(async () => (await source(relay)).lastError, "a failure");
  const src = await source(relay);
  assertStringIncludes(src.lastError ?? "", "invalid_grant");
  assertEquals(s.server.accepted, 0);
  assert(!relay.logs.join("\n").includes("not-the-password"));
});

Deno.test("iland: a first frame other than AUTHORIZATION is the server's error and aborts", async () => {
  await using s = await sim();
  s.greeting = "Service temporarily unavailable";
  await using relay = await startRelay([{ ...s.sourceConfig("cloud"), ...FAST }]);
  await waitFor(async () => (await source(relay)).lastError, "a failure");
  assertStringIncludes((await source(relay)).lastError ?? "", "Service temporarily unavailable");
  assertEquals(s.server.frames().length, 0, "no auth line after an error greeting");
  s.greeting = "AUTHORIZATION";
  await waitFor(() => authorized(s), "recovery");
});

Deno.test("iland: only unroutable frames are dropped; odd and unknown ones still arrive", async () => {
  await using s = await sim();
  await using relay = await startRelay([{ ...s.sourceConfig("cloud"), ...FAST }]);
  await using client = connectClient(relay.wsUrl);
  const all = client.subscribe<Row>(SUB, { kinds: ["EVENT", "TASK"] });
  const anyKind = client.subscribe<{ ilandEvents: { type: string; kind: string | null } }>(
    `subscription { ilandEvents(kinds: null) { type kind kindName } }`,
  );
  await waitFor(() => authorized(s), "authorised socket");
  await ready(relay, 2);
  s.sendRaw("not json");
  s.sendRaw(JSON.stringify({ type: "EVENT", data: { uuid: "x" } }));
  s.sendRaw(JSON.stringify({ type: "ALERT", data: { uuid: "a-1", type: "QUOTA_NEAR" } }));
  s.sendRaw(JSON.stringify({ type: "TASK", data: { uuid: "t", status: 3 } }));
  s.emitEvent({ type: "VM_DELETE" });
  const rows = await all.waitForCount(2);
  assertEquals(rows.map((r) => r.ilandEvents.type), ["TASK", "VM_DELETE"]);
  const every = await anyKind.waitForCount(3);
  assertEquals(every.map((r) => [r.ilandEvents.type, r.ilandEvents.kind]), [
    ["QUOTA_NEAR", null],
    ["TASK", "TASK"],
    ["VM_DELETE", "EVENT"],
  ]);
  await waitFor(async () => (await source(relay)).framesDropped === 2, "2 dropped");
  assertEquals(all.results.length, 2);
  assertEquals((await source(relay)).state, "READY");
});

Deno.test("iland: after a restart the relay re-authenticates and the subscription carries on", async () => {
  await using s = await sim();
  await using relay = await startRelay([{ ...s.sourceConfig("cloud"), ...FAST }]);
  await using client = connectClient(relay.wsUrl);
  const events = client.subscribe<Row>(SUB, { entityTypes: ["IAAS_VM"] });
  await waitFor(() => authorized(s), "authorised socket");
  await ready(relay, 1);
  s.emitEvent();
  await events.waitForCount(1);
  await s.restart();
  await waitFor(() => authorized(s), "re-authorised socket");
  await ready(relay, 1);
  assertEquals(s.server.frames().filter((f) => f.includes("Bearer")).length, 2);
  s.emitEvent();
  await events.waitForCount(2);
  assert((await source(relay)).reconnects >= 1);
});

Deno.test("iland companyIds: one socket per company, USER events published once", async () => {
  await using s = await sim();
  const { companyId: _, ...base } = s.sourceConfig("cloud");
  await using relay = await startRelay([{ ...base, ...FAST, companyIds: ["1000123", "1000456"] }]);
  await using client = connectClient(relay.wsUrl);
  const all = client.subscribe<Row>(SUB);
  await waitFor(() => authorized(s, 2), "two authorised sockets");
  await ready(relay, 1);
  assertEquals(
    s.sessions().map((x) => x.phase === "authorized" ? x.companyId : "").sort(),
    ["1000123", "1000456"],
  );
  assertEquals((await source(relay)).interest.sort(), ["companyId=1000123", "companyId=1000456"]);
  s.emitEvent({ owner_id: "1000456", type: "ORG_MODIFY" });
  s.emitEvent({ owner_type: "USER", owner_id: "alice" });
  s.emitEvent({ owner_id: "1000123", type: "VM_MODIFY" });
  const rows = (await all.waitForCount(3)).map((r) => r.ilandEvents);
  assertEquals(rows.map((r) => r.type).sort(), ["ORG_MODIFY", "USER_LOGIN", "VM_MODIFY"]);
  // A USER event carries no company; it is published once, from the socket that got it first,
  // so its companyId is that socket's company scope.
  assert(["1000123", "1000456"].includes(rows.find((r) => r.type === "USER_LOGIN")?.companyId!));
  assertEquals(rows.find((r) => r.type === "ORG_MODIFY")?.companyId, "1000456");
  s.emitEvent({ type: "VM_CREATE" });
  await all.waitForCount(4);
  assertEquals(all.results.length, 4, "the USER event came once");
});

Deno.test("iland without a company: one `Bearer` socket for every company; events(types:) across kinds", async () => {
  await using s = await sim();
  const { companyId: _, ...base } = s.sourceConfig("cloud");
  await using relay = await startRelay([{ ...base, ...FAST }]);
  await using client = connectClient(relay.wsUrl);
  const cross = client.subscribe<{ events: { type: string; companyId?: string } }>(
    `subscription { events(vendors: [ILAND], types: ["task_success", "ORG_MODIFY"]) {
      type ... on IlandEvent { companyId kind } } }`,
  );
  await waitFor(() => authorized(s), "authorised socket");
  await ready(relay, 1);
  assertEquals(s.server.frames()[0]?.startsWith("Bearer "), true);
  assertEquals((await source(relay)).interest, ["all companies"]);
  s.emitEvent({ owner_id: "1000456", type: "ORG_MODIFY" });
  s.emitTask({ company_id: "1000123", status: "success" });
  s.emitTask({ company_id: "1000123", status: "running" });
  const rows = (await cross.waitForCount(2)).map((r) => r.events);
  assertEquals(rows, [
    { type: "ORG_MODIFY", companyId: "1000456", kind: "EVENT" } as typeof rows[number],
    { type: "TASK_SUCCESS", companyId: "1000123", kind: "TASK" } as typeof rows[number],
  ]);
});

Deno.test("iland OAuth: a refused (still unexpired) token is renewed before the next attempt", async () => {
  await using s = await sim();
  await using relay = await startRelay([{ ...s.oauthSourceConfig("cloud"), ...FAST }]);
  await using client = connectClient(relay.wsUrl);
  const events = client.subscribe<Row>(SUB);
  await ready(relay, 1);
  s.expireAllTokens();
  s.server.dropConnections();
  // The cached token still looks valid for minutes, so it is presented and refused first.
  await waitFor(() => s.authRejections >= 1, "the refusal");
  await waitFor(() => authorized(s), "re-authorised with a new login");
  await ready(relay, 1);
  assertStringIncludes(relay.logs.join("\n"), "iland refused the access token; renewing it");
  s.emitEvent();
  await events.waitForCount(1);
  assertEquals(s.authRejections, 1);
});
