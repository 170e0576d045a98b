import { assert, assertEquals, assertStringIncludes } from "@std/assert";
import type { InterestItem } from "../hub/interest.ts";
import type { UpstreamEvent } from "../model/event.ts";
import { systemClock } from "../platform/clock.ts";
import { silentLogger } from "../platform/log.ts";
import { createRedactor } from "../platform/redact.ts";
import { denoWebSocketFactory } from "../platform/websocket.ts";
import { SimServer } from "../simulators/sim_server.ts";
import type { Connector, DialTarget, FrameOutcome } from "./connector.ts";
import type { UpstreamSession } from "./session.ts";
import { UpstreamError } from "./session.ts";
import {
  nestedDeeperThan,
  Supervisor,
  type SupervisorStatus,
  type SupervisorTiming,
} from "./supervisor.ts";

const TIME = "2024-05-01T12:00:00.000Z";

/** A connector that records what the supervisor asks of it. */
class FakeConnector implements Connector {
  readonly vendor = "DRP" as const;
  url = "";
  dials: (UpstreamError | undefined)[] = [];
  authenticated = 0;
  syncs: string[][] = [];
  probes = 0;
  /** When set, authenticate() rejects with it. */
  authError: Error | undefined;

  dial(previous?: UpstreamError): Promise<DialTarget> {
    this.dials.push(previous);
    return Promise.resolve({ url: this.url, options: {} });
  }
  authenticate(_session: UpstreamSession): Promise<void> {
    this.authenticated++;
    return this.authError ? Promise.reject(this.authError) : Promise.resolve();
  }
  onFrame(_session: UpstreamSession, frame: string): FrameOutcome {
    if (frame === "bad") return { kind: "dropped", reason: "not an event" };
    if (frame === "ack") return { kind: "control" };
    return { kind: "events", events: [event(frame)] };
  }
  syncInterest(_session: UpstreamSession, wanted: ReadonlyMap<string, InterestItem>) {
    this.syncs.push([...wanted.keys()]);
    return Promise.resolve();
  }
  probe(_session: UpstreamSession): void {
    this.probes++;
  }
  describeInterest(): string[] {
    return this.syncs.at(-1) ?? [];
  }
}

function event(key: string): UpstreamEvent {
  return {
    source: "sim",
    vendor: "DRP",
    type: "machines",
    action: "save",
    key,
    subject: null,
    actor: null,
    time: TIME,
    receivedAt: TIME,
    payload: {},
    detail: { vendor: "DRP", object: {}, original: null, principal: "" },
  };
}

/** Polls `cond` until it holds, failing after `ms`. */
async function waitFor(what: string, cond: () => boolean, ms = 3000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`Timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

const TIMING: SupervisorTiming = {
  backoff: { baseMs: 5, maxMs: 20 },
  stableMs: 60_000,
  connectTimeoutMs: 2000,
  authTimeoutMs: 2000,
  silenceMs: 0,
};

interface Harness {
  sim: SimServer;
  connector: FakeConnector;
  supervisor: Supervisor;
  /** Every distinct state in order (consecutive repeats folded). */
  states: string[];
  published: UpstreamEvent[];
  /** What onReceiving reported: the synced set's keys, or null when not receiving. */
  receiving: (string[] | null)[];
  serverCloses: number[];
  status(): SupervisorStatus;
  stop(): Promise<void>;
}

async function start(
  options: {
    timing?: Partial<SupervisorTiming>;
    refuse?: number;
    secrets?: string[];
    connector?: FakeConnector;
    interest?: string[];
  } = {},
): Promise<Harness> {
  const serverCloses: number[] = [];
  const sim = new SimServer({
    request: () => options.refuse ? new Response("no", { status: options.refuse }) : undefined,
    onClose: (_conn, code) => serverCloses.push(code),
  });
  await sim.start();
  const connector = options.connector ?? new FakeConnector();
  connector.url = `${sim.origin}/ws`;
  const states: string[] = [];
  const published: UpstreamEvent[] = [];
  const receiving: (string[] | null)[] = [];
  const supervisor = new Supervisor({
    name: "sim",
    connector,
    timing: { ...TIMING, ...options.timing },
    clock: systemClock,
    random: () => 0.5,
    socketFactory: denoWebSocketFactory,
    publish: (e) => published.push(e),
    onReceiving: (items) => receiving.push(items ? [...items.keys()] : null),
    log: silentLogger,
    redact: createRedactor(options.secrets ?? []),
    onChange: (s) => {
      if (states.at(-1) !== s.connection.state) states.push(s.connection.state);
    },
  });
  if (options.interest) {
    supervisor.setInterest(new Map(options.interest.map((key) => [key, { key }])));
  }
  const abort = new AbortController();
  const running = supervisor.run(abort.signal);
  return {
    sim,
    connector,
    supervisor,
    states,
    published,
    receiving,
    serverCloses,
    status: () => supervisor.status(),
    stop: async () => {
      abort.abort();
      await running;
      await sim.stop();
    },
  };
}

const isReady = (h: Harness) => () => h.status().connection.state === "READY";

Deno.test("Supervisor", async (t) => {
  await t.step("goes CONNECTING → AUTHENTICATING → READY and syncs the wanted set", async () => {
    const h = await start({ interest: ["a.*.*"] });
    try {
      await waitFor("READY", isReady(h));
      assertEquals(h.states, ["CONNECTING", "AUTHENTICATING", "READY"]);
      assertEquals(h.connector.authenticated, 1);
      await waitFor("the first sync", () => h.connector.syncs.length === 1);
      assertEquals(h.connector.syncs, [["a.*.*"]]);
      assert(h.status().connectedSince !== undefined);
      assertEquals(h.status().reconnects, 0);
      assertEquals(h.status().interest, ["a.*.*"]);
    } finally {
      await h.stop();
    }
  });

  await t.step("relays events, ignores control frames and counts dropped ones", async () => {
    const h = await start();
    try {
      await waitFor("READY", isReady(h));
      await waitFor("the server side", () => h.sim.connections.size === 1);
      for (const frame of ["e1", "ack", "bad", "e2"]) h.sim.broadcast(frame);
      await waitFor("two events", () => h.published.length === 2);
      assertEquals(h.published.map((e) => e.key), ["e1", "e2"]);
      await waitFor("the drop count", () => h.status().framesDropped === 1);
    } finally {
      await h.stop();
    }
  });

  await t.step("interest changes while READY are synced at once", async () => {
    const h = await start({ interest: ["a.*.*"] });
    try {
      await waitFor("READY", isReady(h));
      await waitFor("the first sync", () => h.connector.syncs.length === 1);
      h.supervisor.setInterest(new Map([["a.*.*", { key: "a.*.*" }], ["b.*.*", { key: "b.*.*" }]]));
      await waitFor("the second sync", () => h.connector.syncs.length === 2);
      assertEquals(h.connector.syncs[1], ["a.*.*", "b.*.*"]);
    } finally {
      await h.stop();
    }
  });

  await t.step("a server drop → BACKOFF, then reconnect with the full wanted set", async () => {
    const h = await start({ interest: ["a.*.*"] });
    try {
      await waitFor("READY", isReady(h));
      await waitFor("the server side", () => h.sim.connections.size === 1);
      h.supervisor.setInterest(new Map([["a.*.*", { key: "a.*.*" }], ["b.*.*", { key: "b.*.*" }]]));
      await waitFor("the second sync", () => h.connector.syncs.length === 2);
      h.sim.dropConnections(1011, "simulated failure");
      await waitFor("a reconnect", () => h.status().reconnects === 1 && isReady(h)());
      assertEquals(h.states, [
        "CONNECTING",
        "AUTHENTICATING",
        "READY",
        "BACKOFF",
        "CONNECTING",
        "AUTHENTICATING",
        "READY",
      ]);
      await waitFor("the sync after reconnect", () => h.connector.syncs.length === 3);
      assertEquals(h.connector.syncs.at(-1), ["a.*.*", "b.*.*"]);
      assertEquals(h.connector.authenticated, 2, "authenticates again");
      // Coverage: each completed sync reports its exact set; the drop reports not receiving.
      await waitFor("the report after reconnect", () => h.receiving.length === 4);
      assertEquals(h.receiving, [["a.*.*"], ["a.*.*", "b.*.*"], null, ["a.*.*", "b.*.*"]]);
      assertStringIncludes(h.status().lastError ?? "", "1011");
      assert(h.connector.dials[1] instanceof UpstreamError, "dial() learns why it failed");
    } finally {
      await h.stop();
    }
  });

  await t.step("a silent socket is probed, then declared dead and reconnected", async () => {
    const h = await start({ timing: { silenceMs: 200 } });
    try {
      await waitFor("READY", isReady(h));
      await waitFor("a probe", () => h.connector.probes > 0);
      await waitFor("the server to see the close", () => h.serverCloses.length === 1);
      assertEquals(h.serverCloses, [4000]);
      assertStringIncludes(h.status().lastError ?? "", "No frame from upstream");
      await waitFor("a reconnect", () => h.status().reconnects === 1 && isReady(h)());
      assertEquals(h.connector.dials.length, 2);
    } finally {
      await h.stop();
    }
  });

  await t.step("a half-open upstream that never answers the close is abandoned", async () => {
    // A raw TCP peer that completes the upgrade and then goes quiet for good, like a peer
    // behind a dead NAT: it never answers the close frame, so Deno never fires `close`.
    const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    const conns: Deno.Conn[] = [];
    const accepting = (async () => {
      for await (const conn of listener) {
        conns.push(conn);
        const buf = new Uint8Array(4096);
        const n = await conn.read(buf);
        const request = new TextDecoder().decode(buf.subarray(0, n ?? 0));
        const key = /sec-websocket-key: *(\S+)/i.exec(request)?.[1] ?? "";
        const digest = await crypto.subtle.digest(
          "SHA-1",
          new TextEncoder().encode(key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"),
        );
        const accept = btoa(String.fromCharCode(...new Uint8Array(digest)));
        await conn.write(new TextEncoder().encode(
          "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
            `Sec-WebSocket-Accept: ${accept}\r\n\r\n`,
        ));
      }
    })();
    const sockets: WebSocket[] = [];
    const connector = new FakeConnector();
    connector.url = `ws://127.0.0.1:${(listener.addr as Deno.NetAddr).port}/`;
    const abort = new AbortController();
    const supervisor = new Supervisor({
      name: "sim",
      connector,
      timing: { ...TIMING, silenceMs: 200, connectTimeoutMs: 300 },
      clock: systemClock,
      random: () => 0,
      socketFactory: (url, options) => {
        const ws = denoWebSocketFactory(url, options);
        sockets.push(ws);
        return ws;
      },
      publish: () => {},
      log: silentLogger,
      redact: (s) => s,
    });
    const running = supervisor.run(abort.signal);
    try {
      await waitFor("a reconnect", () => supervisor.status().reconnects >= 1);
      assertStringIncludes(supervisor.status().lastError ?? "", "No frame from upstream");
      assert(connector.probes > 0);
    } finally {
      abort.abort();
      await running;
      assertEquals(supervisor.status().connection.state, "STOPPED");
      // Release the abandoned sockets: the peer finally goes away.
      const closed = sockets.map((ws) =>
        ws.readyState === WebSocket.CLOSED
          ? Promise.resolve()
          : new Promise((r) => ws.addEventListener("close", r, { once: true }))
      );
      listener.close();
      for (const conn of conns) conn.close();
      await accepting.catch(() => {});
      await Promise.all(closed);
    }
  });

  await t.step("frames keep a quiet socket alive", async () => {
    const h = await start({ timing: { silenceMs: 200 } });
    try {
      await waitFor("READY", isReady(h));
      await waitFor("the server side", () => h.sim.connections.size === 1);
      const until = Date.now() + 500;
      while (Date.now() < until) {
        h.sim.broadcast("ack");
        await new Promise((r) => setTimeout(r, 40));
      }
      assertEquals(h.connector.probes, 0);
      assertEquals(h.status().reconnects, 0);
      assertEquals(h.serverCloses, []);
    } finally {
      await h.stop();
    }
  });

  await t.step("an authentication failure leaves lastError set (redacted)", async () => {
    const connector = new FakeConnector();
    connector.authError = new UpstreamError("Bad credentials for token s3cret-tok", {
      auth: true,
    });
    const h = await start({ connector, secrets: ["s3cret-tok"] });
    try {
      await waitFor("a failure", () => h.status().lastError !== undefined);
      assertEquals(h.status().lastError, "Bad credentials for token [redacted]");
      assert(h.status().lastErrorAt !== undefined);
      await waitFor("a retry", () => h.connector.authenticated >= 2);
      assert(!h.states.includes("READY"));
      assert(h.states.includes("BACKOFF"));
    } finally {
      await h.stop();
    }
  });

  await t.step("an upgrade refused with HTTP 401 is reported as such", async () => {
    const h = await start({ refuse: 401 });
    try {
      await waitFor("a failure", () => h.status().lastError !== undefined);
      assertStringIncludes(h.status().lastError!, "HTTP 401");
      assert(h.connector.dials.length >= 1);
      await waitFor("a second dial", () => h.connector.dials.length >= 2);
      assertStringIncludes(h.connector.dials[1]?.message ?? "", "HTTP 401");
    } finally {
      await h.stop();
    }
  });

  await t.step("abort stops it: STOPPED and the socket closed", async () => {
    const h = await start({ interest: ["a.*.*"] });
    await waitFor("READY", isReady(h));
    await waitFor("the server side", () => h.sim.connections.size === 1);
    await h.stop();
    assertEquals(h.status().connection.state, "STOPPED");
    assertEquals(h.states.at(-1), "STOPPED");
    assertEquals(h.serverCloses, [1000]);
    assertEquals(h.status().connectedSince, undefined);
    assertEquals(h.supervisor.send("x"), false, "nothing to send on once stopped");
  });

  await t.step("abort during BACKOFF stops at once", async () => {
    const h = await start({ refuse: 503, timing: { backoff: { baseMs: 60_000, maxMs: 60_000 } } });
    await waitFor("BACKOFF", () => h.status().connection.state === "BACKOFF");
    const before = Date.now();
    await h.stop();
    assert(Date.now() - before < 1000);
    assertEquals(h.status().connection.state, "STOPPED");
  });

  await t.step("send() works while READY", async () => {
    const h = await start();
    try {
      await waitFor("READY", isReady(h));
      assertEquals(h.supervisor.send("hello"), true);
      await waitFor("the frame", () => h.sim.frames().includes("hello"));
    } finally {
      await h.stop();
    }
  });
});

Deno.test("nestedDeeperThan: many shallow brackets pass, depth past the bound is caught, strings are skipped", () => {
  const wide = `[${Array.from({ length: 300 }, (_, i) => `{"i":[${i}]}`).join(",")}]`;
  assertEquals(nestedDeeperThan(wide, 128), false);
  const deep = (n: number) => "[".repeat(n) + "]".repeat(n);
  assertEquals(nestedDeeperThan(deep(128), 128), false);
  assertEquals(nestedDeeperThan(deep(129), 128), true);
  const quoted = `{"s":"${"[".repeat(500)}\\"${"{".repeat(500)}"}`;
  assertEquals(nestedDeeperThan(quoted, 128), false);
});
