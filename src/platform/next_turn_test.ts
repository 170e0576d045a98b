import { assertEquals } from "@std/assert";
import { nextTurn } from "./next_turn.ts";

Deno.test("nextTurn: resolves every waiter after the microtasks, in order, and leaves nothing open", async () => {
  const order: string[] = [];
  const a = nextTurn().then(() => order.push("a"));
  const b = nextTurn().then(() => order.push("b"));
  queueMicrotask(() => order.push("micro"));
  await Promise.all([a, b]);
  assertEquals(order, ["micro", "a", "b"]);
  for (let i = 0; i < 100; i++) await nextTurn();
});
