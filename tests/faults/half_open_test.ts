/**
 * Fault: half-open upstreams. One accepts TCP and never answers the HTTP upgrade: the
 * source must sit in CONNECTING, time out the handshake (connectTimeoutMs) and back off.
 * One completes the upgrade, acknowledges DRP registers and then stays silent: the probe
 * gets no acknowledgement, so after silenceMs the socket is declared dead and redialled.
 * A healthy source on the same relay keeps delivering every event throughout.
 */
import { assert, assertEquals, assertStringIncludes } from "@std/assert";
import { createDrpSimulator } from "../../src/simulators/drp/simulator.ts";
import { connectClient } from "../helpers/gql_client.ts";
import {
  DRP_SUB,
  drpRegistered,
  type DrpRow,
  FaultFigures,
  keysOf,
  sourceStatus,
  steadyEmitter,
  tick,
  waitForSource,
} from "../helpers/fault_kit.ts";
import {
  type ScriptedConnection,
  startBlackholeTcp,
  startScriptedWs,
} from "../helpers/fault_upstream.ts";
import { startRelay, waitFor } from "../helpers/relay.ts";

const figures = new FaultFigures("half_open");
const PROBE = "deregister websocket.probe.relay-keepalive";

/** Answers `register`/`deregister` like DRP does; the probe only when `answerProbe`. */
function drpAcker(answerProbe: () => boolean) {
  return (conn: ScriptedConnection, text: string) => {
    const m = /^(register|deregister) (.+)$/.exec(text);
    if (!m) return;
    if (text === PROBE && !answerProbe()) return;
    conn.send(JSON.stringify({
      Time: new Date().toISOString(),
      Type: "websocket",
      Action: m[1],
      Key: m[2],
      Principal: "",
      Object: null,
    }));
  };
}

Deno.test("an upstream that accepts TCP but never answers the upgrade times out and backs off", async () => {
  await using hole = startBlackholeTcp();
  await using sim = createDrpSimulator();
  await sim.start();
  await using relay = await startRelay([
    {
      name: "hole",
      kind: "drp",
      url: `ws://127.0.0.1:${hole.port}/api/v3/ws`,
      username: "u",
      password: "p",
      connectTimeoutMs: 250,
      reconnect: { baseMs: 300, maxMs: 300 },
    },
    sim.sourceConfig("ok"),
  ]);
  await using client = connectClient(relay.wsUrl);
  const healthy = client.subscribe<DrpRow>(DRP_SUB, { source: "ok" });
  const stuck = client.subscribe<DrpRow>(DRP_SUB, { source: "hole" });
  await waitFor(() => drpRegistered(sim), "healthy registration");
  const emitter = steadyEmitter(sim, "ok");

  const seen = new Set<string>();
  const status = await waitFor(async () => {
    const s = await sourceStatus(relay.httpUrl, "hole");
    seen.add(s.state);
    return seen.has("CONNECTING") && s.state === "BACKOFF" && s.lastError ? s : undefined;
  }, "CONNECTING then BACKOFF with a lastError");
  assertStringIncludes(status.lastError ?? "", "No WebSocket handshake within 250 ms");
  // Sit through a second attempt too.
  await waitForSource(relay.httpUrl, "hole", (s) => s.reconnects >= 1, "a second attempt");
  for (const state of ["READY", "AUTHENTICATING"]) assert(!seen.has(state), `saw ${state}`);
  assert(hole.accepted >= 2, `accepted ${hole.accepted}`);
  assert(hole.bytesReceived > 0, "the upgrade request arrived");

  await emitter.stop();
  await healthy.waitForCount(emitter.sent.length);
  assertEquals(keysOf(healthy.data), emitter.sent);
  assertEquals(stuck.completed, false, "the stuck source's subscription stays open");
  assertEquals(stuck.results.length, 0);
  assertEquals((await sourceStatus(relay.httpUrl, "ok")).state, "READY");

  figures.add("faultsInjected", hole.accepted);
  figures.delivered(healthy.data.length, emitter.sent.length);
});

Deno.test("an upstream that upgrades and then goes silent is declared dead after silenceMs", async () => {
  await using mute = await startScriptedWs(drpAcker(() => false));
  await using sim = createDrpSimulator();
  await sim.start();
  await using relay = await startRelay([
    {
      name: "mute",
      kind: "drp",
      url: `${mute.origin}/api/v3/ws`,
      username: "u",
      password: "p",
      silenceMs: 400,
      standing: ["machines.*.*"],
      reconnect: { baseMs: 20, maxMs: 50 },
    },
    sim.sourceConfig("ok"),
  ]);
  await using client = connectClient(relay.wsUrl);
  const healthy = client.subscribe<DrpRow>(DRP_SUB, { source: "ok" });
  await waitFor(() => drpRegistered(sim), "healthy registration");
  const emitter = steadyEmitter(sim, "ok");

  const t0 = Date.now();
  const status = await waitForSource(
    relay.httpUrl,
    "mute",
    (s) => s.reconnects >= 1 && (s.lastError ?? "").includes("No frame from upstream"),
    "silence detected",
  );
  const detectedAfterMs = Date.now() - t0;
  assert(mute.accepted >= 2, `redialled: ${mute.accepted} upgrades`);
  const frames = mute.received.filter((r) => r.connection === 1).map((r) => r.text);
  assertEquals(frames[0], "register machines.*.*");
  assert(frames.includes(PROBE), `the probe was sent: ${JSON.stringify(frames)}`);
  await waitFor(
    () => mute.received.some((r) => r.connection >= 2 && r.text === "register machines.*.*"),
    "interest re-sent on the new socket",
  );

  await emitter.stop();
  await healthy.waitForCount(emitter.sent.length);
  assertEquals(keysOf(healthy.data), emitter.sent);
  assertEquals((await sourceStatus(relay.httpUrl, "ok")).reconnects, 0);
  assertStringIncludes(status.lastError ?? "", "reconnecting");

  figures.add("faultsInjected", 1);
  figures.set("silenceDetectedAfterMs", detectedAfterMs);
  figures.delivered(healthy.data.length, emitter.sent.length);
});

Deno.test("a quiet upstream that answers the probe is kept", async () => {
  await using quiet = await startScriptedWs(drpAcker(() => true));
  await using relay = await startRelay([{
    name: "quiet",
    kind: "drp",
    url: `${quiet.origin}/api/v3/ws`,
    username: "u",
    password: "p",
    silenceMs: 300,
    standing: ["machines.*.*"],
  }]);
  await waitFor(() => quiet.received.length > 0, "register");
  await waitFor(() => quiet.received.filter((r) => r.text === PROBE).length >= 3, "3 probes");
  await tick(50);
  const status = await sourceStatus(relay.httpUrl, "quiet");
  assertEquals(status.state, "READY");
  assertEquals(status.reconnects, 0);
  assertEquals(quiet.accepted, 1);
});

Deno.test("half_open figures", () => figures.print());
