import { assert, assertEquals, assertThrows } from "@std/assert";
import {
  createIlandSimulator,
  type IlandSimulator,
  type IlandSimulatorOptions,
} from "./simulator.ts";
import {
  AuthLineSchema,
  type EventJson,
  PushUpdateSchema,
  type TaskJson,
  TokenResponseSchema,
} from "./messages.ts";

const STATIC = "iland-sim-static-token";
const EVENT_KEYS = (
  "details entity_name entity_type entity_uuid initiated_by_full_name " +
  "initiated_by_username owner_id owner_type task_uuid timestamp type uuid"
).split(" ");
const TASK_KEYS = (
  "active company_id end_time entity_name entity_uuid initiated_from_ecs " +
  "initiation_time location_id message operation operation_description org_uuid " +
  "other_attributes parent_task_uuid progress start_time status sub_tasks synced " +
  "task_id task_type user_full_name username uuid"
).split(" ");

/** Waits for `cond` with a deadline instead of a fixed sleep. */
async function until(cond: () => boolean, ms = 2000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error("Timed out waiting for condition");
    await new Promise((r) => setTimeout(r, 5));
  }
}

/** A test WebSocket client that queues frames so none is missed. */
class Client {
  readonly socket: WebSocket;
  readonly closed: Promise<CloseEvent>;
  readonly #queue: string[] = [];
  #wake: (() => void) | undefined;

  constructor(url: string) {
    this.socket = new WebSocket(url);
    this.socket.onmessage = (e) => {
      this.#queue.push(String(e.data));
      this.#wake?.();
    };
    this.closed = new Promise((resolve) => {
      this.socket.onclose = (e) => {
        resolve(e);
        this.#wake?.();
      };
    });
  }

  async next(ms = 2000): Promise<string> {
    const deadline = Date.now() + ms;
    while (this.#queue.length === 0) {
      if (this.socket.readyState === WebSocket.CLOSED) throw new Error("Socket closed");
      const left = deadline - Date.now();
      if (left <= 0) throw new Error("Timed out waiting for a frame");
      let timer: ReturnType<typeof setTimeout> | undefined;
      await new Promise<void>((resolve) => {
        this.#wake = resolve;
        timer = setTimeout(resolve, left);
      });
      clearTimeout(timer);
      this.#wake = undefined;
    }
    return this.#queue.shift() ?? "";
  }

  async update() {
    return PushUpdateSchema.parse(JSON.parse(await this.next()));
  }

  async event(): Promise<EventJson> {
    const u = await this.update();
    assertEquals(u.type, "EVENT");
    return u.data as EventJson;
  }

  async task(): Promise<TaskJson> {
    const u = await this.update();
    assertEquals(u.type, "TASK");
    return u.data as TaskJson;
  }

  async close(): Promise<void> {
    if (this.socket.readyState < WebSocket.CLOSING) this.socket.close();
    await this.closed;
  }
}

/** Runs `fn` against a started simulator, closing every client and the server afterwards. */
async function withSim(
  options: IlandSimulatorOptions,
  fn: (sim: IlandSimulator, connect: (line?: string) => Promise<Client>) => Promise<void>,
): Promise<void> {
  const sim = createIlandSimulator(options);
  await sim.start();
  const clients: Client[] = [];
  // Opens a client, checks the greeting, and (with `line`) authenticates and waits until the
  // simulator reports the session authorized (the protocol has no "auth OK" frame, §1.1).
  const connect = async (line?: string) => {
    const c = new Client(sim.url);
    clients.push(c);
    assertEquals(await c.next(), "AUTHORIZATION");
    if (line !== undefined) {
      const before = sim.sessions().filter((s) => s.phase === "authorized").length;
      c.socket.send(line);
      await until(() => sim.sessions().filter((s) => s.phase === "authorized").length > before);
    }
    return c;
  };
  try {
    await fn(sim, connect);
  } finally {
    await Promise.all(clients.map((c) => c.close()));
    await sim.stop();
  }
}

function form(fields: Record<string, string>): RequestInit {
  return {
    method: "POST",
    headers: { "content-type": "application/x-www-form-urlencoded" },
    body: new URLSearchParams(fields).toString(),
  };
}

const LOGIN = {
  grant_type: "password",
  client_id: "relay",
  client_secret: "relay-secret",
  username: "alice",
  password: "alice-password",
};

Deno.test("iland AuthLineSchema parses both documented line forms and nothing else", () => {
  assertEquals(AuthLineSchema.parse("companyId=123,Bearer abc.def"), {
    scope: "company",
    companyId: "123",
    token: "abc.def",
  });
  assertEquals(AuthLineSchema.parse("Bearer abc"), { scope: "all", token: "abc" });
  for (const bad of ["companyId=123, Bearer abc", "bearer abc", "Bearer abc\n", "Bearer", ""]) {
    assert(!AuthLineSchema.safeParse(bad).success, bad);
  }
});

Deno.test("iland simulator streams one company's EVENT/TASK frames after companyId auth", async () => {
  await withSim({}, async (sim, connect) => {
    const c = await connect(`companyId=1000123,Bearer ${STATIC}`);
    assertEquals(sim.sessions(), [{
      connection: 1,
      phase: "authorized",
      username: "alice",
      companies: ["1000123"],
      companyId: "1000123",
    }]);
    sim.emitEvent({ owner_id: "1000456" }); // visible to alice, but not this socket's company
    const sent = sim.emitEvent({ details: "mine" });
    const got = await c.event();
    assertEquals(got, sent);
    assertEquals(Object.keys(got).sort(), EVENT_KEYS);
    assertEquals(got.owner_type, "COMPANY");
    assertEquals(got.owner_id, "1000123");

    // The user's own USER-owned events reach company-scoped sockets too, without task_uuid.
    sim.emitEvent({ owner_type: "USER" });
    const user = await c.event();
    assertEquals(user.owner_type, "USER");
    assertEquals(user.owner_id, "alice");
    assert(!("task_uuid" in user));

    sim.emitTask({ company_id: "1000456" });
    const task = sim.emitTask();
    assertEquals(await c.task(), task);
    assertEquals(Object.keys(task).sort(), TASK_KEYS);
    assertEquals([task.status, task.active, task.end_time, task.synced], [
      "running",
      true,
      null,
      true,
    ]);
    const done = sim.emitTask({ uuid: task.uuid, status: "success" });
    assertEquals(await c.task(), done);
    assertEquals([done.active, done.progress, typeof done.end_time], [false, 100, "number"]);
  });
});

Deno.test("iland simulator: `Bearer` alone streams every company the user can see, nothing more", async () => {
  const users = [
    { username: "alice", password: "pa", fullName: "Alice A", companies: ["c1", "c2"] },
    { username: "bob", password: "pb", fullName: "Bob B", companies: ["c3"] },
  ];
  await withSim({ users, staticTokens: { ta: "alice", tb: "bob" } }, async (sim, connect) => {
    const a = await connect("Bearer ta");
    const b = await connect("companyId=c3,Bearer tb");
    sim.emitEvent({ owner_id: "c3", details: "bob's company" });
    sim.emitEvent({ owner_type: "USER", owner_id: "bob" });
    sim.emitEvent({ owner_id: "c2", details: "c2" });
    sim.emitEvent({ owner_id: "c1", details: "c1" });
    sim.emitEvent({ owner_type: "USER", owner_id: "alice" });
    assertEquals((await a.event()).details, "c2");
    assertEquals((await a.event()).details, "c1");
    assertEquals((await a.event()).owner_id, "alice");
    assertEquals((await b.event()).details, "bob's company");
    const bobUser = await b.event();
    assertEquals([bobUser.owner_id, bobUser.initiated_by_full_name], ["bob", "Bob B"]);
    assertEquals(sim.emitEvent({ owner_id: "c9" }).owner_id, "c9"); // nobody sees c9
    sim.emitTask({ company_id: "c2" });
    assertEquals((await a.task()).company_id, "c2");
  });
});

Deno.test("iland simulator refuses bad auth lines by closing with 1008 Unauthorized", async (t) => {
  await withSim(
    { users: [{ username: "alice", password: "p", fullName: "A", companies: ["1"] }] },
    async (sim, connect) => {
      const refresh = sim.issueToken().refresh_token;
      const lines = {
        "unknown token": "Bearer nope",
        "space after comma": `companyId=1, Bearer ${STATIC}`,
        "lower-case bearer": `bearer ${STATIC}`,
        "company the user cannot see": `companyId=2,Bearer ${STATIC}`,
        "a JSON frame before auth": JSON.stringify({ type: "subscribe" }),
        "an empty frame": "",
        "a refresh token": `Bearer ${refresh}`,
      };
      for (const [name, line] of Object.entries(lines)) {
        await t.step(name, async () => {
          const c = await connect();
          c.socket.send(line);
          const closed = await c.closed;
          assertEquals([closed.code, closed.reason], [1008, "Unauthorized"]);
        });
      }
      assertEquals(sim.authRejections, Object.keys(lines).length);
    },
  );
});

Deno.test("iland token endpoint: password grant, expiry on the injected clock, refresh event", async () => {
  let now = 1_700_000_000_000;
  await withSim(
    { now: () => now, tokenTtlSeconds: 60, refreshTtlSeconds: 600 },
    async (sim, connect) => {
      const res = await fetch(sim.tokenUrl, form(LOGIN));
      assertEquals(res.status, 200);
      const token = TokenResponseSchema.parse(await res.json());
      assertEquals([token.expires_in, token.refresh_expires_in, token.token_type], [
        60,
        600,
        "Bearer",
      ]);
      const c = await connect(`Bearer ${token.access_token}`);

      now += 61_000;
      const late = await connect();
      late.socket.send(`Bearer ${token.access_token}`);
      assertEquals((await late.closed).code, 1008);

      const refreshed = await fetch(
        sim.tokenUrl,
        form({
          grant_type: "refresh_token",
          client_id: "relay",
          client_secret: "relay-secret",
          refresh_token: token.refresh_token,
        }),
      );
      const next = TokenResponseSchema.parse(await refreshed.json());
      assert(next.access_token !== token.access_token);
      // §1.5: the refresh shows up on the (still open) stream; the token is checked only at auth.
      const evt = await c.event();
      assertEquals([evt.type, evt.owner_type, evt.owner_id, evt.entity_type], [
        "USER_REFRESH_TOKEN",
        "USER",
        "alice",
        "USER",
      ]);
      assertEquals(evt.timestamp, now);
      assert(!("task_uuid" in evt));
      await connect(`companyId=1000456,Bearer ${next.access_token}`);

      now += 601_000;
      const stale = await fetch(
        sim.tokenUrl,
        form({
          grant_type: "refresh_token",
          client_id: "relay",
          client_secret: "relay-secret",
          refresh_token: next.refresh_token,
        }),
      );
      assertEquals(stale.status, 400);
      assertEquals(await stale.json(), {
        error: "invalid_grant",
        error_description: "Token is not active",
      });
    },
  );
});

Deno.test("iland token endpoint answers bad requests with Keycloak's errors", async () => {
  await withSim({}, async (sim) => {
    const cases: [RequestInit, number, unknown][] = [
      [form({ ...LOGIN, password: "wrong" }), 401, ["invalid_grant", "Invalid user credentials"]],
      [form({ ...LOGIN, username: "mallory" }), 401, ["invalid_grant", "Invalid user credentials"]],
      [form({ ...LOGIN, client_secret: "x" }), 401, [
        "invalid_client",
        "Invalid client credentials",
      ]],
      [form({ ...LOGIN, client_id: "other" }), 401, [
        "invalid_client",
        "Invalid client credentials",
      ]],
      [form({ ...LOGIN, grant_type: "client_credentials" }), 400, [
        "unsupported_grant_type",
        "Unsupported grant_type",
      ]],
      [form({ client_id: "relay" }), 400, [
        "invalid_request",
        "Missing form parameter: grant_type",
      ]],
      [
        {
          method: "POST",
          body: JSON.stringify(LOGIN),
          headers: { "content-type": "application/json" },
        },
        400,
        [
          "invalid_request",
          "Missing form parameter: grant_type",
        ],
      ],
      [
        form({
          grant_type: "refresh_token",
          client_id: "relay",
          client_secret: "relay-secret",
          refresh_token: "x",
        }),
        400,
        [
          "invalid_grant",
          "Invalid refresh token",
        ],
      ],
    ];
    for (
      const [init, status, [error, description]] of cases as [
        RequestInit,
        number,
        [string, string],
      ][]
    ) {
      const res = await fetch(sim.tokenUrl, init);
      assertEquals(res.status, status);
      assertEquals(await res.json(), { error, error_description: description });
    }
    const get = await fetch(sim.tokenUrl);
    assertEquals(get.status, 405);
    await get.body?.cancel();
    const other = await fetch(sim.server.httpOrigin + "/v1/events");
    assertEquals(other.status, 404);
    await other.body?.cancel();
    const plain = await fetch(sim.server.httpOrigin + "/v1/event-websocket");
    assertEquals(plain.status, 426);
    await plain.body?.cancel();
  });
});

Deno.test("iland simulator: expireAllTokens refuses every token until a new one is added", async () => {
  await withSim({}, async (sim, connect) => {
    const issued = sim.issueToken();
    sim.expireAllTokens();
    for (const token of [STATIC, issued.access_token]) {
      const c = await connect();
      c.socket.send(`Bearer ${token}`);
      assertEquals((await c.closed).code, 1008);
    }
    const res = await fetch(
      sim.tokenUrl,
      form({
        grant_type: "refresh_token",
        client_id: "relay",
        client_secret: "relay-secret",
        refresh_token: issued.refresh_token,
      }),
    );
    assertEquals((await res.json()).error_description, "Token is not active");
    sim.addStaticToken("fresh", "alice");
    await connect("Bearer fresh");
    await connect(`Bearer ${sim.issueToken().access_token}`);
  });
});

Deno.test("iland simulator ignores client frames after auth but records them", async () => {
  await withSim({}, async (sim, connect) => {
    const c = await connect(`Bearer ${STATIC}`);
    c.socket.send("hello");
    c.socket.send(`companyId=1000456,Bearer ${STATIC}`); // a second auth line changes nothing
    await until(() => sim.server.frames().length === 3);
    assertEquals(sim.server.frames(1), [
      `Bearer ${STATIC}`,
      "hello",
      `companyId=1000456,Bearer ${STATIC}`,
    ]);
    const [session] = sim.sessions();
    assert(session?.phase === "authorized" && session.companyId === undefined);
    sim.emitEvent({ owner_id: "1000123" });
    assertEquals((await c.event()).owner_id, "1000123");
  });
});

Deno.test("iland simulator: sendRaw reaches authorized sockets only; greeting is a knob", async () => {
  await withSim({}, async (sim, connect) => {
    const authed = await connect(`Bearer ${STATIC}`);
    const waiting = await connect();
    assertEquals(sim.sendRaw("{not json"), 1);
    assertEquals(await authed.next(), "{not json");
    waiting.socket.send(`Bearer ${STATIC}`);
    await until(() => sim.sessions().every((s) => s.phase === "authorized"));
    const sent = sim.emitEvent();
    assertEquals(await waiting.event(), sent); // the raw frame never reached it

    sim.greeting = "Unauthorized: service maintenance";
    const greeted = new Client(sim.url);
    assertEquals(await greeted.next(), "Unauthorized: service maintenance");
    await greeted.close();
    assertThrows(() => sim.emitEvent({ type: "vm_create" })); // never lower-case on the wire
  });
});

Deno.test("iland simulator: dropped clients re-authenticate after a restart on the same port", async () => {
  await withSim({}, async (sim, connect) => {
    const c = await connect(`Bearer ${STATIC}`);
    const port = sim.server.port;
    sim.server.dropConnections();
    assertEquals((await c.closed).code, 1011);
    await sim.restart();
    assertEquals(sim.server.port, port);
    const again = await connect(`Bearer ${STATIC}`);
    assertEquals(sim.sessions().length, 1);
    const sent = sim.emitTask();
    assertEquals(await again.task(), sent);
    await sim.stop();
    assertEquals((await again.closed).code, 1001);
  });
});

Deno.test("iland simulator: emitRandom sends varied, valid frames and completes its tasks", async () => {
  let seed = 42;
  const random = () => {
    seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31;
    return seed / 2 ** 31;
  };
  await withSim({}, async (sim, connect) => {
    const c = await connect(`Bearer ${STATIC}`);
    for (let i = 0; i < 150; i++) sim.emitRandom(random);
    const types = new Set<string>();
    const running = new Set<string>();
    let completed = 0;
    for (let i = 0; i < 150; i++) {
      const u = await c.update();
      if (u.type === "EVENT") {
        types.add(u.data.type);
        assertEquals("task_uuid" in u.data, u.data.owner_type === "COMPANY");
      } else if (u.data.status === "running") running.add(u.data.uuid);
      else if (u.data.status === "success" && running.has(u.data.uuid)) completed++;
    }
    for (
      const t of ["VM_POWER_STATE_CHANGE", "EDGE_FIREWALL_MODIFIED", "USER_LOGIN", "ORG_MODIFY"]
    ) {
      assert(types.has(t), `missing ${t} in ${[...types]}`);
    }
    assert(types.has("VM_CREATE") || types.has("VM_MODIFY"));
    assert(completed > 0 && running.size > 0);
  });
});

Deno.test("iland simulator sourceConfig entries connect with valid credentials", async () => {
  await withSim({}, async (sim, connect) => {
    const config = sim.sourceConfig("cloud");
    assertEquals(config, {
      name: "cloud",
      kind: "iland",
      url: sim.url,
      companyId: "1000123",
      accessToken: STATIC,
    });
    await connect(`companyId=${config.companyId},Bearer ${config.accessToken}`);
    const oauth = sim.oauthSourceConfig("cloud");
    assertEquals(Object.keys(oauth).sort(), [
      "clientId",
      "clientSecret",
      "companyId",
      "kind",
      "name",
      "password",
      "tokenUrl",
      "url",
      "username",
    ]);
    const res = await fetch(
      String(oauth.tokenUrl),
      form({
        grant_type: "password",
        client_id: String(oauth.clientId),
        client_secret: String(oauth.clientSecret),
        username: String(oauth.username),
        password: String(oauth.password),
      }),
    );
    const token = TokenResponseSchema.parse(await res.json());
    await connect(`companyId=${oauth.companyId},Bearer ${token.access_token}`);
  });
});
