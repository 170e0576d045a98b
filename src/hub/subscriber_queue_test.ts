import { assert, assertEquals, assertRejects } from "@std/assert";
import { SubscriberQueue } from "./subscriber_queue.ts";

class OverflowError extends Error {
  override name = "OverflowError";
}

function makeQueue(maxItems = 3) {
  let closes = 0;
  const queue = new SubscriberQueue<number>({
    maxItems,
    onClose: () => closes++,
    overflowError: () => new OverflowError("too slow"),
  });
  return { queue, closes: () => closes };
}

Deno.test("SubscriberQueue", async (t) => {
  await t.step("next() returns pushed items in order", async () => {
    const { queue } = makeQueue();
    assert(queue.push(1));
    assert(queue.push(2));
    assertEquals(queue.length, 2);
    assertEquals(await queue.next(), { value: 1, done: false });
    assertEquals(await queue.next(), { value: 2, done: false });
    assertEquals(queue.length, 0);
  });

  await t.step("a waiting next() is resolved by the next push", async () => {
    const { queue } = makeQueue();
    const pending = queue.next();
    assert(queue.push(7));
    assertEquals(await pending, { value: 7, done: false });
    assertEquals(queue.length, 0);
  });

  await t.step("works as an async iterable", async () => {
    const { queue, closes } = makeQueue();
    queue.push(1);
    queue.push(2);
    const got: number[] = [];
    for await (const n of queue) {
      got.push(n);
      if (got.length === 2) break;
    }
    assertEquals(got, [1, 2]);
    assert(queue.closed);
    assertEquals(closes(), 1);
  });

  await t.step("keeps order across many items (compaction of the head)", async () => {
    const { queue } = makeQueue(5000);
    for (let i = 0; i < 3000; i++) queue.push(i);
    for (let i = 0; i < 2000; i++) assertEquals((await queue.next()).value, i);
    for (let i = 3000; i < 4000; i++) queue.push(i);
    for (let i = 2000; i < 4000; i++) assertEquals((await queue.next()).value, i);
    assertEquals(queue.length, 0);
  });

  await t.step("overflow fails with the overflow error and calls onClose once", async () => {
    const { queue, closes } = makeQueue(2);
    assert(queue.push(1));
    assert(queue.push(2));
    assertEquals(queue.push(3), false);
    assertEquals(closes(), 1);
    assertEquals(queue.length, 0, "queued items are discarded");
    await assertRejects(() => queue.next(), OverflowError, "too slow");
    assert(queue.closed);
    assertEquals(queue.push(4), false);
    await queue.return();
    assertEquals(closes(), 1);
  });

  await t.step("return() releases at once: a waiting next() ends, onClose runs once", async () => {
    const { queue, closes } = makeQueue();
    const pending = queue.next();
    assertEquals(await queue.return(), { value: undefined, done: true });
    assertEquals(await pending, { value: undefined, done: true });
    assertEquals(closes(), 1);
    assert(queue.closed);
    await queue.return();
    assertEquals(closes(), 1);
    assertEquals(await queue.next(), { value: undefined, done: true });
  });

  await t.step("return() discards queued items", async () => {
    const { queue } = makeQueue();
    queue.push(1);
    await queue.return();
    assertEquals(queue.length, 0);
    assertEquals(await queue.next(), { value: undefined, done: true });
  });

  await t.step("fail() then next() rejects with that error; onClose once", async () => {
    const { queue, closes } = makeQueue();
    queue.push(1);
    queue.fail(new Error("boom"));
    assertEquals(closes(), 1);
    assert(queue.closed, "a failed queue reports closed");
    await assertRejects(() => queue.next(), Error, "boom");
    queue.fail(new Error("again"));
    await queue.return();
    assertEquals(closes(), 1);
  });

  await t.step("fail() rejects a waiting next()", async () => {
    const { queue, closes } = makeQueue();
    const pending = queue.next();
    queue.fail(new Error("gone"));
    await assertRejects(() => pending, Error, "gone");
    assert(queue.closed);
    assertEquals(closes(), 1);
  });

  await t.step("items pushed after close are refused", async () => {
    const a = makeQueue();
    await a.queue.return();
    assertEquals(a.queue.push(1), false);
    assertEquals(a.queue.length, 0);
    const b = makeQueue();
    b.queue.fail(new Error("x"));
    assertEquals(b.queue.push(1), false);
    assertEquals(b.queue.length, 0);
  });

  await t.step("throw() ends the queue and rejects with the given error", async () => {
    const { queue, closes } = makeQueue();
    await assertRejects(() => queue.throw(new Error("consumer gave up")), Error, "consumer");
    assert(queue.closed);
    assertEquals(closes(), 1);
  });
});
