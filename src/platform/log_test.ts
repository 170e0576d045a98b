import { assertEquals, assertStringIncludes } from "@std/assert";
import { createLogger, type LoggerOptions, type LogLevel } from "./log.ts";
import { createRedactor } from "./redact.ts";

const NOW = Date.UTC(2024, 4, 1, 12, 0, 0);

function recording(options: LoggerOptions = {}) {
  const lines: { level: LogLevel; line: string }[] = [];
  const log = createLogger({
    now: () => NOW,
    sink: (level, line) => lines.push({ level, line }),
    ...options,
  });
  const entries = () => lines.map((l) => JSON.parse(l.line) as Record<string, unknown>);
  return { log, lines, entries };
}

Deno.test("createLogger()", async (t) => {
  await t.step("writes one JSON object per line with time, level and msg", () => {
    const { log, lines, entries } = recording();
    log.info("hello", { n: 1, nested: { a: [1, 2] } });
    assertEquals(lines.length, 1);
    assertEquals(lines[0]!.line.includes("\n"), false);
    assertEquals(lines[0]!.level, "info");
    assertEquals(entries()[0], {
      time: "2024-05-01T12:00:00.000Z",
      level: "info",
      msg: "hello",
      n: 1,
      nested: { a: [1, 2] },
    });
  });

  await t.step("a multi-line message still makes one line", () => {
    const { log, lines, entries } = recording();
    log.warn("line one\nline two");
    assertEquals(lines.length, 1);
    assertEquals(entries()[0]!.msg, "line one\nline two");
  });

  await t.step("level gating: info by default drops debug", () => {
    const { log, lines } = recording();
    log.debug("d");
    log.info("i");
    log.warn("w");
    log.error("e");
    assertEquals(lines.map((l) => l.level), ["info", "warn", "error"]);
  });

  await t.step("level gating: warn drops info; debug keeps all; silent drops all", () => {
    const warn = recording({ level: "warn" });
    for (const lvl of ["debug", "info", "warn", "error"] as const) warn.log[lvl]("x");
    assertEquals(warn.lines.map((l) => l.level), ["warn", "error"]);
    const debug = recording({ level: "debug" });
    for (const lvl of ["debug", "info", "warn", "error"] as const) debug.log[lvl]("x");
    assertEquals(debug.lines.length, 4);
    const silent = recording({ level: "silent" });
    for (const lvl of ["debug", "info", "warn", "error"] as const) silent.log[lvl]("x");
    assertEquals(silent.lines.length, 0);
  });

  await t.step("child() adds fields to every line and keeps the level", () => {
    const { log, entries, lines } = recording({ level: "warn" });
    const child = log.child({ source: "lab-drp" }).child({ component: "connector" });
    child.info("dropped by level");
    child.warn("kept", { extra: true });
    assertEquals(lines.length, 1);
    const e = entries()[0]!;
    assertEquals(e.source, "lab-drp");
    assertEquals(e.component, "connector");
    assertEquals(e.extra, true);
    log.warn("parent");
    assertEquals(entries()[1]!.source, undefined, "the parent is unchanged");
  });

  await t.step("Error values become name and message", () => {
    const { log, entries } = recording();
    const err = new TypeError("bad thing");
    log.error("failed", { error: err, code: 7 });
    assertEquals(entries()[0]!.error, { name: "TypeError", message: "bad thing" });
    assertEquals(entries()[0]!.code, 7);
  });

  await t.step("an unserialisable field does not lose the line", () => {
    const { log, entries } = recording();
    const loop: Record<string, unknown> = {};
    loop.self = loop;
    log.info("cyclic", { loop });
    assertEquals(entries()[0]!.msg, "cyclic");
    assertEquals(entries()[0]!.note, "unserialisable fields");
    log.info("big", { n: 10n });
    assertEquals(entries()[1]!.msg, "big");
  });

  await t.step("redaction applies to the finished line: msg, fields, child fields", () => {
    const redact = createRedactor(["s3cr3t-token"]);
    const { log, lines } = recording({ redact });
    log.child({ url: "wss://h/ws?token=s3cr3t-token" }).warn("auth s3cr3t-token failed", {
      error: new Error("Bearer s3cr3t-token refused"),
      quoted: 'say "s3cr3t-token"',
    });
    assertEquals(lines[0]!.line.includes("s3cr3t-token"), false);
    assertStringIncludes(lines[0]!.line, "[redacted]");
    const e = JSON.parse(lines[0]!.line);
    assertEquals(e.msg, "auth [redacted] failed");
    assertEquals(e.url, "wss://h/ws?token=[redacted]");
  });
});
