import { assert, assertEquals, assertMatch } from "@std/assert";
import { createDrpSimulator, type DrpSimulator, type DrpSimulatorOptions } from "./simulator.ts";
import { drpEventSchema, formatGoTime, goJson, matchFilter, parseClientFrame } from "./messages.ts";

const BASIC = `Basic ${btoa("rocketskates:r0cketsk8ts")}`;
const TIME = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{1,9})?Z$/;

/** A loopback client that queues every frame so none is missed between awaits. */
class Client {
  readonly ws: WebSocket;
  readonly #queue: string[] = [];
  #wake: (() => void) | undefined;
  readonly #http: Deno.HttpClient | undefined;
  readonly closed: Promise<CloseEvent>;
  readonly opened: Promise<boolean>;

  constructor(url: string, headers: Record<string, string> = {}, caCerts?: string[]) {
    this.#http = caCerts ? Deno.createHttpClient({ caCerts }) : undefined;
    const init = this.#http ? { headers, client: this.#http } : { headers };
    // Deno's WebSocket takes an options object (headers, client); the DOM typings do not.
    this.ws = new WebSocket(url, init as unknown as string[]);
    this.ws.onmessage = (e) => {
      this.#queue.push(String(e.data));
      this.#wake?.();
    };
    this.closed = new Promise((r) => this.ws.addEventListener("close", r));
    this.opened = new Promise((r) => {
      this.ws.addEventListener("open", () => r(true));
      this.ws.addEventListener("close", () => r(false));
    });
    this.closed.then(() => {
      this.#http?.close();
      this.#wake?.();
    });
  }

  static async connect(
    sim: DrpSimulator,
    headers: Record<string, string> = { authorization: BASIC },
    query = "",
  ): Promise<Client> {
    const c = new Client(sim.url + query, headers);
    assert(await c.opened, "upgrade refused");
    return c;
  }

  async next(ms = 2000): Promise<string> {
    const deadline = Date.now() + ms;
    while (this.#queue.length === 0) {
      if (this.ws.readyState >= WebSocket.CLOSING) throw new Error("socket closed");
      const left = deadline - Date.now();
      if (left <= 0) throw new Error("timed out waiting for a frame");
      let timer: ReturnType<typeof setTimeout> | undefined;
      await new Promise<void>((r) => {
        this.#wake = r;
        timer = setTimeout(r, left);
      });
      clearTimeout(timer);
    }
    return this.#queue.shift()!;
  }

  async json(): Promise<Record<string, unknown>> {
    return JSON.parse(await this.next());
  }

  /** Sends a command and returns its acknowledgement. */
  async command(line: string): Promise<Record<string, unknown>> {
    this.ws.send(line);
    return await this.json();
  }

  async close(): Promise<void> {
    if (this.ws.readyState < WebSocket.CLOSING) this.ws.close();
    await this.closed;
  }
}

async function withSim(
  options: DrpSimulatorOptions,
  fn: (sim: DrpSimulator) => Promise<void>,
): Promise<void> {
  await using sim = createDrpSimulator(options);
  await sim.start();
  await fn(sim);
}

async function get(sim: DrpSimulator, path: string, headers: Record<string, string> = {}) {
  const res = await fetch(sim.server.httpOrigin + path, { headers });
  const body = await res.text();
  return { status: res.status, www: res.headers.get("www-authenticate"), body };
}

Deno.test("drp_messages: frame parsing follows the v3 TrimSpace + SplitN(' ', 2) rules", () => {
  assertEquals(parseClientFrame("register machines.*.*"), {
    command: "register",
    filter: "machines.*.*",
  });
  assertEquals(parseClientFrame(" \t register *.*.*\r\n")?.filter, "*.*.*");
  assertEquals(parseClientFrame("register  a.b.c")?.filter, " a.b.c");
  assertEquals(parseClientFrame("deregister a.b.c d")?.filter, "a.b.c d");
  assertEquals(parseClientFrame("\u0085register a.b.c\u00a0")?.filter, "a.b.c");
  for (const bad of ["register", "register ", "register\ta.b.c", "REGISTER a.b.c", "hi x", ""]) {
    assertEquals(parseClientFrame(bad), undefined, bad);
  }
});

Deno.test("drp_messages: matching splits at the first two dots; exact or * per field", () => {
  const ev = { Type: "params", Action: "create", Key: "foo.bar.baz" };
  assertEquals(matchFilter("params.create.foo.bar.baz", ev), "match");
  assertEquals(matchFilter("*.*.*", ev), "match");
  assertEquals(matchFilter("params.*.foo", ev), "no-match");
  assertEquals(matchFilter("Params.create.*", ev), "no-match");
  assertEquals(matchFilter("par*.create.*", ev), "no-match");
  assertEquals(matchFilter("params,machines.create.*", ev), "no-match");
  assertEquals(matchFilter("params", ev), "would-panic");
  assertEquals(matchFilter("machines", ev), "no-match"); // Go `continue`s before indexing [1]
  assertEquals(matchFilter("params.create", ev), "would-panic");
  assertEquals(matchFilter("params.create.", { ...ev, Key: "" }), "match");
});

Deno.test("drp_messages: Go time and JSON formatting", () => {
  const ms = Date.UTC(2017, 11, 21, 23, 26, 43, 412);
  assertEquals(formatGoTime(ms, 554192), "2017-12-21T23:26:43.412554192Z");
  assertEquals(formatGoTime(ms, 500000), "2017-12-21T23:26:43.4125Z");
  assertEquals(formatGoTime(Date.UTC(2024, 0, 1)), "2024-01-01T00:00:00Z");
  assertEquals(goJson({ a: "<b>&\u2028" }), '{"a":"\\u003cb\\u003e\\u0026\\u2028"}');
});

Deno.test("drp auth: accepted credentials at upgrade", async () => {
  await withSim({
    tokens: ["tok1", { token: "tok2", user: "alice" }],
    users: {
      rocketskates: "r0cketsk8ts",
      alice: "pw:with:colons",
    },
  }, async (sim) => {
    const clients = [
      await Client.connect(sim),
      await Client.connect(sim, { authorization: "Bearer tok1" }),
      await Client.connect(sim, { authorization: `Basic ${btoa("alice:pw:with:colons")}` }),
      await Client.connect(sim, {}, "?token=rocketskates:r0cketsk8ts"),
      await Client.connect(sim, {}, "?token=tok2"),
      // The header wins; the bad query value is never looked at.
      await Client.connect(sim, { authorization: "Bearer tok1" }, "?token=nope"),
    ];
    const seen = sim.sessions().map((s) => `${s.principal} ${s.auth} ${s.via}`);
    assertEquals(seen, [
      "user:rocketskates basic header",
      "user:rocketskates bearer header",
      "user:alice basic header",
      "user:rocketskates basic query",
      "user:alice bearer query",
      "user:rocketskates bearer header",
    ]);
    for (const c of clients) await c.close();
  });
});

Deno.test("drp auth: refusals carry the v3 status codes and headers", async () => {
  await withSim({ tokens: ["good", "old", "gone"] }, async (sim) => {
    sim.revokeToken("old");
    sim.expireToken("gone");
    const cases: [string, Record<string, string>, number, string | null][] = [
      ["", {}, 401, "dr-provision"],
      ["?Token=rocketskates:r0cketsk8ts", {}, 401, "dr-provision"], // case-sensitive key
      ["", { authorization: "bearer good" }, 401, "dr-provision"],
      ["", { authorization: "Token good" }, 401, "dr-provision"],
      ["", { authorization: "Basic" }, 401, "dr-provision"],
      ["", { authorization: "Basic !!!" }, 401, "dr-provision"],
      ["", { authorization: `Basic ${btoa("nocolon")}` }, 401, "dr-provision"],
      ["", { authorization: `Basic ${btoa("rocketskates:wrong")}` }, 403, null],
      ["", { authorization: `Basic ${btoa("nobody:x")}` }, 403, null],
      ["?token=nobody:x", {}, 403, null],
      ["", { authorization: "Bearer unknown" }, 403, "dr-provision"],
      ["?token=unknown", {}, 403, "dr-provision"],
      ["", { authorization: "Bearer gone" }, 403, "dr-provision"],
    ];
    for (const [query, headers, status, www] of cases) {
      const res = await get(sim, `/api/v3/ws${query}`, headers);
      assertEquals([res.status, res.www], [status, www], `${query} ${JSON.stringify(headers)}`);
    }
    const revoked = await get(sim, "/api/v3/ws", { authorization: "Bearer old" });
    assertEquals(revoked.status, 403);
    assertEquals(JSON.parse(revoked.body), {
      Model: "",
      Key: "",
      Type: "AUTH",
      Messages: ["Validation failed"],
      Code: 403,
    });
    // Authorised but not an upgrade: gorilla's 400. Other paths: gin's 404, before auth.
    assertEquals((await get(sim, "/api/v3/ws", { authorization: BASIC })).status, 400);
    const missing = await get(sim, "/api/v3/events");
    assertEquals(missing.status, 404);
    assertEquals(JSON.parse(missing.body).Messages, ["No route"]);
    // A real WebSocket client sees the refusal as a failed handshake.
    const refused = new Client(sim.url, { authorization: `Basic ${btoa("x:y")}` });
    assertEquals(await refused.opened, false);
    await refused.closed;
    assertEquals([sim.server.accepted, sim.server.refused], [0, 1]);
  });
});

Deno.test("drp auth: open sessions keep their claims; new upgrades are checked", async () => {
  await withSim({ tokens: ["t"] }, async (sim) => {
    const c = await Client.connect(sim, { authorization: "Bearer t" });
    await c.command("register machines.*.*");
    sim.revokeToken("t");
    sim.setUser("rocketskates", "changed");
    assertEquals(sim.emit({ Type: "machines", Action: "create", Key: "m1" }), 1);
    assertEquals((await c.json()).Key, "m1");
    assertEquals((await get(sim, "/api/v3/ws", { authorization: "Bearer t" })).status, 403);
    assertEquals((await get(sim, "/api/v3/ws", { authorization: BASIC })).status, 403);
    const t2 = sim.addToken();
    const c2 = await Client.connect(sim, { authorization: `Bearer ${t2}` });
    await c2.close();
    await c.close();
  });
});

Deno.test("drp register/deregister: acknowledged every time, stored as opaque strings", async () => {
  await withSim({}, async (sim) => {
    const c = await Client.connect(sim);
    const [id] = sim.sessions().map((s) => s.id);
    c.ws.send("register machines.*.*");
    const text = await c.next();
    const parsed = JSON.parse(text);
    assertEquals(Object.keys(parsed), [
      "Time",
      "Type",
      "Action",
      "Key",
      "Principal",
      "Object",
      "Original",
    ]);
    assertMatch(parsed.Time, TIME);
    assertEquals({ ...parsed, Time: "" }, {
      Time: "",
      Type: "websocket",
      Action: "register",
      Key: "machines.*.*",
      Principal: "",
      Object: null,
      Original: null,
    });
    assertEquals((await c.command("register machines.*.*")).Action, "register");
    assertEquals((await c.command("register profiles.save.global")).Key, "profiles.save.global");
    assertEquals(sim.filters(id!), ["machines.*.*", "profiles.save.global"]);
    const unknown = await c.command("deregister jobs.*.*");
    assertEquals([unknown.Action, unknown.Key], ["deregister", "jobs.*.*"]);
    assertEquals((await c.command("deregister machines.*.*")).Key, "machines.*.*");
    assertEquals(sim.filters(id!), ["profiles.save.global"]);
    assertEquals(sim.filters(9999), undefined);
    await c.close();
  });
});

Deno.test("drp malformed frames: ignored without reply; oversize frames drop the socket", async () => {
  await withSim({}, async (sim) => {
    const c = await Client.connect(sim);
    for (const bad of ["register", "  register   ", "hello world", "register\tx.y.z", "{}"]) {
      c.ws.send(bad);
    }
    // The next frame is the ack of the next valid command: nothing came before it.
    assertEquals((await c.command("deregister a.b.c")).Action, "deregister");
    assertEquals(sim.ignoredFrames, 5);
    const spaced = await c.command("register  machines.*.*");
    assertEquals(spaced.Key, " machines.*.*");
    assertEquals(sim.emit({ Type: "machines", Action: "create", Key: "m" }), 0);
    // 512 bytes is still fine; 513 bytes (counted in UTF-8) is "message too big".
    const exact = `register ${"x".repeat(512 - 9)}`;
    assertEquals((await c.command(exact)).Key, "x".repeat(503));
    c.ws.send(`register ${"é".repeat(252)}`); // 9 + 504 bytes
    assertEquals((await c.closed).code, 1009);
  });
});

Deno.test("drp matching: OR'd filters, one delivery per session, nothing unregistered", async () => {
  await withSim({}, async (sim) => {
    const all = await Client.connect(sim);
    const some = await Client.connect(sim);
    const none = await Client.connect(sim);
    await all.command("register *.*.*");
    await some.command("register machines.update.*");
    await some.command("register machines.*.m1");
    await some.command("register params.create.a.b");
    await some.command("register jobs"); // crashes a real v3 server once a jobs event arrives
    assertEquals(sim.emit({ Type: "machines", Action: "update", Key: "m1" }), 2);
    assertEquals(sim.emit({ Type: "machines", Action: "save", Key: "m2" }), 1);
    assertEquals(sim.emit({ Type: "params", Action: "create", Key: "a.b" }), 2);
    assertEquals(sim.emit({ Type: "Machines", Action: "update", Key: "m1" }), 1);
    assertEquals(sim.wouldHavePanicked, 0);
    assertEquals(sim.emit({ Type: "jobs", Action: "create", Key: "j1" }), 1);
    assertEquals(sim.wouldHavePanicked, 1);
    assertEquals(
      [(await some.json()).Key, (await some.json()).Key],
      ["m1", "a.b"],
    );
    const keys = [];
    for (let i = 0; i < 5; i++) keys.push((await all.json()).Key);
    assertEquals(keys, ["m1", "m2", "a.b", "m1", "j1"]);
    // The first frame it ever gets is the ack of its first command: no events leaked.
    assertEquals((await none.command("register tftp.serve.*")).Type, "websocket");
    for (const c of [all, some, none]) await c.close();
  });
});

Deno.test("drp events: exact shape, defaults and Go escaping", async () => {
  await withSim({}, async (sim) => {
    const c = await Client.connect(sim);
    await c.command("register profiles.*.*");
    const before = { Name: "global", Params: {} };
    sim.emit({
      Type: "profiles",
      Action: "save",
      Key: "global",
      Object: { Name: "global", Params: { bar: "<b>" } },
      Original: before,
    });
    const text = await c.next();
    assert(text.includes('"bar":"\\u003cb\\u003e"'), text);
    const ev = drpEventSchema.parse(JSON.parse(text));
    assertMatch(ev.Time, TIME);
    assertEquals(ev.Principal, "user:rocketskates");
    assertEquals(ev.Original, before);
    sim.emit({ Type: "profiles", Action: "delete", Key: "p", Principal: "", Time: "x" });
    assertEquals(JSON.parse(await c.next()), {
      Time: "x",
      Type: "profiles",
      Action: "delete",
      Key: "p",
      Principal: "",
      Object: null,
      Original: null,
    });
    assertEquals(sim.sendRaw("not json {"), 1);
    assertEquals(await c.next(), "not json {");
    await c.close();
  });
});

Deno.test("drp acks:false behaves like the Dec-2017 build: no ack, same filters", async () => {
  await withSim({ acks: false }, async (sim) => {
    const c = await Client.connect(sim);
    c.ws.send("register machines.*.*");
    c.ws.send("register machines.*.*");
    const id = sim.sessions()[0]!.id;
    // Frames are handled in order, so once the simulator has them both they took effect.
    const deadline = Date.now() + 2000;
    while (sim.server.frames(id).length < 2 && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 5));
    }
    assertEquals(sim.filters(id), ["machines.*.*"]);
    assertEquals(sim.emit({ Type: "machines", Action: "create", Key: "m" }), 1);
    assertEquals((await c.json()).Type, "machines");
    await c.close();
  });
});

Deno.test("drp outages: dropped sessions and restarts lose registrations", async () => {
  await withSim({}, async (sim) => {
    const c = await Client.connect(sim);
    await c.command("register *.*.*");
    sim.server.dropConnections();
    assertEquals((await c.closed).code, 1011);
    const port = sim.server.port;
    const c2 = await Client.connect(sim);
    await c2.command("register *.*.*");
    await sim.restart();
    assertEquals(sim.server.port, port);
    assertEquals((await c2.closed).code, 1001);
    const c3 = await Client.connect(sim);
    assertEquals(sim.sessions()[0]?.filters, []);
    assertEquals(sim.emit({ Type: "machines", Action: "create", Key: "m" }), 0);
    await c3.close();
  });
});

Deno.test("drp emitRandom: realistic, schema-valid, varied events", async () => {
  await withSim({}, async (sim) => {
    const c = await Client.connect(sim);
    await c.command("register *.*.*");
    let seed = 42;
    const random = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
    const types = new Set<string>();
    const uuid = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;
    for (let i = 0; i < 80; i++) {
      sim.emitRandom(random);
      const ev = drpEventSchema.parse(JSON.parse(await c.next()));
      types.add(`${ev.Type}.${ev.Action}`);
      assertMatch(ev.Time, TIME);
      assert(ev.Object !== null);
      assertEquals(ev.Original !== null, ev.Action === "update" || ev.Action === "save");
      if (ev.Type === "machines" || ev.Type === "jobs") assertMatch(ev.Key, uuid);
      assertMatch(ev.Principal, /^(user:rocketskates|runner:[0-9a-f-]{36})$/);
      const obj = ev.Object as Record<string, unknown>;
      if (ev.Type === "machines") assertEquals(obj.Uuid, ev.Key);
      if (ev.Type === "jobs") assert(["running", "finished", "failed"].includes(String(obj.State)));
    }
    for (const t of ["machines.create", "machines.update", "jobs.create", "jobs.update"]) {
      assert(types.has(t), `${t} in ${[...types]}`);
    }
    assert(types.size >= 7, [...types].join());
    await c.close();
  });
});

Deno.test("drp sourceConfig points at the simulator with working credentials", async () => {
  await withSim({}, async (sim) => {
    const config = sim.sourceConfig("lab-drp");
    assertEquals(config, {
      name: "lab-drp",
      kind: "drp",
      url: `ws://127.0.0.1:${sim.server.port}/api/v3/ws`,
      username: "rocketskates",
      password: "r0cketsk8ts",
    });
    const auth = `Basic ${btoa(`${config.username}:${config.password}`)}`;
    const c = await Client.connect(sim, { authorization: auth });
    await c.close();
  });
});

const fixture = (name: string) =>
  Deno.readTextFileSync(new URL(`../../../tests/fixtures/tls/${name}`, import.meta.url));
const CA = fixture("ca.pem");
const CERT = fixture("localhost.pem");
const KEY = fixture("localhost.key");

Deno.test("drp tls: wss with a self-signed CA", async () => {
  await withSim({ tls: { cert: CERT, key: KEY, ca: CA } }, async (sim) => {
    assertEquals(sim.url, `wss://127.0.0.1:${sim.server.port}/api/v3/ws`);
    assertEquals(sim.sourceConfig("x").caCert, CA);
    const c = new Client(sim.url, { authorization: BASIC }, [CA]);
    assert(await c.opened);
    assertEquals((await c.command("register *.*.*")).Type, "websocket");
    await c.close();
  });
});
