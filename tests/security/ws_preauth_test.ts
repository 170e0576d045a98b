/**
 * Attack 5 (issue 7): large frames before authentication. Binary frames are refused by
 * size with 1009 like text ones (before and after `connection_init`), and one address may
 * hold only `maxPendingSocketsPerAddress` unauthenticated sockets, so what Deno buffers
 * before the relay can judge a frame cannot be multiplied by opening more sockets.
 */
import { assertEquals, assertRejects } from "@std/assert";
import { Opcode, RawWsClient } from "../helpers/raw_ws.ts";
import { startRelay, waitFor } from "../helpers/relay.ts";

Deno.test("binary frames: 1009 by size, 4400 otherwise", async (t) => {
  await using relay = await startRelay([], { logLevel: "warn" });
  const big = new Uint8Array(2 * 1024 * 1024);
  await t.step("before connection_init, 2 MiB: 1009", async () => {
    await using ws = await RawWsClient.connect(relay.wsUrl);
    await ws.sendFrame(Opcode.binary, big);
    assertEquals((await ws.readUntilClose()).code, 1009);
  });
  await t.step("after connection_ack, 2 MiB: 1009", async () => {
    await using ws = await RawWsClient.connect(relay.wsUrl);
    await ws.sendJson({ type: "connection_init" });
    assertEquals((await ws.readJson()).type, "connection_ack");
    await ws.sendFrame(Opcode.binary, big);
    assertEquals((await ws.readUntilClose()).code, 1009);
  });
  await t.step("a small binary frame: 4400 (graphql-ws is a text protocol)", async () => {
    await using ws = await RawWsClient.connect(relay.wsUrl);
    await ws.sendFrame(Opcode.binary, new Uint8Array(16));
    assertEquals((await ws.readUntilClose()).code, 4400);
  });
});

Deno.test("unauthenticated sockets per address are bounded", async () => {
  await using relay = await startRelay([], {
    logLevel: "warn",
    config: { server: { limits: { maxPendingSocketsPerAddress: 3 } } },
  });
  const held = await Promise.all([1, 2, 3].map(() => RawWsClient.connect(relay.wsUrl)));
  try {
    await waitFor(() => relay.app.admission.pending("127.0.0.1") === 3, "3 pending");
    await assertRejects(() => RawWsClient.connect(relay.wsUrl), Error, "429");
    assertEquals(relay.app.admission.stats.pendingRefused, 1);
    // Once one authenticates, its slot is free again.
    await held[0]!.sendJson({ type: "connection_init" });
    assertEquals((await held[0]!.readJson()).type, "connection_ack");
    await using next = await RawWsClient.connect(relay.wsUrl);
    await next.sendJson({ type: "connection_init" });
    assertEquals((await next.readJson()).type, "connection_ack");
    // And a closed socket frees its slot too.
    await held[1]![Symbol.asyncDispose]();
    await waitFor(() => relay.app.admission.pending("127.0.0.1") <= 2, "slot freed on close");
  } finally {
    for (const ws of held) await ws[Symbol.asyncDispose]().catch(() => {});
  }
});
