/**
 * Fault: clients sending garbage and oversized graphql-ws messages. Each offending socket
 * is closed with the graphql-ws or RFC 6455 code for its offence (4400, 4401, 4406, 4408,
 * 4409, 4429, 1009), and the relay keeps serving a healthy client without loss.
 */
import { assertEquals } from "@std/assert";
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
} from "../helpers/fault_kit.ts";
import { startRelay, waitFor } from "../helpers/relay.ts";

const figures = new FaultFigures("bad_client_messages");
const MAX_MESSAGE_BYTES = 2048;

type Step = (ws: WebSocket, msg?: Record<string, unknown>) => void;

/**
 * Opens a socket, runs `onOpen`, then `onMessage` for each message the relay sends, and
 * resolves with the close code the relay chose.
 */
function closeCodeFor(
  url: string,
  onOpen: Step,
  onMessage: Step = () => {},
  protocol: string | null = "graphql-transport-ws",
): Promise<number> {
  const { promise, resolve } = Promise.withResolvers<number>();
  const ws = protocol === null ? new WebSocket(url) : new WebSocket(url, protocol);
  ws.onopen = () => onOpen(ws);
  ws.onmessage = (e) => onMessage(ws, JSON.parse(String(e.data)));
  ws.onerror = () => {};
  ws.onclose = (e) => resolve(e.code);
  return promise;
}

const init = (ws: WebSocket) => ws.send(JSON.stringify({ type: "connection_init" }));
const sub = (id: string) =>
  JSON.stringify({ id, type: "subscribe", payload: { query: DRP_SUB, variables: {} } });

Deno.test("garbage and oversized graphql-ws messages close only the offending socket", async (t) => {
  await using sim = createDrpSimulator();
  await sim.start();
  await using relay = await startRelay([{ ...sim.sourceConfig("lab"), resumeWindowMs: 0 }], {
    logLevel: "error",
    config: {
      server: { limits: { maxMessageBytes: MAX_MESSAGE_BYTES, connectionInitTimeoutMs: 300 } },
    },
  });
  await using client = connectClient(relay.wsUrl);
  const healthy = client.subscribe<DrpRow>(DRP_SUB, { type: "machines" });
  await waitFor(() => drpRegistered(sim, "machines.*.*"), "healthy registration");
  const emitter = steadyEmitter(sim, "m");
  const url = relay.wsUrl;
  let injected = 0;
  const expectClose = async (name: string, expected: number, code: Promise<number>) => {
    await t.step(`${name} -> ${expected}`, async () => {
      assertEquals(await code, expected);
      injected++;
    });
  };

  await expectClose("non-JSON text", 4400, closeCodeFor(url, (ws) => ws.send("{nope")));
  await expectClose(
    "JSON that is not a message",
    4400,
    closeCodeFor(url, (ws) => ws.send("[1,2,3]")),
  );
  await expectClose(
    "wrong field types",
    4400,
    closeCodeFor(url, (ws) => {
      init(ws);
      ws.send(JSON.stringify({ id: 5, type: "subscribe", payload: { query: 7 } }));
    }),
  );
  await expectClose(
    "unknown message type",
    4400,
    closeCodeFor(url, (ws) => ws.send(JSON.stringify({ type: "bogus", id: "1" }))),
  );
  await expectClose(
    "binary frame",
    4400,
    closeCodeFor(url, (ws) => ws.send(new Uint8Array([0xff, 0x00, 0x7b]))),
  );
  await expectClose(
    "subscribe before connection_init",
    4401,
    closeCodeFor(url, (ws) => ws.send(sub("early"))),
  );
  await expectClose(
    "second connection_init",
    4429,
    closeCodeFor(url, (ws) => {
      init(ws);
      init(ws);
    }),
  );
  await expectClose(
    "duplicate subscription id",
    4409,
    closeCodeFor(url, init, (ws, msg) => {
      if (msg?.type !== "connection_ack") return;
      ws.send(sub("dup"));
      ws.send(sub("dup"));
    }),
  );
  await expectClose(
    "no connection_init within connectionInitTimeoutMs",
    4408,
    closeCodeFor(url, () => {}),
  );
  await expectClose(
    "no graphql-transport-ws subprotocol",
    4406,
    closeCodeFor(url, init, () => {}, null),
  );
  const oversizedBefore = relay.app.ws.stats.oversizedMessages;
  await expectClose(
    "message over maxMessageBytes",
    1009,
    closeCodeFor(url, init, (ws, msg) => {
      if (msg?.type !== "connection_ack") return;
      ws.send(JSON.stringify({
        id: "big",
        type: "subscribe",
        payload: { query: `# ${"x".repeat(MAX_MESSAGE_BYTES * 2)}\n${DRP_SUB}` },
      }));
    }),
  );
  assertEquals(relay.app.ws.stats.oversizedMessages, oversizedBefore + 1);

  await emitter.stop();
  await healthy.waitForCount(emitter.sent.length);
  assertEquals(keysOf(healthy.data), emitter.sent, "the healthy client missed nothing");
  assertEquals(healthy.completed, false);
  await waitFor(
    () => relay.app.ws.stats.open === 1 && relay.app.hub.subscriberCount("lab") === 1,
    "only the healthy socket left",
  );
  assertEquals((await sourceStatus(relay.httpUrl, "lab")).interest, ["machines.*.*"]);

  figures.add("faultsInjected", injected);
  figures.delivered(healthy.data.length, emitter.sent.length);
});

Deno.test("bad_client_messages figures", () => figures.print());
