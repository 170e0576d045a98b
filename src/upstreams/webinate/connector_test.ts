import {
  assert,
  assertEquals,
  assertInstanceOf,
  assertRejects,
  assertStringIncludes,
} from "@std/assert";
import { systemClock } from "../../platform/clock.ts";
import { silentLogger } from "../../platform/log.ts";
import type { UpstreamEvent } from "../../model/event.ts";
import type { FrameOutcome } from "../connector.ts";
import { UpstreamError, type UpstreamSession } from "../session.ts";
import { type WebinateSourceConfig, webinateSourceSchema } from "./config.ts";
import { WebinateConnector } from "./connector.ts";

function config(extra: Record<string, unknown> = {}): WebinateSourceConfig {
  return webinateSourceSchema.parse({
    name: "users",
    kind: "webinate",
    url: "ws://127.0.0.1:1",
    origin: "http://localhost",
    settleMs: 5,
    ...extra,
  });
}

function connector(extra: Record<string, unknown> = {}): WebinateConnector {
  return new WebinateConnector({
    config: config(extra),
    caCerts: [],
    clock: systemClock,
    ctx: {
      log: silentLogger,
      rejectInterest: () => {},
      nowIso: () => "2024-05-01T00:00:00.000Z",
    },
  });
}

/** A session that records what is sent and can be closed by the test. */
function fakeSession(): UpstreamSession & { sent: string[]; abort(reason: Error): void } {
  const ctl = new AbortController();
  const sent: string[] = [];
  return {
    sent,
    send: (text) => void sent.push(text),
    nextFrame: () => Promise.reject(new Error("unused")),
    close: () => ctl.abort(new UpstreamError("closed")),
    signal: ctl.signal,
    lastFrameAt: 0,
    abort: (reason) => ctl.abort(reason),
  };
}

function events(outcome: FrameOutcome): UpstreamEvent[] {
  if (outcome.kind !== "events") throw new Error(`expected events, got ${JSON.stringify(outcome)}`);
  return outcome.events;
}

const FILE = { _id: "f1", name: "a.png", user: "bob", size: 3 };
const BUCKET = { _id: "b1", name: "bob-bucket", user: "bob" };

Deno.test("dial() sends Origin, the SID cookie and users-api-key on the upgrade", async () => {
  const target = await connector({ sid: "abc", apiKey: "k" }).dial();
  assertEquals(target.options.headers, {
    origin: "http://localhost",
    cookie: "SID=abc",
    "users-api-key": "k",
  });
  const raw = await connector({ cookie: "SID=x; lang=en" }).dial();
  assertEquals(raw.options.headers?.cookie, "SID=x; lang=en");
});

Deno.test("config needs origin or apiKey, and not both cookie and sid", () => {
  const base = { name: "u", kind: "webinate", url: "ws://h:8063" };
  assert(!webinateSourceSchema.safeParse(base).success);
  assert(webinateSourceSchema.safeParse({ ...base, apiKey: "k" }).success);
  assert(
    !webinateSourceSchema.safeParse({ ...base, origin: "o", cookie: "SID=1", sid: "1" }).success,
  );
  assert(!webinateSourceSchema.safeParse({ ...base, origin: "o", authTimeoutMs: 200 }).success);
  assertEquals(config().settleMs, 5);
  assertEquals(webinateSourceSchema.parse({ ...base, origin: "o" }).settleMs, 300);
  assertEquals(webinateSourceSchema.parse({ ...base, origin: "o" }).generation, "A");
});

Deno.test("authenticate() settles, and a close while settling is an origin refusal", async () => {
  const c = connector();
  await c.authenticate(fakeSession());
  const refused = fakeSession();
  const pending = c.authenticate(refused);
  refused.abort(new UpstreamError("Upstream closed the connection (code 1005)"));
  const err = await assertRejects(() => pending);
  assertInstanceOf(err, UpstreamError);
  assert(err.auth);
  assertStringIncludes(err.message, 'origin "http://localhost" not approved');
  assertStringIncludes(err.message, "code 1005");
});

Deno.test("Gen A frames map to the shared model", () => {
  const c = connector();
  const s = fakeSession();
  const [login] = events(c.onFrame(s, '{"eventType":1,"username":"bob"}'));
  assertEquals(login?.type, "Login");
  assertEquals([login?.key, login?.subject, login?.actor], ["bob", "bob", "bob"]);
  assertEquals(login?.detail, {
    vendor: "WEBINATE",
    eventType: 1,
    username: "bob",
    file: null,
    bucket: null,
    message: null,
    val: null,
    error: null,
  });
  const [removed] = events(c.onFrame(s, JSON.stringify({ eventType: 6, file: FILE })));
  assertEquals([removed?.type, removed?.key, removed?.subject, removed?.actor], [
    "FileRemoved",
    "f1",
    "a.png",
    null,
  ]);
  const [echo] = events(c.onFrame(s, '{"eventType":10,"message":"hi"}'));
  assertEquals([echo?.type, echo?.detail], ["Echo", {
    vendor: "WEBINATE",
    eventType: 10,
    username: null,
    file: null,
    bucket: null,
    message: "hi",
    val: null,
    error: null,
  }]);
  const [meta] = events(c.onFrame(s, '{"eventType":9,"error":"Error: nope"}'));
  assertEquals(meta?.type, "MetaRequest");
});

Deno.test("Gen B names, mantle volumes and legacy files[] map to Gen A numbers", () => {
  const c = connector({ generation: "B" });
  const s = fakeSession();
  const [up] = events(
    c.onFrame(s, JSON.stringify({ type: "FileUploaded", username: "bob", file: FILE })),
  );
  assertEquals([up?.type, up?.detail.vendor === "WEBINATE" && up.detail.eventType], [
    "FileUploaded",
    5,
  ]);
  const [vol] = events(
    c.onFrame(s, JSON.stringify({ type: "VolumeUploaded", username: "bob", volume: BUCKET })),
  );
  assertEquals([vol?.type, vol?.key, vol?.subject], ["BucketUploaded", "b1", "bob-bucket"]);
  const many = events(
    c.onFrame(
      s,
      JSON.stringify({ eventType: 5, username: "bob", files: [FILE, { ...FILE, _id: "f2" }] }),
    ),
  );
  assertEquals(many.map((e) => e.key), ["f1", "f2"]);
});

Deno.test("only frames without a type are dropped, never thrown", () => {
  const c = connector();
  const s = fakeSession();
  for (
    const [bad, reason] of [
      ["nope", "not JSON"],
      ["null", "not a JSON object"],
      ["[]", "not a JSON object"],
      ['{"username":"x"}', "Webinate frame without eventType or type"],
      ['{"eventType":"1"}', "Webinate frame with eventType not an integer"],
    ]
  ) {
    assertEquals(c.onFrame(s, bad!), { kind: "dropped", reason: reason! }, bad);
  }
  // Missing optional fields, odd types and unknown types are delivered.
  for (
    const good of [
      '{"eventType":1}',
      '{"eventType":11,"username":"x"}',
      '{"eventType":5,"username":"x"}',
      '{"eventType":7,"username":"x","bucket":{"name":"no id"}}',
      '{"eventType":5,"username":7,"file":"not an object"}',
      '{"type":"Unknown","username":"x"}',
      '{"type":"Login"}',
    ]
  ) {
    assertEquals(c.onFrame(s, good).kind, "events", good);
  }
});

Deno.test("probe() tags its frame and its own reply is control, not an event", () => {
  const a = connector();
  const s = fakeSession();
  a.probe(s);
  const probe = JSON.parse(s.sent[0]!);
  assertEquals(probe.eventType, 10);
  assertEquals(
    a.onFrame(s, JSON.stringify({ eventType: 10, message: probe.message })).kind,
    "control",
  );
  assertEquals(events(a.onFrame(s, '{"eventType":10,"message":"someone else"}')).length, 1);

  const b = connector({ generation: "B" });
  b.probe(s);
  const meta = JSON.parse(s.sent[1]!);
  assertEquals(meta.type, "MetaRequest");
  const reply = { type: "MetaRequest", error: `Could not find user ${meta.username}` };
  assertEquals(b.onFrame(s, JSON.stringify(reply)).kind, "control");
  // Another connector's probe reply is just an event.
  assertEquals(a.onFrame(s, JSON.stringify(reply)).kind, "events");
});
