/**
 * Config errors on the real entry point: a typo inside a source stops start-up with exit
 * code 2 and a line naming the key's path, instead of being accepted silently.
 */
import { assert, assertEquals, assertStringIncludes } from "@std/assert";

Deno.test("a typo in a source key: exit 2, naming its path", async () => {
  const config = {
    sources: [{
      name: "lab",
      kind: "drp",
      url: "ws://127.0.0.1:1/api/v3/ws",
      token: "t0ken",
      histroy: 5,
      standng: ["machines.*.*"],
    }],
  };
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "--allow-net", "--allow-env", "--allow-read", "src/main.ts"],
    stdout: "piped",
    stderr: "piped",
    env: { NO_COLOR: "1", RELAY_CONFIG_JSON: JSON.stringify(config) },
  }).output();
  const text = new TextDecoder().decode(out.stdout) + new TextDecoder().decode(out.stderr);
  assertEquals(out.code, 2, text);
  assertStringIncludes(text, 'sources[0].histroy: unknown key (did you mean \\"history\\"?)');
  assertStringIncludes(text, 'sources[0].standng: unknown key (did you mean \\"standing\\"?)');
  assert(!text.includes("t0ken"), "the token stays out of the output");
});
