import { assert, assertEquals, assertMatch } from "@std/assert";
import type { Clock } from "../../platform/clock.ts";
import { createKazooSimulator, DEFAULT_ACCOUNTS, type KazooSimulatorOptions } from "./simulator.ts";
import { amqpMatch, encodeAmqp } from "./bindings.ts";
import { credentialsHash, ServerFrame } from "./messages.ts";

const [MASTER, ACME, ACME_EAST, GLOBEX] = DEFAULT_ACCOUNTS.map((a) => a.id) as [
  string,
  string,
  string,
  string,
];

type Json = Record<string, unknown>;

/** Resolves `promise` or rejects after `ms`, leaving no timer behind. */
async function within<T>(promise: Promise<T>, ms = 2000, what = "value"): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`Timed out waiting for ${what}`)), ms);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** A test WebSocket client that queues every frame so none is missed. */
class Client {
  readonly socket: WebSocket;
  readonly closed: Promise<CloseEvent>;
  readonly #frames: Json[] = [];
  readonly #waiters: ((frame: Json) => void)[] = [];

  constructor(url: string) {
    this.socket = new WebSocket(url);
    const { promise, resolve } = Promise.withResolvers<CloseEvent>();
    this.closed = promise;
    this.socket.onclose = resolve;
    this.socket.onmessage = (e) => {
      const frame = JSON.parse(String(e.data)) as Json;
      const waiter = this.#waiters.shift();
      if (waiter) waiter(frame);
      else this.#frames.push(frame);
    };
  }

  static async open(url: string): Promise<Client> {
    const client = new Client(url);
    await within(
      new Promise((resolve, reject) => {
        client.socket.onopen = resolve;
        client.socket.onerror = () => reject(new Error("WebSocket failed to open"));
      }),
      2000,
      "open",
    );
    return client;
  }

  send(frame: Json | string): void {
    this.socket.send(typeof frame === "string" ? frame : JSON.stringify(frame));
  }

  next(ms = 2000): Promise<Json> {
    const queued = this.#frames.shift();
    if (queued) return Promise.resolve(queued);
    return within(new Promise((resolve) => this.#waiters.push(resolve)), ms, "a frame");
  }

  /** Sends `frame` and returns the next frame (the reply). */
  async request(frame: Json): Promise<Json> {
    this.send(frame);
    return await this.next();
  }

  get pending(): number {
    return this.#frames.length;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    if (this.socket.readyState !== WebSocket.CLOSED) this.socket.close();
    await within(this.closed, 2000, "close");
  }
}

async function started(options: KazooSimulatorOptions = {}) {
  const sim = createKazooSimulator(options);
  await sim.start();
  return sim;
}

function fakeClock(start = Date.UTC(2024, 4, 15, 12)): Clock & { advance(ms: number): void } {
  let now = start;
  return {
    now: () => now,
    setTimeout: (fn, ms) => setTimeout(fn, ms),
    clearTimeout: (id) => clearTimeout(id),
    advance: (ms) => void (now += ms),
  };
}

/** Sends a raw upgrade request and returns the HTTP status line. */
async function rawUpgrade(port: number, extra: string[] = []): Promise<string> {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  try {
    const request = [
      "GET /anything HTTP/1.1",
      `Host: 127.0.0.1:${port}`,
      "Upgrade: websocket",
      "Connection: Upgrade",
      "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==",
      "Sec-WebSocket-Version: 13",
      ...extra,
      "",
      "",
    ].join("\r\n");
    await conn.write(new TextEncoder().encode(request));
    const buf = new Uint8Array(1024);
    const n = await within(conn.read(buf), 2000, "upgrade response");
    return new TextDecoder().decode(buf.subarray(0, n ?? 0)).split("\r\n")[0] ?? "";
  } finally {
    conn.close();
  }
}

function put(url: string, body: unknown): Promise<Response> {
  return fetch(url, { method: "PUT", body: JSON.stringify(body) });
}

const sub = (binding: string, accountId: string, extra: Json = {}): Json => ({
  action: "subscribe",
  request_id: `req-${binding}`,
  data: { account_id: accountId, binding },
  ...extra,
});

const errorReply = (requestId: unknown, error: string): Json => ({
  action: "reply",
  request_id: requestId,
  status: "error",
  data: { errors: [error] },
});

Deno.test("kazoo user_auth issues tokens for md5 credentials and refuses bad ones", async () => {
  await using sim = await started({ username: "Admin" });
  const creds = credentialsHash("admin", "secret");
  assertEquals(sim.credentials, creds);

  const ok = await put(`${sim.apiUrl}/user_auth`, {
    data: { credentials: creds, account_name: "master" },
    method: "md5",
  });
  assertEquals(ok.status, 201);
  const body = await ok.json();
  assertEquals(body.status, "success");
  assertEquals(body.data.account_id, MASTER);
  assertMatch(body.data.owner_id, /^[0-9a-f]{32}$/);
  assertEquals(body.auth_token.split(".").length, 3);

  const byRealm = await put(`${sim.apiUrl}/user_auth`, {
    data: { credentials: creds, account_realm: "master.sip.example.com" },
  });
  assertEquals(byRealm.status, 201);
  await byRealm.body?.cancel();

  for (
    const data of [
      { credentials: credentialsHash("admin", "wrong"), account_name: "master" },
      { credentials: creds, account_name: "Globex" },
      { credentials: creds },
    ]
  ) {
    const bad = await put(`${sim.apiUrl}/user_auth`, { data });
    assertEquals(bad.status, 401);
    const err = await bad.json();
    assertEquals([err.status, err.error, err.message], ["error", "401", "invalid credentials"]);
  }

  sim.rejectCredentials = true;
  const rejected = await put(`${sim.apiUrl}/user_auth`, {
    data: { credentials: creds, account_name: "master" },
  });
  assertEquals(rejected.status, 401);
  await rejected.body?.cancel();

  const missing = await put(`${sim.apiUrl}/user_auth`, { data: {} });
  assertEquals(missing.status, 400);
  await missing.body?.cancel();
  const wrongMethod = await fetch(`${sim.apiUrl}/user_auth`);
  assertEquals(wrongMethod.status, 405);
  await wrongMethod.body?.cancel();
  const unknown = await fetch(`${sim.apiUrl}/accounts`);
  assertEquals(unknown.status, 404);
  await unknown.body?.cancel();
});

Deno.test("kazoo api_auth issues a token for a known api key", async () => {
  await using sim = await started();
  const ok = await put(`${sim.apiUrl}/api_auth`, {
    data: { api_key: DEFAULT_ACCOUNTS[0]?.apiKey },
  });
  assertEquals(ok.status, 201);
  assertEquals((await ok.json()).data.account_id, MASTER);
  const bad = await put(`${sim.apiUrl}/api_auth`, { data: { api_key: "nope" } });
  assertEquals(bad.status, 401);
  await bad.body?.cancel();
});

Deno.test("kazoo refuses sub-protocols (400) and connections over the per-IP cap (429)", async () => {
  await using sim = await started({ maxConnectionsPerIp: 1 });
  assertEquals(
    await rawUpgrade(sim.server.port, ["Sec-WebSocket-Protocol: chat"]),
    "HTTP/1.1 400 Bad Request",
  );
  await using _first = await Client.open(`${sim.url}/any/path`);
  assertEquals(await rawUpgrade(sim.server.port), "HTTP/1.1 429 Too Many Requests");
  assertEquals(sim.server.refused, 2);
});

Deno.test("kazoo subscribe pins the account and delivers matching call events", async () => {
  await using sim = await started();
  const login = await put(`${sim.apiUrl}/user_auth`, {
    data: { credentials: sim.credentials, account_name: sim.accountName },
  });
  const token = (await login.json()).auth_token as string;
  await using ws = await Client.open(sim.url);
  const id = sim.server.accepted;

  const reply = await ws.request(sub("call.CHANNEL_CREATE.*", MASTER, { auth_token: token }));
  assertEquals(reply, {
    action: "reply",
    request_id: "req-call.CHANNEL_CREATE.*",
    status: "success",
    data: { subscribed: ["call.CHANNEL_CREATE.*"] },
  });
  assertEquals(sim.subscriptions(id), [{
    binding: "call.CHANNEL_CREATE.*",
    key: `call.${MASTER}.CHANNEL_CREATE.*`,
  }]);
  assertEquals(sim.session(id)?.accountId, MASTER);

  assertEquals(sim.emitCall({ event: "CHANNEL_ANSWER", callId: "c1" }), 0);
  assertEquals(sim.emitCall({ accountId: ACME, event: "CHANNEL_CREATE", callId: "c1" }), 0);
  assertEquals(
    sim.emitCall({
      event: "CHANNEL_CREATE",
      callId: "abc.def@10.0.0.1",
      data: { "Caller-ID-Name": "Zed" },
    }),
    1,
  );
  const event = await ws.next();
  assert(ServerFrame.safeParse(event).success);
  assertEquals(event.action, "event");
  assertEquals(event.subscribed_key, "call.CHANNEL_CREATE.*");
  assertEquals(event.subscription_key, `call.${MASTER}.CHANNEL_CREATE.*`);
  assertEquals(event.name, "CHANNEL_CREATE");
  assertEquals(event.routing_key, `call.${MASTER}.CHANNEL_CREATE.abc%2Edef@10%2E0%2E0%2E1`);
  assert(!("request_id" in event));
  const data = event.data as Json;
  assertEquals(data.call_id, "abc.def@10.0.0.1");
  assertEquals(data.caller_id_name, "Zed");
  assertEquals(data.event_category, "call_event");
  assertEquals((data.custom_channel_vars as Json).account_id, MASTER);
  assert(!Object.keys(data).some((k) => /[A-Z-]/.test(k)));
});

Deno.test("kazoo subscribed lists one entry per internal key; (un)subscribe are idempotent", async (t) => {
  await using sim = await started();
  await using ws = await Client.open(sim.url);
  const id = sim.server.accepted;
  const token = sim.issueToken();
  const nine = Array(9).fill("call.*.*");

  await t.step("call.*.* expands to the nine call events", async () => {
    const reply = await ws.request(sub("call.*.*", MASTER, { auth_token: token }));
    assertEquals(reply.data, { subscribed: nine });
    assertEquals(sim.subscriptions(id).length, 9);
    assertEquals((await ws.request(sub("call.*.*", MASTER))).data, { subscribed: nine });
  });

  await t.step("object.*.* covers the account DB and the monthly DB", async () => {
    const reply = await ws.request(sub("object.*.*", MASTER));
    assertEquals(reply.data, { subscribed: [...nine, "object.*.*", "object.*.*"] });
    assertEquals(sim.emitObject({ action: "doc_deleted", type: "fax", id: "f1" }), 1);
    const event = await ws.next();
    assertMatch(String(event.routing_key), /^doc_deleted\.account%2F6b%2F71%2F.*-\d{6}\.fax\.f1$/);
  });

  await t.step("unsubscribe removes one client binding; unknown ones still succeed", async () => {
    const reply = await ws.request({
      action: "unsubscribe",
      request_id: "u1",
      data: { account_id: MASTER, binding: "call.*.*" },
    });
    assertEquals(reply, {
      action: "reply",
      request_id: "u1",
      status: "success",
      data: { unsubscribed: ["call.*.*"], subscribed: ["object.*.*", "object.*.*"] },
    });
    const unknown = await ws.request({
      action: "unsubscribe",
      data: { account_id: MASTER, binding: "call.CHANNEL_HOLD.xyz" },
    });
    assertEquals(unknown.status, "success");
    assertEquals(unknown.data, {
      unsubscribed: ["call.CHANNEL_HOLD.xyz"],
      subscribed: ["object.*.*", "object.*.*"],
    });
    assertMatch(String(unknown.request_id), /^[0-9a-f]{32}$/);
  });
});

Deno.test("kazoo delivers one frame per matching binding, honours ids, # and accounts", async () => {
  await using sim = await started();
  await using ws = await Client.open(sim.url);
  await ws.request(sub("call.*.*", ACME_EAST, { auth_token: sim.issueToken() }));
  await ws.request(sub("call.CHANNEL_CREATE.#", ACME_EAST));
  await ws.request(sub(`call.CHANNEL_DESTROY.${encodeAmqp("x.y")}`, MASTER));
  await ws.request(sub("object.doc_created.user", ACME_EAST));

  assertEquals(sim.emitCall({ accountId: ACME_EAST, event: "CHANNEL_CREATE" }), 2);
  const keys = [(await ws.next()).subscribed_key, (await ws.next()).subscribed_key];
  assertEquals(keys.sort(), ["call.*.*", "call.CHANNEL_CREATE.#"]);

  assertEquals(sim.emitCall({ event: "CHANNEL_DESTROY", callId: "other" }), 0);
  assertEquals(sim.emitCall({ event: "CHANNEL_DESTROY", callId: "x.y" }), 1);
  assertEquals((await ws.next()).subscribed_key, "call.CHANNEL_DESTROY.x%2Ey");

  assertEquals(sim.emitObject({ accountId: ACME_EAST, action: "doc_edited", type: "user" }), 0);
  assertEquals(sim.emitObject({ accountId: ACME_EAST, action: "doc_created", type: "device" }), 0);
  assertEquals(
    sim.emitObject({ accountId: ACME_EAST, action: "doc_created", type: "user", id: "u1" }),
    1,
  );
  const event = await ws.next();
  assertEquals(event.name, "doc_created");
  assertEquals(
    event.subscription_key,
    "doc_created.account%2F9e%2F8d%2F7c6b5a4f3e2d1c0b9a8f7e6d5c4b.user.*",
  );
  assertEquals((event.data as Json).id, "u1");
  assertEquals((event.data as Json).type, "user");
  assertEquals(ws.pending, 0);
});

Deno.test("kazoo authentication errors, token expiry and revocation", async () => {
  const clock = fakeClock();
  await using sim = await started({ clock, tokenLifetimeSeconds: 60 });
  await using ws = await Client.open(sim.url);
  const b = "call.CHANNEL_CREATE.*";

  assertEquals(
    await ws.request(sub(b, MASTER)),
    errorReply(`req-${b}`, "authentication token required"),
  );
  assertEquals(
    await ws.request(sub(b, MASTER, { auth_token: 42 })),
    errorReply(`req-${b}`, "invalid authentication token format"),
  );
  assertEquals(
    await ws.request(sub(b, MASTER, { auth_token: "bogus" })),
    errorReply(`req-${b}`, "failed to authenticate token bogus"),
  );
  const revoked = sim.issueToken();
  assert(sim.revokeToken(revoked));
  assertEquals((await ws.request(sub(b, MASTER, { auth_token: revoked }))).status, "error");
  const expiring = sim.issueToken();
  clock.advance(61_000);
  assertEquals(
    await ws.request(sub(b, MASTER, { auth_token: expiring })),
    errorReply(`req-${b}`, `failed to authenticate token ${expiring}`),
  );

  // A failed pipeline discards the context: a good token with a bad binding pins nothing.
  const token = sim.issueToken();
  assertEquals(
    (await ws.request(sub("call.NOPE.*", MASTER, { auth_token: token }))).status,
    "error",
  );
  assertEquals((await ws.request(sub(b, MASTER))).data, {
    errors: ["authentication token required"],
  });

  // Once pinned, the token is never checked again, even after it expires.
  assertEquals((await ws.request(sub(b, MASTER, { auth_token: token }))).status, "success");
  sim.expireAllTokens();
  assertEquals(
    (await ws.request(sub("call.CHANNEL_ANSWER.*", MASTER, { auth_token: "x" }))).status,
    "success",
  );
  await using fresh = await Client.open(sim.url);
  assertEquals((await fresh.request(sub(b, MASTER, { auth_token: token }))).status, "error");
});

Deno.test("kazoo validation and authorization error texts", async () => {
  await using sim = await started();
  await using ws = await Client.open(sim.url);
  await ws.request({ action: "noop", auth_token: sim.issueToken({ accountId: ACME }) });
  const cases: [Json, string][] = [
    [{ action: "subscribe" }, "missing required keys in data object"],
    [{ action: "subscribe", data: {} }, "missing required keys in data object"],
    [{ action: "subscribe", data: { account_id: ACME } }, "missing required keys : binding"],
    [
      { action: "unsubscribe", data: { binding: "call.*.*" } },
      "missing required keys : account_id",
    ],
    [sub("call.FOO.*", ACME), "event FOO not supported"],
    [sub("call.CHANNEL_CREATE", ACME), "invalid format for call subscription : CHANNEL_CREATE"],
    [sub("call.a.b.c", ACME), "invalid format for call subscription : a, b, c"],
    [sub("object.doc_created.widget", ACME), "event doc_created.widget not supported"],
    [sub("object.*.widget", ACME), "event *.widget not supported"],
    [sub("object.doc_made.*", ACME), "event doc_made.* not supported"],
    [sub("object.doc_created", ACME), "invalid format for object subscription : doc_created"],
    [sub("fax.foo", ACME), "invalid format for fax subscription : foo"],
    [sub("conference.command.*", ACME), "ConferenceId required"],
    [sub("conference.event.c1.*.bogus", ACME), "Unsupported conference event bogus"],
    [sub("doc_created.*.user.*", ACME), "no available subscriptions to requested binding"],
    [sub("presence.update.*", ACME), "no available subscriptions to requested binding"],
    [sub("call.*.*", MASTER), "unauthorized account id"],
    [sub("call.*.*", GLOBEX), "unauthorized account id"],
    [sub("call.*.*", "*"), "unauthorized wildcard account id"],
    [sub("doc_created.*.user.*", GLOBEX), "unauthorized account id"],
  ];
  for (const [frame, error] of cases) {
    const reply = await ws.request({ ...frame, request_id: "v" });
    assertEquals(reply, errorReply("v", error), JSON.stringify(frame));
  }
  for (
    const ok of [
      "fax.status.*",
      "fax.object.doc_created",
      "conference.command.c1",
      "conference.event.c1.*",
    ]
  ) {
    assertEquals((await ws.request(sub(ok, ACME_EAST))).status, "success", ok);
  }
  assertEquals(sim.dropped, 0);
});

Deno.test("kazoo super-duper admins may subscribe every account with *", async () => {
  await using sim = await started();
  await using ws = await Client.open(sim.url);
  const token = sim.issueToken({ superDuperAdmin: true });
  const reply = await ws.request(sub("call.CHANNEL_CREATE.*", "*", { auth_token: token }));
  assertEquals(reply.status, "success");
  assertEquals(sim.emitCall({ accountId: GLOBEX, event: "CHANNEL_CREATE" }), 1);
  assertEquals((await ws.next()).subscription_key, "call.*.CHANNEL_CREATE.*");
});

Deno.test("kazoo ping and handler-less actions", async () => {
  await using sim = await started();
  await using ws = await Client.open(sim.url);
  assertEquals(
    await ws.request({ action: "ping", request_id: "p0" }),
    errorReply("p0", "authentication token required"),
  );
  assertEquals(
    await ws.request({ action: "ping", request_id: "p1", auth_token: sim.issueToken() }),
    {
      action: "reply",
      request_id: "p1",
      status: "success",
      data: { response: "pong" },
    },
  );
  // No action at all is "noop": generic success with the last command's data.
  assertEquals((await ws.request({ request_id: "n" })).data, { response: "pong" });

  await using noPing = await started({ pingModule: false });
  await using ws2 = await Client.open(noPing.url);
  await ws2.request(sub("call.CHANNEL_CREATE.*", MASTER, { auth_token: noPing.issueToken() }));
  const pong = await ws2.request({ action: "ping", request_id: "p2" });
  assertEquals(pong.status, "success");
  assertEquals(pong.data, { subscribed: ["call.CHANNEL_CREATE.*"] });
});

Deno.test("kazoo drops the socket without a reply on malformed frames", async () => {
  await using sim = await started();
  const token = sim.issueToken();
  const bad = [
    "{not json",
    "[1,2]",
    JSON.stringify({ action: 7, auth_token: token }),
    JSON.stringify(
      sub("", MASTER, { auth_token: token, data: { account_id: MASTER, binding: 5 } }),
    ),
  ];
  await using survivor = await Client.open(sim.url);
  for (const [i, text] of bad.entries()) {
    await using ws = await Client.open(sim.url);
    ws.send(text);
    const closed = await within(ws.closed, 2000, "drop");
    assertEquals(closed.code, 1011);
    assertEquals(ws.pending, 0);
    assertEquals(sim.dropped, i + 1);
  }
  assertEquals((await survivor.request({ action: "ping", auth_token: token })).status, "success");
});

Deno.test("kazoo rate limits every action with a 100-token bucket refilled 10/s", async () => {
  const clock = fakeClock();
  await using sim = await started({ clock });
  await using ws = await Client.open(sim.url);
  const session = sim.session(sim.server.accepted)?.sessionId;
  const token = sim.issueToken();
  for (let i = 0; i < 100; i++) ws.send({ action: "ping", auth_token: token, request_id: i });
  for (let i = 0; i < 100; i++) assertEquals((await ws.next()).status, "success");
  assertEquals(
    await ws.request({ action: "ping", request_id: "over" }),
    errorReply("over", `rate limiting threshold hit for ${session}!`),
  );
  assertEquals(sim.rateLimited, 1);
  clock.advance(999);
  assertEquals((await ws.request({ action: "ping" })).status, "error");
  clock.advance(1);
  for (let i = 0; i < 10; i++) {
    assertEquals((await ws.request({ action: "ping" })).status, "success");
  }
  assertEquals((await ws.request({ action: "ping" })).status, "error");
  assertEquals(sim.rateLimited, 3);
});

Deno.test("kazoo closes sockets idle past the timeout; inbound frames reset it", async () => {
  await using sim = await started({ idleTimeoutMs: 300 });
  await using ws = await Client.open(sim.url);
  const token = sim.issueToken();
  for (let i = 0; i < 3; i++) {
    // Each round trip lands well inside the timeout and re-arms it.
    assertEquals((await ws.request({ action: "ping", auth_token: token })).status, "success");
  }
  const closed = await within(ws.closed, 2000, "idle close");
  assertEquals(closed.code, 1000);
  assertEquals(sim.idleClosed, 1);
});

Deno.test("kazoo drop and restart: same port, fresh unauthenticated sessions, tokens survive", async () => {
  await using sim = await started();
  const token = sim.issueToken();
  const port = sim.server.port;
  await using ws = await Client.open(sim.url);
  await ws.request(sub("call.*.*", MASTER, { auth_token: token }));
  sim.server.dropConnections();
  assertEquals((await within(ws.closed)).code, 1011);

  await sim.restart();
  assertEquals(sim.server.port, port);
  await using again = await Client.open(sim.url);
  const id = sim.server.accepted;
  assertEquals(sim.subscriptions(id), []);
  assertEquals(sim.session(id)?.accountId, undefined);
  assertEquals(sim.emitCall({ event: "CHANNEL_CREATE" }), 0);
  assertEquals(
    (await again.request(sub("call.*.*", MASTER, { auth_token: token }))).status,
    "success",
  );
  assertEquals(sim.sendRaw('{"action":"raw"}'), 1);
  assertEquals(await again.next(), { action: "raw" });
});

Deno.test("kazoo emitRandom produces varied call and object events for two accounts", async () => {
  await using sim = await started();
  await using ws = await Client.open(sim.url);
  const token = sim.issueToken();
  for (const account of [MASTER, ACME]) {
    await ws.request(sub("call.*.*", account, { auth_token: token }));
    await ws.request(sub("object.*.*", account));
  }
  let seed = 7;
  const random = () => {
    seed = (seed * 1103515245 + 12345) % 2 ** 31;
    return seed / 2 ** 31;
  };
  for (let i = 0; i < 40; i++) sim.emitRandom(random);
  const names = new Set<string>();
  const accounts = new Set<string>();
  for (let i = 0; i < 40; i++) {
    const frame = await ws.next();
    assert(ServerFrame.safeParse(frame).success);
    names.add(String(frame.name));
    accounts.add(String(frame.routing_key).split(".")[1] ?? "");
  }
  assertEquals(ws.pending, 0);
  for (const name of ["CHANNEL_CREATE", "CHANNEL_ANSWER", "doc_created"]) {
    assert(names.has(name), name);
  }
  assert(accounts.size >= 2);
});

Deno.test("kazoo sourceConfig points at the simulator with valid credentials", async () => {
  await using sim = await started();
  const config = sim.sourceConfig("voip");
  assertEquals(config, {
    name: "voip",
    kind: "kazoo",
    url: `ws://127.0.0.1:${sim.server.port}`,
    apiUrl: `http://127.0.0.1:${sim.server.port}/v2`,
    credentials: credentialsHash("admin", "secret"),
    accountName: "master",
  });
  const login = await put(`${config.apiUrl}/user_auth`, {
    data: { credentials: config.credentials, account_name: config.accountName },
  });
  assertEquals(login.status, 201);
  await login.body?.cancel();
});

Deno.test("kazoo amqpMatch: * is one segment, # is zero or more", () => {
  assert(amqpMatch("call.a.*.*", "call.a.X.id"));
  assert(!amqpMatch("call.a.*.*", "call.a.X"));
  assert(!amqpMatch("call.a.*", "call.a.X.id"));
  assert(amqpMatch("call.#", "call"));
  assert(amqpMatch("call.#", "call.a.b.c"));
  assert(amqpMatch("a.#.z", "a.z"));
  assert(amqpMatch("a.#.z", "a.b.c.z"));
  assert(!amqpMatch("a.#.z", "a.b.c"));
  assert(amqpMatch("#", "anything.at.all"));
  assertEquals(encodeAmqp("a.b*c#d"), "a%2Eb%2Ac%23d");
});
