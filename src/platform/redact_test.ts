import { assertEquals, assertStringIncludes } from "@std/assert";
import { createRedactor } from "./redact.ts";

function base64(text: string): string {
  return btoa(String.fromCharCode(...new TextEncoder().encode(text)));
}

Deno.test("createRedactor()", async (t) => {
  const secret = 's3cr3t/+ "tok"?&=';

  await t.step("masks the raw value wherever it appears", () => {
    const redact = createRedactor(["hunter2"]);
    assertEquals(redact("pw=hunter2 and again hunter2"), "pw=[redacted] and again [redacted]");
  });

  await t.step("masks the URL-encoded form", () => {
    const redact = createRedactor([secret]);
    const url = `wss://h/ws?token=${encodeURIComponent(secret)}`;
    assertEquals(redact(url), "wss://h/ws?token=[redacted]");
  });

  await t.step("masks the form-encoded query value URLSearchParams produces", () => {
    const token = "it's a (b)~!";
    const url = new URL("wss://h/ws");
    url.searchParams.set("token", token);
    assertEquals(url.href.includes(encodeURIComponent(token)), false, "the forms differ");
    assertEquals(createRedactor([token])(url.href), "wss://h/ws?token=[redacted]");
  });

  await t.step("masks the JSON-escaped form", () => {
    const redact = createRedactor([secret]);
    const line = JSON.stringify({ error: `bad token ${secret}` });
    assertEquals(line.includes(secret), false, "the test secret needs escaping in JSON");
    assertEquals(redact(line), JSON.stringify({ error: "bad token [redacted]" }));
  });

  await t.step("masks the base64 form (Basic auth headers)", () => {
    const redact = createRedactor(["alice:pa55word"]);
    assertEquals(
      redact(`Authorization: Basic ${base64("alice:pa55word")}`),
      "Authorization: Basic [redacted]",
    );
    const unicode = createRedactor(["pässwörd"]);
    assertEquals(unicode(base64("pässwörd")), "[redacted]");
  });

  await t.step("ignores secrets shorter than 3 characters", () => {
    const redact = createRedactor(["", "a", "ab"]);
    assertEquals(redact("a ab abc"), "a ab abc");
  });

  await t.step("with no secrets returns the text unchanged", () => {
    assertEquals(createRedactor([])("anything"), "anything");
  });

  await t.step("overlapping secrets: the longer one is masked whole", () => {
    const redact = createRedactor(["abc", "abcdef"]);
    assertEquals(redact("x abcdef y abc z"), "x [redacted] y [redacted] z");
    const reversed = createRedactor(["abcdef", "abc"]);
    assertEquals(reversed("abcdefabc"), "[redacted][redacted]");
  });

  await t.step("regex metacharacters in secrets are literal", () => {
    const redact = createRedactor(["a.c*", "(x|y)"]);
    assertEquals(redact("abc* a.c* x (x|y)"), "abc* [redacted] x [redacted]");
  });

  await t.step("the same redactor can be used many times (no global regex state)", () => {
    const redact = createRedactor(["tok123"]);
    for (let i = 0; i < 3; i++) {
      assertStringIncludes(redact("tok123 tok123"), "[redacted] [redacted]");
    }
  });
});
