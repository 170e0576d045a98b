import { assert, assertEquals, assertStringIncludes } from "@std/assert";
import type { InterestItem } from "../../hub/interest.ts";
import type { Clock, TimerId } from "../../platform/clock.ts";
import { createLogger } from "../../platform/log.ts";
import type { ConnectorContext } from "../connector.ts";
import { UpstreamError, type UpstreamSession } from "../session.ts";
import { type DrpSourceConfig, drpSourceSchema } from "./config.ts";
import { DrpConnector } from "./connector.ts";

const NOW_ISO = "2024-05-01T12:00:05.000Z";
const URL_ = "wss://drp.example:8092/api/v3/ws";

/** A session that records what the connector sends. */
class FakeSession implements UpstreamSession {
  readonly sent: string[] = [];
  readonly #abort = new AbortController();
  lastFrameAt = 0;
  get signal(): AbortSignal {
    return this.#abort.signal;
  }
  send(text: string): void {
    if (this.signal.aborted) throw new UpstreamError("Upstream socket is not open");
    this.sent.push(text);
  }
  nextFrame(): Promise<string> {
    return Promise.reject(new Error("the DRP connector has no handshake"));
  }
  close(): void {
    this.#abort.abort(new UpstreamError("closed"));
  }
}

/** A clock whose timers fire only when the test says so. */
class ManualClock implements Clock {
  #next = 1;
  readonly timers = new Map<number, { fn: () => void; ms: number }>();
  now(): number {
    return Date.parse(NOW_ISO);
  }
  setTimeout(fn: () => void, ms: number): TimerId {
    const id = this.#next++;
    this.timers.set(id, { fn, ms });
    return id as unknown as TimerId;
  }
  clearTimeout(id: TimerId): void {
    this.timers.delete(id as unknown as number);
  }
  /** Runs every pending timer once. */
  fireAll(): void {
    const due = [...this.timers.entries()];
    this.timers.clear();
    for (const [, t] of due) t.fn();
  }
}

function setup(config: Record<string, unknown> = {}, caCerts: string[] = []) {
  const parsed: DrpSourceConfig = drpSourceSchema.parse({
    name: "lab-drp",
    kind: "drp",
    url: URL_,
    token: "tok-123",
    ...config,
  });
  const logs: { level: string; msg: string }[] = [];
  const ctx: ConnectorContext = {
    log: createLogger({
      level: "debug",
      sink: (_level, line) => logs.push(JSON.parse(line)),
    }),
    rejectInterest: () => {},
    nowIso: () => NOW_ISO,
  };
  const clock = new ManualClock();
  const connector = new DrpConnector({ config: parsed, caCerts, ctx, clock });
  return { connector, clock, logs };
}

function want(...keys: string[]): ReadonlyMap<string, InterestItem> {
  return new Map(keys.map((key) => [key, { key }]));
}

function ack(action: "register" | "deregister", filter: string): string {
  return JSON.stringify({
    Time: "2024-05-01T12:00:00Z",
    Type: "websocket",
    Action: action,
    Key: filter,
    Object: null,
  });
}

/** Tracks whether a promise has settled, after letting microtasks run. */
function track(p: Promise<unknown>) {
  const state = { settled: false };
  p.then(() => (state.settled = true), () => (state.settled = true));
  return state;
}

const flush = () => new Promise<void>((r) => queueMicrotask(() => queueMicrotask(r)));

Deno.test("DrpConnector.dial()", async (t) => {
  await t.step("a token goes in Authorization: Bearer", async () => {
    const { connector } = setup();
    const target = await connector.dial();
    assertEquals(target.url, URL_);
    assertEquals(target.options.headers, { authorization: "Bearer tok-123" });
    assertEquals(target.options.caCerts, undefined);
  });

  await t.step("username and password go in Authorization: Basic", async () => {
    const { connector } = setup({ token: undefined, username: "rocketskates", password: "r0ck:s" });
    const target = await connector.dial();
    assertEquals(target.options.headers, {
      authorization: `Basic ${btoa("rocketskates:r0ck:s")}`,
    });
    assertEquals(target.url, URL_);
  });

  await t.step("query mode puts the token in the URL, not a header", async () => {
    const { connector } = setup({ authMode: "query", token: "t/k+n=" });
    const target = await connector.dial();
    assertEquals(new URL(target.url).searchParams.get("token"), "t/k+n=");
    assertEquals(target.options.headers, {});
  });

  await t.step("CA certificates are passed through", async () => {
    const { connector } = setup({}, ["PEM"]);
    assertEquals((await connector.dial()).options.caCerts, ["PEM"]);
  });

  await t.step("header mode switches to the query form after HTTP 401, for good", async () => {
    const { connector, logs } = setup();
    const refused = new UpstreamError(
      "Upgrade refused with HTTP 401: the upstream rejected the credentials",
      { auth: true, httpStatus: 401 },
    );
    const target = await connector.dial(refused);
    assertEquals(new URL(target.url).searchParams.get("token"), "tok-123");
    assertEquals(target.options.headers, {});
    assert(logs.some((l) => l.level === "warn" && l.msg.includes("401")));
    const later = await connector.dial(new UpstreamError("Upstream closed the connection"));
    assertEquals(new URL(later.url).searchParams.get("token"), "tok-123");
  });

  await t.step("HTTP 403 does not switch: the credentials were seen and refused", async () => {
    const { connector } = setup();
    const target = await connector.dial(
      new UpstreamError("Upgrade refused with HTTP 403: the upstream rejected the credentials", {
        auth: true,
        httpStatus: 403,
      }),
    );
    assertEquals(target.url, URL_);
    assertEquals(target.options.headers, { authorization: "Bearer tok-123" });
  });
});

Deno.test("DrpConnector.onFrame()", async (t) => {
  const { connector } = setup();
  const session = new FakeSession();
  await connector.authenticate(session);

  await t.step("an acknowledgement is control traffic", () => {
    assertEquals(connector.onFrame(session, ack("register", "machines.*.*")), {
      kind: "control",
    });
  });

  await t.step("an event maps to the shared model", () => {
    const frame = {
      Time: "2024-05-01T14:00:00.123456789+02:00",
      Type: "machines",
      Action: "update",
      Key: "3e8b1c2a",
      Principal: "user:alice",
      Object: { Name: "node-7", Uuid: "3e8b1c2a" },
      Original: { Name: "node-6" },
    };
    const outcome = connector.onFrame(session, JSON.stringify(frame));
    assertEquals(outcome, {
      kind: "events",
      events: [{
        source: "lab-drp",
        vendor: "DRP",
        type: "machines",
        action: "update",
        key: "3e8b1c2a",
        subject: "node-7",
        actor: "user:alice",
        time: "2024-05-01T12:00:00.123Z",
        receivedAt: NOW_ISO,
        payload: frame,
        detail: {
          vendor: "DRP",
          object: frame.Object,
          original: frame.Original,
          principal: "user:alice",
        },
      }],
    });
  });

  await t.step("an old server's event (no Principal, no Original, no Name) still maps", () => {
    const outcome = connector.onFrame(
      session,
      JSON.stringify({ Time: "garbage", Type: "jobs", Action: "create", Key: "j1", Object: {} }),
    );
    if (outcome.kind !== "events") throw new Error(`expected events, got ${outcome.kind}`);
    const [e] = outcome.events;
    assertEquals(e?.actor, null);
    assertEquals(e?.subject, null);
    assertEquals(e?.time, NOW_ISO, "an unparseable time falls back to the receive time");
    assertEquals(e?.detail, { vendor: "DRP", object: {}, original: null, principal: "" });
  });

  await t.step("an empty or unknown Principal is no actor", () => {
    for (const Principal of ["", "unknown"]) {
      const outcome = connector.onFrame(
        session,
        JSON.stringify({
          Time: "2024-05-01T12:00:00Z",
          Type: "jobs",
          Action: "save",
          Key: "j1",
          Principal,
          Object: null,
        }),
      );
      if (outcome.kind !== "events") throw new Error(`expected events, got ${outcome.kind}`);
      assertEquals(outcome.events[0]?.actor, null);
    }
  });

  await t.step("bad JSON is dropped", () => {
    const outcome = connector.onFrame(session, "{not json");
    assertEquals(outcome, { kind: "dropped", reason: "not JSON" });
  });

  await t.step("schema-invalid frames are dropped with the offending field", () => {
    const missing = connector.onFrame(
      session,
      JSON.stringify({ Time: "x", Action: "a", Key: "k" }),
    );
    if (missing.kind !== "dropped") throw new Error(`expected dropped, got ${missing.kind}`);
    assertStringIncludes(missing.reason, "Type");
    for (const frame of ["[]", "42", "null", '"text"', '{"Type":1}']) {
      assertEquals(connector.onFrame(session, frame).kind, "dropped", frame);
    }
  });
});

Deno.test("DrpConnector.syncInterest()", async (t) => {
  await t.step("sends register/deregister diffs and resolves on their acks", async () => {
    const { connector, clock } = setup();
    const session = new FakeSession();
    await connector.authenticate(session);

    const first = connector.syncInterest(session, want("machines.*.*", "jobs.*.*"));
    assertEquals(session.sent, ["register machines.*.*", "register jobs.*.*"]);
    const firstState = track(first);
    connector.onFrame(session, ack("register", "machines.*.*"));
    await flush();
    assertEquals(firstState.settled, false, "still waiting for the second ack");
    connector.onFrame(session, ack("register", "jobs.*.*"));
    await first;
    assertEquals(clock.timers.size, 0, "ack timers are cleared");
    assertEquals(connector.describeInterest(), ["machines.*.*", "jobs.*.*"]);

    session.sent.length = 0;
    const second = connector.syncInterest(session, want("jobs.*.*", "params.*.*"));
    assertEquals(session.sent, ["deregister machines.*.*", "register params.*.*"]);
    connector.onFrame(session, ack("deregister", "machines.*.*"));
    connector.onFrame(session, ack("register", "params.*.*"));
    await second;
    assertEquals(connector.describeInterest().sort(), ["jobs.*.*", "params.*.*"]);

    session.sent.length = 0;
    await connector.syncInterest(session, want("jobs.*.*", "params.*.*"));
    assertEquals(session.sent, [], "an unchanged set sends nothing");
  });

  await t.step("with no ack the first timeout marks the server ack-less", async () => {
    const { connector, clock, logs } = setup({ ackTimeoutMs: 1234 });
    const session = new FakeSession();
    await connector.authenticate(session);

    const first = connector.syncInterest(session, want("machines.*.*"));
    assertEquals([...clock.timers.values()].map((t) => t.ms), [1234]);
    const state = track(first);
    await flush();
    assertEquals(state.settled, false);
    clock.fireAll();
    await first;
    assert(logs.some((l) => l.msg.includes("no register acknowledgements")));

    // Later commands do not wait at all.
    session.sent.length = 0;
    await connector.syncInterest(session, want("machines.*.*", "jobs.*.*"));
    assertEquals(session.sent, ["register jobs.*.*"]);
    assertEquals(clock.timers.size, 0);

    // That old build drops every filter on any deregister: what is still wanted is resent.
    session.sent.length = 0;
    await connector.syncInterest(session, want("jobs.*.*"));
    assertEquals(session.sent, ["deregister machines.*.*", "register jobs.*.*"]);
    assertEquals(connector.describeInterest(), ["jobs.*.*"]);
  });

  await t.step("after acks were seen, a timeout only warns and later commands wait", async () => {
    const { connector, clock, logs } = setup();
    const session = new FakeSession();
    await connector.authenticate(session);
    const first = connector.syncInterest(session, want("a.*.*"));
    connector.onFrame(session, ack("register", "a.*.*"));
    await first;

    const second = connector.syncInterest(session, want("a.*.*", "b.*.*"));
    assertEquals(clock.timers.size, 1);
    clock.fireAll();
    await second;
    assert(logs.some((l) => l.level === "warn" && l.msg.includes("timed out")));

    const third = connector.syncInterest(session, want("a.*.*", "b.*.*", "c.*.*"));
    assertEquals(clock.timers.size, 1, "still waits for acks");
    connector.onFrame(session, ack("register", "c.*.*"));
    await third;
  });

  await t.step("a closing session releases pending waits", async () => {
    const { connector, clock } = setup();
    const session = new FakeSession();
    await connector.authenticate(session);
    const pending = connector.syncInterest(session, want("a.*.*"));
    session.close();
    await pending;
    assertEquals(connector.describeInterest(), []);
    // The waiter's timer was left armed; firing it later must be harmless.
    clock.fireAll();
  });

  await t.step("a session that was never authenticated is ignored", async () => {
    const { connector } = setup();
    const session = new FakeSession();
    await connector.syncInterest(session, want("a.*.*"));
    assertEquals(session.sent, []);
  });

  await t.step("a new session starts from nothing and registers the whole set", async () => {
    const { connector, clock } = setup();
    const one = new FakeSession();
    await connector.authenticate(one);
    const p1 = connector.syncInterest(one, want("a.*.*"));
    connector.onFrame(one, ack("register", "a.*.*"));
    await p1;
    one.close();

    const two = new FakeSession();
    await connector.authenticate(two);
    const p2 = connector.syncInterest(two, want("a.*.*", "b.*.*"));
    assertEquals(two.sent, ["register a.*.*", "register b.*.*"]);
    connector.onFrame(two, ack("register", "a.*.*"));
    connector.onFrame(two, ack("register", "b.*.*"));
    await p2;
    assertEquals(clock.timers.size, 0);
  });
});

Deno.test("DrpConnector.probe()", async (t) => {
  await t.step("sends a harmless deregister only to a server known to ack", async () => {
    const { connector } = setup();
    const session = new FakeSession();
    await connector.authenticate(session);
    connector.probe(session);
    assertEquals(session.sent, [], "unknown ack behaviour: no probe");
    const p = connector.syncInterest(session, want("a.*.*"));
    connector.onFrame(session, ack("register", "a.*.*"));
    await p;
    session.sent.length = 0;
    connector.probe(session);
    assertEquals(session.sent, ["deregister websocket.probe.relay-keepalive"]);
    // The probe's own ack is control traffic and does not disturb anything.
    assertEquals(
      connector.onFrame(session, ack("deregister", "websocket.probe.relay-keepalive")).kind,
      "control",
    );
    session.close();
    connector.probe(session); // closed: no throw
  });
});
