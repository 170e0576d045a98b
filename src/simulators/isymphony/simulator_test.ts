import { assert, assertEquals, assertNotEquals, assertThrows } from "@std/assert";
import { denoWebSocketFactory } from "../../platform/websocket.ts";
import { createISymphonySimulator, ISYMPHONY_EVENT_PATH } from "./simulator.ts";
import type { ISymphonySimulator } from "./simulator.ts";
import { matchesFilters } from "./match.ts";
import { ISymphonyEventSchema, ReplyMessageSchema } from "./messages.ts";
import type { FilterEntry } from "./messages.ts";

const AUTH = `Basic ${btoa("manager:manag3rpa55word")}`;
type Frame = Record<string, unknown>;

/** A test client that queues every frame so none is missed between awaits. */
class Client {
  readonly ws: WebSocket;
  readonly #queue: string[] = [];
  #waiter: (() => void) | undefined;
  readonly closed: Promise<CloseEvent>;

  private constructor(ws: WebSocket) {
    this.ws = ws;
    ws.onmessage = (e) => {
      this.#queue.push(String(e.data));
      this.#waiter?.();
    };
    this.closed = new Promise((resolve) => ws.addEventListener("close", resolve));
  }

  static async open(url: string, headers: Record<string, string> = { authorization: AUTH }) {
    const client = new Client(denoWebSocketFactory(url, { headers }));
    await new Promise<void>((resolve, reject) => {
      client.ws.onopen = () => resolve();
      client.ws.onerror = () => reject(new Error("upgrade refused"));
    });
    return client;
  }

  /** The next frame as text, failing after `ms`. */
  async nextText(ms = 2000): Promise<string> {
    const deadline = Date.now() + ms;
    while (this.#queue.length === 0) {
      const left = deadline - Date.now();
      if (left <= 0) throw new Error("timed out waiting for a frame");
      let timer: ReturnType<typeof setTimeout> | undefined;
      await new Promise<void>((resolve) => {
        this.#waiter = resolve;
        timer = setTimeout(resolve, left);
      });
      clearTimeout(timer);
      this.#waiter = undefined;
    }
    return this.#queue.shift()!;
  }

  async next(ms?: number): Promise<Frame> {
    return JSON.parse(await this.nextText(ms));
  }

  send(frame: unknown): void {
    this.ws.send(typeof frame === "string" ? frame : JSON.stringify(frame));
  }

  /** Sends a filter message and returns the reply. */
  async filter(filters: unknown, correlationId?: string): Promise<Frame> {
    this.send({ type: "filter", ...(correlationId ? { correlationId } : {}), filters });
    return await this.next();
  }

  async close(): Promise<void> {
    if (this.ws.readyState !== WebSocket.CLOSED) this.ws.close();
    await this.closed;
  }
}

async function withSim(fn: (sim: ISymphonySimulator) => Promise<void>): Promise<void> {
  await using sim = createISymphonySimulator();
  await sim.start();
  await fn(sim);
}

/** Emits a marker that passes any filter on `type`/`username`, and returns its frame. */
async function nextIsMarker(sim: ISymphonySimulator, client: Client): Promise<void> {
  sim.emitProperties({ type: "marker", username: "marker", queue: "marker" });
  assertEquals((await client.next()).type, "marker");
}

Deno.test("isymphony upgrade: Basic auth, 401 challenge, ACL 403, wrong path 404", async () => {
  await withSim(async (sim) => {
    const http = sim.server.httpOrigin + ISYMPHONY_EVENT_PATH;
    const noAuth = await fetch(http);
    await noAuth.body?.cancel();
    assertEquals(noAuth.status, 401);
    assertEquals(noAuth.headers.get("www-authenticate"), 'Basic realm="iSymphony"');
    const wrong = await fetch(http, { headers: { authorization: `Basic ${btoa("manager:x")}` } });
    await wrong.body?.cancel();
    assertEquals(wrong.status, 401);
    const garbage = await fetch(http, { headers: { authorization: "Basic %%%" } });
    await garbage.body?.cancel();
    assertEquals(garbage.status, 401);
    const plain = await fetch(http, { headers: { authorization: AUTH } });
    await plain.body?.cancel();
    assertEquals(plain.status, 426);
    const other = await fetch(sim.server.httpOrigin + "/communication_manager/ws/other");
    await other.body?.cancel();
    assertEquals(other.status, 404);

    // A refused WebSocket upgrade fails on the client and is counted.
    const bad = denoWebSocketFactory(sim.url, {
      headers: { authorization: `Basic ${btoa("a:b")}` },
    });
    await new Promise((resolve) => bad.onclose = resolve);
    assertEquals(sim.server.refused, 1);

    // The doc's own form: credentials as URL userinfo (Deno sends them as Basic).
    const userinfo = sim.url.replace("ws://", "ws://manager:manag3rpa55word@");
    const c1 = await Client.open(userinfo, {});
    await c1.close();

    sim.setCredentials("ops", "s3cret");
    const renamed = await Client.open(sim.url, { authorization: `Basic ${btoa("ops:s3cret")}` });
    await renamed.close();
    assertEquals(sim.sourceConfig("pbx"), {
      name: "pbx",
      kind: "isymphony",
      url: sim.url,
      username: "ops",
      password: "s3cret",
    });

    sim.setAllowedAddresses(["10.0.0.9"]);
    const denied = await fetch(http, { headers: { authorization: `Basic ${btoa("ops:s3cret")}` } });
    await denied.body?.cancel();
    assertEquals(denied.status, 403);
    sim.setAllowedAddresses("any");
    const c2 = await Client.open(sim.url, { authorization: `Basic ${btoa("ops:s3cret")}` });
    await c2.close();
  });
});

Deno.test("isymphony events: all delivered before a filter, alphabetical and schema-valid", async () => {
  await withSim(async (sim) => {
    const client = await Client.open(sim.url);
    assertEquals(sim.filters(1), undefined);
    const { event, delivered } = sim.emit({ type: "userLogin", username: "sarah" });
    assertEquals(delivered, 1);
    const text = await client.nextText();
    // seed lines 52–64: the userLogin example's properties, alphabetical on the wire.
    assertEquals(Object.keys(JSON.parse(text)), [
      "coreServerId",
      "ip",
      "port",
      "time",
      "type",
      "userId",
      "userLoginId",
      "username",
    ]);
    assertEquals(JSON.parse(text), event);
    assertEquals(event.coreServerId, sim.directory.coreServerId);
    const logout = sim.emit({ type: "userLogout", username: "sarah" }).event;
    assertEquals(logout.userLoginId, event.userLoginId);
    assertEquals(await client.next(), logout);
    for (const type of ["hangup", "linkEnd", "confRoomCallLeave", "dial", "agentLogin"] as const) {
      const frame = await (sim.emit({ type }), client.next());
      assertEquals(frame.type, type);
      ISymphonyEventSchema.parse(frame);
    }
    await client.close();
  });
});

Deno.test("isymphony filter: success reply, replacement, OR/AND, wildcard, numbers, case", async (t) => {
  await withSim(async (sim) => {
    const client = await Client.open(sim.url);

    await t.step("success echoes correlationId or null, alphabetically", async () => {
      client.send({ type: "filter", correlationId: "c-1", filters: [] });
      const text = await client.nextText();
      assertEquals(Object.keys(JSON.parse(text)), ["correlationId", "time", "type"]);
      assertEquals(ReplyMessageSchema.parse(JSON.parse(text)).correlationId, "c-1");
      const reply = await client.filter([]);
      assertEquals([reply.type, reply.correlationId], ["success", null]);
      assertEquals(sim.filters(1), []);
      sim.emit({ type: "hangup" }); // empty filters array: everything passes
      assertEquals((await client.next()).type, "hangup");
    });

    await t.step("same property OR'd, different properties AND'd", async () => {
      const filters: FilterEntry[] = [
        { property: "type", value: "agentLogin" },
        { property: "type", value: "agentLogout" },
        { property: "queue", value: "Support" },
      ];
      assertEquals((await client.filter(filters, "c-2")).type, "success");
      assertEquals(sim.filters(1), filters);
      sim.emit({ type: "agentLogin", queue: "Sales" }); // wrong queue
      sim.emit({ type: "hangup" }); // wrong type, no queue
      sim.emit({ type: "agentLogout", queue: "Support", username: "dave" });
      const got = await client.next();
      assertEquals([got.type, got.queue, got.username], ["agentLogout", "Support", "dave"]);
      sim.emit({ type: "agentLogin", queue: "Support" });
      assertEquals((await client.next()).type, "agentLogin");
    });

    await t.step("a new filter replaces the whole set", async () => {
      await client.filter([{ property: "username", value: "marker" }]);
      sim.emit({ type: "agentLogin", queue: "Support" });
      await nextIsMarker(sim, client);
    });

    await t.step("* needs the property present; null counts as present", async () => {
      await client.filter([{ property: "username", value: "*" }]);
      sim.emitProperties({ type: "queueCallerJoin", queue: "Support" }); // no username
      sim.emit({ type: "hangup", username: null, userId: null });
      const got = await client.next();
      assertEquals([got.type, got.username], ["hangup", null]);
      await client.filter([
        { property: "username", value: "null" },
        { property: "username", value: "marker" },
      ]);
      sim.emit({ type: "hangup", username: null, userId: null }); // null is not the text "null"
      await nextIsMarker(sim, client);
    });

    await t.step(
      "numbers and booleans compare via String(); values are case-sensitive",
      async () => {
        await client.filter([{ property: "port", value: "57042" }]);
        sim.emit({ type: "userLogin", port: 57042 });
        assertEquals((await client.next()).port, 57042);
        await client.filter([{ property: "userCreated", value: "true" }]);
        sim.emit({ type: "userStatus", userCreated: true });
        assertEquals((await client.next()).userCreated, true);
        await client.filter([
          { property: "queue", value: "support" },
          { property: "queue", value: "marker" },
        ]);
        sim.emit({ type: "agentLogin", queue: "Support" });
        await nextIsMarker(sim, client);
      },
    );

    await t.step("sendRaw ignores filters", async () => {
      assertEquals(sim.sendRaw("not json"), 1);
      assertEquals(await client.nextText(), "not json");
    });
    await client.close();
  });
});

Deno.test("isymphony filter: malformed messages get error replies and keep the old set", async () => {
  await withSim(async (sim) => {
    const client = await Client.open(sim.url);
    const kept: FilterEntry[] = [{ property: "type", value: "marker" }];
    await client.filter(kept);
    const cases: [unknown, string, string | null][] = [
      ["{nope", "Malformed message: not valid JSON", null],
      ["[1,2]", "Malformed message: expected a JSON object", null],
      [{ correlationId: "a" }, "Malformed message: missing type", "a"],
      [{ type: "subscribe", correlationId: "b" }, "Unknown message type: subscribe", "b"],
      [
        { type: "filter", correlationId: "c" },
        "Invalid filter message: filters must be an array",
        "c",
      ],
      [{ type: "filter", filters: {} }, "Invalid filter message: filters must be an array", null],
      [
        { type: "filter", correlationId: "d", filters: [kept[0], { property: "type" }] },
        "Invalid filter message: filters[1] needs a string property and a string value",
        "d",
      ],
      [
        { type: "filter", filters: [{ property: "port", value: 57042 }] },
        "Invalid filter message: filters[0] needs a string property and a string value",
        null,
      ],
      [
        { type: "filter", correlationId: 7, filters: [] },
        "Invalid filter message: correlationId must be a string",
        null,
      ],
    ];
    for (const [frame, error, correlationId] of cases) {
      client.send(frame);
      const reply = await client.next();
      assertEquals(reply.type, "error", JSON.stringify(frame));
      assertEquals([reply.error, reply.correlationId], [error, correlationId]);
      assertEquals(typeof reply.time, "number");
    }
    assertEquals(sim.filters(1), kept);
    sim.emit({ type: "hangup" });
    await nextIsMarker(sim, client);
    await client.close();
  });
});

Deno.test("isymphony filter: rejection knobs answer error for chosen filters", async () => {
  await withSim(async (sim) => {
    const client = await Client.open(sim.url);
    sim.rejectProperty("extension");
    let reply = await client.filter([{ property: "extension", value: "201" }], "r-1");
    assertEquals([reply.type, reply.error, reply.correlationId], [
      "error",
      "Invalid filter property: extension",
      "r-1",
    ]);
    assertEquals(sim.filters(1), undefined);
    sim.rejectFilters((m) => m.filters.length > 2 ? "Too many filters" : undefined);
    reply = await client.filter([1, 2, 3].map((n) => ({ property: "p", value: String(n) })));
    assertEquals(reply.error, "Too many filters");
    assertEquals((await client.filter([{ property: "type", value: "x" }])).type, "success");
    sim.clearRejections();
    reply = await client.filter([{ property: "extension", value: "201" }]);
    assertEquals(reply.type, "success");
    await client.close();
  });
});

Deno.test("isymphony faults: drop, restart with new UUIDs, per-connection filters", async () => {
  await withSim(async (sim) => {
    const a = await Client.open(sim.url);
    const b = await Client.open(sim.url);
    await a.filter([{ property: "type", value: "hangup" }]);
    assertEquals(sim.filters(1)?.length, 1);
    assertEquals(sim.filters(2), undefined);
    assertThrows(() => sim.filters(99), RangeError);
    assertEquals(sim.emit({ type: "userStatus" }).delivered, 1);
    assertEquals((await b.next()).type, "userStatus");

    sim.server.dropConnections();
    assertEquals((await a.closed).code, 1011);
    await b.closed;

    const before = sim.directory.coreServerId;
    const port = sim.server.port;
    await sim.restart();
    assertEquals(sim.server.port, port);
    assertNotEquals(sim.directory.coreServerId, before); // seed line 79: UUIDs change on restart
    const c = await Client.open(sim.url);
    assertEquals(sim.filters(3), undefined); // filters are per connection: re-send after reconnect
    const { event } = sim.emit({ type: "hangup" });
    assertEquals((await c.next()).coreServerId, event.coreServerId);
    await c.close();
  });
});

Deno.test("isymphony emitRandom: a valid, varied mix", async () => {
  await withSim(async (sim) => {
    const client = await Client.open(sim.url);
    let seed = 42;
    const random = () => (seed = (seed * 16807) % 2147483647) / 2147483647;
    const types = new Set<string>();
    const queues = new Set<unknown>();
    for (let i = 0; i < 200; i++) {
      sim.emitRandom(random);
      const frame = ISymphonyEventSchema.parse(await client.next());
      types.add(frame.type);
      if ("queue" in frame) queues.add(frame.queue);
    }
    for (const t of ["agentLogin", "agentLogout", "userStatus", "hangup", "linkEnd"]) {
      assert(types.has(t), t);
    }
    assertEquals([...queues].sort(), ["Sales", "Support"]);
    await client.close();
  });
});

Deno.test("isymphony matchesFilters: pure rules", () => {
  const ev = { type: "hangup", username: "mike", did: null, port: 5 };
  assert(matchesFilters(ev, undefined));
  assert(matchesFilters(ev, []));
  assert(matchesFilters(ev, [{ property: "did", value: "*" }]));
  assert(!matchesFilters(ev, [{ property: "queue", value: "*" }]));
  assert(matchesFilters(ev, [{ property: "port", value: "5" }]));
  assert(matchesFilters(ev, [
    { property: "type", value: "dial" },
    { property: "type", value: "hangup" },
    { property: "username", value: "mike" },
  ]));
  assert(
    !matchesFilters(ev, [
      { property: "type", value: "hangup" },
      { property: "username", value: "Mike" },
    ]),
  );
  assert(!matchesFilters(ev, [{ property: "toString", value: "*" }])); // own properties only
});
