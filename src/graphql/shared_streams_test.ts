import { assertEquals, assertRejects, assertStrictEquals } from "@std/assert";
import type { ExecutionResult } from "graphql";
import { SubscriberQueue } from "../hub/subscriber_queue.ts";
import { SharedStreams } from "./shared_streams.ts";
import { nextWithin } from "../../tests/helpers/next_within.ts";

/** A source the test pushes results into; counts how often it is ended. */
function controllableSource() {
  const stats = { returned: 0 };
  const source = new SubscriberQueue<ExecutionResult>({
    maxItems: 100,
    onClose: () => stats.returned++,
    overflowError: () => new Error("source overflow"),
  });
  return { source, stats };
}

/** A start function that counts its calls and yields once before answering. */
function counted<T>(make: () => T) {
  const calls = { n: 0 };
  const start = async () => {
    calls.n++;
    await Promise.resolve();
    return make();
  };
  return { start, calls };
}

function asIterator(value: unknown): AsyncIterableIterator<ExecutionResult> {
  if (typeof value !== "object" || value === null || !(Symbol.asyncIterator in value)) {
    throw new Error("expected a stream");
  }
  return value as AsyncIterableIterator<ExecutionResult>;
}

Deno.test("SharedStreams", async (t) => {
  await t.step("two joins with the same key share one started source", async () => {
    const streams = new SharedStreams();
    const { source, stats } = controllableSource();
    const { start, calls } = counted(() => source);
    const a = asIterator(await streams.join("k", start));
    const b = asIterator(await streams.join("k", start));
    assertEquals(calls.n, 1);
    assertEquals(streams.groupCount, 1);
    assertEquals(streams.members("k"), 2);
    assertEquals(streams.memberCount, 2);
    source.push({ data: { n: 1 } });
    assertEquals(await nextWithin(a), { value: { data: { n: 1 } }, done: false });
    assertEquals(await nextWithin(b), { value: { data: { n: 1 } }, done: false });
    await a.return?.();
    assertEquals(stats.returned, 0, "one member is left");
    await b.return?.();
    assertEquals(stats.returned, 1, "the last member leaving ends the source");
    assertEquals(streams.groupCount, 0);
    assertEquals(streams.memberCount, 0);
  });

  await t.step("start runs once even when joins race", async () => {
    const streams = new SharedStreams();
    const { source, stats } = controllableSource();
    const { start, calls } = counted(() => source);
    const joined = await Promise.all([
      streams.join("k", start),
      streams.join("k", start),
      streams.join("k", start),
    ]);
    assertEquals(calls.n, 1);
    assertEquals(streams.members("k"), 3);
    source.push({ data: { x: true } });
    for (const j of joined) {
      assertEquals((await nextWithin(asIterator(j))).value, { data: { x: true } });
    }
    for (const j of joined) await asIterator(j).return?.();
    assertEquals(stats.returned, 1);
  });

  await t.step("different keys get different sources", async () => {
    const streams = new SharedStreams();
    const one = controllableSource();
    const two = controllableSource();
    const a = asIterator(await streams.join("a", () => one.source));
    const b = asIterator(await streams.join("b", () => two.source));
    assertEquals(streams.groupCount, 2);
    two.source.push({ data: { from: "b" } });
    assertEquals((await nextWithin(b)).value, { data: { from: "b" } });
    await a.return?.();
    assertEquals([one.stats.returned, two.stats.returned], [1, 0]);
    await b.return?.();
    assertEquals(two.stats.returned, 1);
  });

  await t.step("a key joined again after its group ended starts afresh", async () => {
    const streams = new SharedStreams();
    const first = controllableSource();
    const second = controllableSource();
    const sources = [first.source, second.source];
    let made = 0;
    const { start, calls } = counted((): SubscriberQueue<ExecutionResult> => sources[made++]!);
    const a = asIterator(await streams.join("k", start));
    await a.return?.();
    const b = asIterator(await streams.join("k", start));
    assertEquals(calls.n, 2);
    second.source.push({ data: { fresh: 1 } });
    assertEquals((await nextWithin(b)).value, { data: { fresh: 1 } });
    await b.return?.();
  });

  await t.step("a non-iterable start result is returned as is and not cached", async () => {
    const streams = new SharedStreams();
    const error: ExecutionResult = { errors: [] };
    const { start, calls } = counted(() => error);
    assertStrictEquals(await streams.join("k", start), error);
    assertStrictEquals(await streams.join("k", start), error);
    assertEquals(calls.n, 2, "not cached");
    assertEquals(streams.groupCount, 0);
  });

  await t.step("a source error fails every member", async () => {
    const streams = new SharedStreams();
    const { source } = controllableSource();
    const a = asIterator(await streams.join("k", () => source));
    const b = asIterator(await streams.join("k", () => source));
    source.fail(new Error("upstream gone"));
    await assertRejects(() => nextWithin(a), Error, "upstream gone");
    await assertRejects(() => nextWithin(b), Error, "upstream gone");
    assertEquals(streams.groupCount, 0);
  });

  await t.step("a source that completes completes every member", async () => {
    const streams = new SharedStreams();
    const { source } = controllableSource();
    const a = asIterator(await streams.join("k", () => source));
    const b = asIterator(await streams.join("k", () => source));
    source.push({ data: { i: 1 } });
    for (const m of [a, b]) assertEquals((await nextWithin(m)).value, { data: { i: 1 } });
    await source.return();
    for (const m of [a, b]) assertEquals((await nextWithin(m)).done, true);
    assertEquals(streams.groupCount, 0);
  });

  await t.step("a member that falls behind is dropped; the others carry on", async () => {
    const streams = new SharedStreams({ maxQueued: 1 });
    const { source, stats } = controllableSource();
    const slow = asIterator(await streams.join("k", () => source));
    const fast = asIterator(await streams.join("k", () => source));
    for (let i = 0; i < 3; i++) {
      source.push({ data: { i } });
      assertEquals((await nextWithin(fast)).value, { data: { i } });
    }
    await assertRejects(() => nextWithin(slow), Error, "fell too far behind");
    assertEquals(streams.members("k"), 1);
    assertEquals(stats.returned, 0);
    await fast.return?.();
    assertEquals(stats.returned, 1);
  });

  await t.step("deliver members get each result serialised once, as the same text", async () => {
    const streams = new SharedStreams();
    const { source, stats } = controllableSource();
    const texts: string[][] = [[], []];
    const a = asIterator(await streams.join("k", () => source, (t) => texts[0]!.push(t)));
    const b = asIterator(await streams.join("k", () => source, (t) => texts[1]!.push(t)));
    const pending = [a.next(), b.next()];
    source.push({ data: { n: 1 } });
    source.push({ data: { n: 2 } });
    await new Promise((resolve) => setTimeout(resolve, 0));
    assertEquals(texts[0], ['{"data":{"n":1}}', '{"data":{"n":2}}']);
    assertEquals(texts[1], texts[0]);
    assertStrictEquals(texts[0]![0], texts[1]![0], "one string shared by both members");
    await source.return();
    for (const p of pending) assertEquals((await p).done, true, "the iterator only ends");
    assertEquals(stats.returned, 1);
  });

  await t.step("a deliver member whose socket throws does not stop the others", async () => {
    const streams = new SharedStreams();
    const { source } = controllableSource();
    const got: string[] = [];
    await streams.join("k", () => source, () => {
      throw new Error("socket closed");
    });
    await streams.join("k", () => source, (t) => got.push(t));
    source.push({ data: { ok: true } });
    await new Promise((resolve) => setTimeout(resolve, 0));
    assertEquals(got, ['{"data":{"ok":true}}']);
    await source.return();
  });

  await t.step("a backlog fans out in slices with event-loop turns between them", async () => {
    const turns: number[] = [];
    const delivered: number[] = [];
    const streams = new SharedStreams({
      sliceSize: 5,
      yieldTurn: () => {
        turns.push(delivered.length);
        return new Promise((resolve) => setTimeout(resolve, 0));
      },
    });
    const { source } = controllableSource();
    const got: string[][] = [[], [], []];
    for (const [i, list] of got.entries()) {
      await streams.join("k", () => source, (t) => {
        list.push(t);
        delivered.push(i);
      });
    }
    // Ten results already waiting: the pump must not write all 30 frames in one go.
    for (let n = 0; n < 10; n++) source.push({ data: { n } });
    const until = Date.now() + 5000;
    while (delivered.length < 30 && Date.now() < until) {
      await new Promise((resolve) => setTimeout(resolve, 1));
    }
    assertEquals(turns, [5, 10, 15, 20, 25, 30]);
    const expected = Array.from({ length: 10 }, (_, n) => `{"data":{"n":${n}}}`);
    for (const list of got) assertEquals(list, expected, "every member, in order, once");
    await source.return();
  });
});
