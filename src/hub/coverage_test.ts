import { assertEquals } from "@std/assert";
import { Coverage, type CoverageChange, describeGap, type Mark } from "./coverage.ts";

const T0 = Date.parse("2024-05-01T12:00:00.000Z");
const at = (s: number, offset: number): Mark => ({ at: T0 + s * 1000, offset });

/** A source with one socket that came up at offset 0 with interest version 1 = {a}. */
function upWithA(options: { sockets?: number } = {}) {
  const c = new Coverage({ start: at(0, 0), ...options });
  c.interestChanged(1, ["a"], [], at(0, 0));
  for (let s = 0; s < (options.sockets ?? 1); s++) c.socketReceiving(s, 1, at(1, 0));
  return c;
}

Deno.test("Coverage", async (t) => {
  await t.step("reports every gap opened and closed, in order (the cluster records them)", () => {
    const changes: CoverageChange[] = [];
    const c = new Coverage({ start: at(0, 0), onChange: (x) => changes.push(x) });
    c.interestChanged(1, ["a"], [], at(0, 0));
    c.socketReceiving(0, 1, at(1, 0));
    c.interestChanged(2, [], ["a"], at(2, 3));
    assertEquals(
      changes.map((x) => [x.kind, x.key ?? null, x.kind === "open" ? x.reason : x.at.offset]),
      [
        ["open", null, "UPSTREAM_DISCONNECTED"],
        ["open", "a", "NOT_REGISTERED"],
        ["close", null, 0],
        ["close", "a", 0],
        ["open", "a", "NOT_REGISTERED"],
      ],
    );
    assertEquals(c.snapshot(), {
      source: undefined,
      keys: [{
        key: "a",
        wanted: false,
        open: { reason: "NOT_REGISTERED", at: at(2, 3).at, listed: true },
      }],
    });
  });

  await t.step("covered from the first confirmed sync; nothing before it is listed", () => {
    const c = upWithA();
    assertEquals(c.breakAfter(["a"], 1), undefined);
    assertEquals(c.breakAfter([], 1), undefined);
    assertEquals(c.gaps(), []);
  });

  await t.step("before any socket receives, everything is a break", () => {
    const c = new Coverage({ start: at(0, 0) });
    c.interestChanged(1, ["a"], [], at(0, 0));
    assertEquals(c.breakAfter(["a"], 1)?.reason, "UPSTREAM_DISCONNECTED");
  });

  await t.step("a key never registered is NOT_REGISTERED since the start", () => {
    const c = upWithA();
    assertEquals(c.breakAfter(["a", "b"], 1), {
      reason: "NOT_REGISTERED",
      key: "b",
      from: at(0, 0),
      to: undefined,
    });
  });

  await t.step("a key is uncovered from its removal until a sync of its re-adding", () => {
    const c = upWithA();
    c.interestChanged(2, [], ["a"], at(10, 5));
    assertEquals(c.breakAfter(["a"], 5)?.to, undefined, "open");
    c.interestChanged(3, ["a"], [], at(20, 7));
    // A late report of an older set cannot close it: that set predates the re-adding.
    c.socketReceiving(0, 2, at(21, 7));
    assertEquals(c.breakAfter(["a"], 5)?.to, undefined);
    c.socketReceiving(0, 3, at(22, 8));
    const gap = c.breakAfter(["a"], 5);
    assertEquals(gap, { reason: "NOT_REGISTERED", key: "a", from: at(10, 5), to: at(22, 8) });
    // Events up to offset 8 were held before the gap ended: resuming after them may miss.
    assertEquals(c.breakAfter(["a"], 8)?.to, at(22, 8));
    assertEquals(c.breakAfter(["a"], 9), undefined, "an event after the gap resumes fine");
    assertEquals(c.gaps(), [gap]);
  });

  await t.step("an upstream outage breaks every key and keyless parts", () => {
    const c = upWithA();
    c.socketReceiving(0, undefined, at(5, 3));
    c.socketReceiving(0, undefined, at(6, 3)); // repeated downs change nothing
    assertEquals(c.breakAfter([], 1)?.reason, "UPSTREAM_DISCONNECTED");
    c.socketReceiving(0, 1, at(9, 4));
    const gap = { reason: "UPSTREAM_DISCONNECTED", key: undefined, from: at(5, 3), to: at(9, 4) };
    assertEquals(c.breakAfter(["a"], 2), gap);
    assertEquals(c.breakAfter([], 4), gap);
    assertEquals(c.breakAfter(["a"], 5), undefined);
    assertEquals(c.gaps(), [gap]);
  });

  await t.step("with several sockets, one down is enough to break coverage", () => {
    const c = upWithA({ sockets: 2 });
    c.socketReceiving(1, undefined, at(5, 3));
    c.socketReceiving(0, 1, at(6, 3));
    assertEquals(c.breakAfter([], 1)?.to, undefined);
    c.socketReceiving(1, 1, at(7, 3));
    assertEquals(c.breakAfter([], 4), undefined);
    assertEquals(c.breakAfter([], 3)?.to, at(7, 3));
  });

  await t.step("the latest break is reported when there are several", () => {
    const c = upWithA();
    c.socketReceiving(0, undefined, at(5, 3));
    c.socketReceiving(0, 1, at(6, 3));
    c.interestChanged(2, [], ["a"], at(7, 4));
    c.interestChanged(3, ["a"], [], at(8, 4));
    c.socketReceiving(0, 3, at(9, 6));
    assertEquals(c.breakAfter(["a"], 1)?.reason, "NOT_REGISTERED");
    assertEquals(c.gaps().map((g) => g.reason), ["NOT_REGISTERED", "UPSTREAM_DISCONNECTED"]);
  });

  await t.step("the listed gaps and idle key records are bounded", () => {
    const c = new Coverage({ start: at(0, 0), maxListed: 3, maxIdleKeys: 2 });
    c.socketReceiving(0, 0, at(0, 0));
    let v = 0;
    for (const key of ["a", "b", "c", "d"]) {
      c.interestChanged(++v, [key], [], at(v, 0));
      c.socketReceiving(0, v, at(v, 0));
      c.interestChanged(++v, [], [key], at(v, 0));
    }
    assertEquals(c.gaps().map((g) => g.key), ["d", "c", "b"]);
    // "a" was forgotten: it falls back to "not registered since the start".
    assertEquals(c.breakAfter(["a"], 1)?.from, at(0, 0));
    assertEquals(c.breakAfter(["d"], 1)?.from, at(8, 0));
  });

  await t.step("describeGap says why and when", () => {
    const now = T0 + 60_000;
    assertEquals(
      describeGap(
        { reason: "NOT_REGISTERED", key: "a.*.*", from: at(1, 0), to: at(2, 0) },
        "lab",
        now,
      ),
      'interest "a.*.*" was not registered upstream between 2024-05-01T12:00:01.000Z and ' +
        "2024-05-01T12:00:02.000Z",
    );
    assertEquals(
      describeGap(
        { reason: "UPSTREAM_DISCONNECTED", key: undefined, from: at(1, 0), to: undefined },
        "lab",
        now,
      ),
      'upstream "lab" was disconnected between 2024-05-01T12:00:01.000Z and now ' +
        "(2024-05-01T12:01:00.000Z)",
    );
  });
});

Deno.test("Coverage: a wider key's unbroken coverage vouches for a narrower one", () => {
  const covers = (wide: string, narrow: string) => wide === "*" && narrow !== "*";
  const c = new Coverage({ start: at(0, 0), covers });
  c.interestChanged(1, ["*"], [], at(0, 0));
  c.socketReceiving(0, 1, at(1, 0));
  // "m" was never registered itself, but "*" received everything it would have.
  assertEquals(c.breakAfter(["m"], 1), undefined);
  c.interestChanged(2, [], ["*"], at(5, 3));
  assertEquals(c.breakAfter(["m"], 1)?.key, "m", "the own break is what is reported");
});
