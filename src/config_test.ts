import { assert, assertEquals, assertStringIncludes, assertThrows } from "@std/assert";
import { ConfigError, locateConfig, parseConfig, parseConfigText } from "./config.ts";

type Env = Record<string, string>;

function envOf(vars: Env = {}): (name: string) => string | undefined {
  return (name) => vars[name];
}

/** The problems of a config that must fail. */
function problemsOf(input: unknown, vars: Env = {}): string[] {
  const err = assertThrows(() => parseConfig(input, envOf(vars)), ConfigError);
  assertEquals(err.message.split("\n").length, err.problems.length + 1, "one line per problem");
  return err.problems;
}

const drp = (extra: Record<string, unknown> = {}) => ({
  name: "lab-drp",
  kind: "drp",
  url: "wss://10.0.0.5:8092/api/v3/ws",
  token: "t0ken-abc",
  ...extra,
});

function noFile(path: string): string {
  throw new Error(`unexpected read of ${path}`);
}

Deno.test("parseConfig()", async (t) => {
  await t.step("an empty document gets the defaults", () => {
    const { config, secrets } = parseConfig({}, envOf());
    assertEquals(config.server.port, 8080);
    assertEquals(config.server.hostname, "0.0.0.0");
    assertEquals(config.server.graphqlPath, "/graphql");
    assertEquals(config.logLevel, "info");
    assertEquals(config.sources, []);
    assertEquals(secrets, []);
  });

  await t.step("a source gets the shared and vendor defaults", () => {
    const { config } = parseConfig({ sources: [drp()] }, envOf());
    const source = config.sources[0] as unknown as Record<string, unknown>;
    assertEquals(source.name, "lab-drp");
    assertEquals(source.history, 1000);
    assertEquals(source.reconnect, { baseMs: 500, maxMs: 30_000, stableMs: 30_000 });
    assertEquals(source.connectTimeoutMs, 10_000);
    assertEquals(source.authTimeoutMs, 10_000);
    assertEquals(source.silenceMs, 60_000);
    assertEquals(source.authMode, "header");
    assertEquals(source.ackTimeoutMs, 5000);
    assertEquals(source.standing, []);
  });

  await t.step('{ "env": NAME } resolves anywhere, and env values are secrets', () => {
    const { config, secrets } = parseConfig({
      server: { hostname: { env: "HOST" } },
      sources: [drp({ token: { env: "DRP_TOKEN" }, standing: [{ env: "PATTERN" }] })],
    }, envOf({ HOST: "127.0.0.1", DRP_TOKEN: "from-env-token", PATTERN: "machines.*.*" }));
    assertEquals(config.server.hostname, "127.0.0.1");
    const source = config.sources[0] as unknown as { token: string; standing: string[] };
    assertEquals(source.token, "from-env-token");
    assertEquals(source.standing, ["machines.*.*"]);
    assert(secrets.includes("from-env-token"));
    assert(secrets.includes("127.0.0.1"), "every env value is treated as a secret");
  });

  await t.step("a missing variable is named with the path that wanted it", () => {
    const problems = problemsOf({
      server: { hostname: { env: "NO_HOST" } },
      sources: [drp({ token: { env: "NO_TOKEN" } })],
    });
    // Exactly once each: not again as "DRP needs token" for the now-empty field.
    assertEquals(problems, [
      "server.hostname: environment variable NO_HOST is not set",
      "sources[0].token: environment variable NO_TOKEN is not set",
    ]);
  });

  await t.step("an object with more than an env key is not a reference", () => {
    const problems = problemsOf({ server: { hostname: { env: "HOST", x: 1 } } }, { HOST: "h" });
    assertEquals(problems.length, 1);
    assert(problems[0]!.startsWith("server.hostname: "), problems[0]);
  });

  await t.step("every bad field gives one line naming its path", () => {
    const problems = problemsOf({
      server: { port: 70000, graphqlPath: "graphql" },
      logLevel: "loud",
      sources: [drp({ url: "http://10.0.0.5/ws", history: -1, name: "bad name" })],
    });
    const paths = problems.map((p) => p.slice(0, p.indexOf(": ")));
    assertEquals(paths.sort(), [
      "logLevel",
      "server.graphqlPath",
      "server.port",
      "sources[0].history",
      "sources[0].name",
      "sources[0].url",
    ]);
    assert(problems.includes("sources[0].url: Expected a ws:// or wss:// URL"));
  });

  await t.step("problems of several sources are all reported", () => {
    const problems = problemsOf({
      sources: [drp({ url: "nope" }), drp({ name: "ok" }), drp({ name: "x", authMode: "cookie" })],
    });
    assertEquals(problems.length, 2);
    assert(problems[0]!.startsWith("sources[0].url: "));
    assert(problems[1]!.startsWith("sources[2].authMode: "));
  });

  await t.step("an unknown kind lists the known ones", () => {
    const [line, ...rest] = problemsOf({ sources: [{ name: "x", kind: "mqtt" }] });
    assertEquals(rest, []);
    assert(line!.startsWith("sources[0].kind: expected one of "), line);
    assertStringIncludes(line!, '"drp"');
    assertStringIncludes(line!, 'got "mqtt"');
    const [missing] = problemsOf({ sources: [{ name: "x" }] });
    assertStringIncludes(missing!, "got undefined");
    const [notObject] = problemsOf({ sources: ["drp"] });
    assert(notObject!.startsWith("sources[0].kind: "), notObject);
  });

  await t.step("duplicate source names are refused", () => {
    const problems = problemsOf({ sources: [drp(), drp({ url: "ws://other/api/v3/ws" })] });
    assertEquals(problems, ['sources[1].name: "lab-drp" is already used by sources[0]']);
  });

  await t.step("unknown keys are rejected (strict), each named by its path", () => {
    assertEquals(problemsOf({ sever: { port: 1 } }), [
      'sever: unknown key (did you mean "server"?)',
    ]);
    assertEquals(problemsOf({ server: { prot: 1 } }), [
      'server.prot: unknown key (did you mean "port"?)',
    ]);
  });

  await t.step("unknown keys inside a source are rejected too, nested ones included", () => {
    assertEquals(
      problemsOf({
        sources: [drp({ histroy: 5, standng: ["*.*.*"], reconnect: { baseMS: 5 }, zzz: 1 })],
      }),
      [
        'sources[0].reconnect.baseMS: unknown key (did you mean "baseMs"?)',
        'sources[0].histroy: unknown key (did you mean "history"?)',
        'sources[0].standng: unknown key (did you mean "standing"?)',
        "sources[0].zzz: unknown key",
      ],
    );
  });

  await t.step("resumeWindowMs defaults to 60 s; 0 turns the window off", () => {
    const { config } = parseConfig(
      { sources: [drp(), drp({ name: "b", resumeWindowMs: 0 })] },
      () => undefined,
    );
    assertEquals(config.sources.map((s) => s.resumeWindowMs), [60_000, 0]);
    assert(problemsOf({ sources: [drp({ resumeWindowMs: -1 })] })[0]!.startsWith(
      "sources[0].resumeWindowMs: ",
    ));
  });

  await t.step("a document that is not an object is refused", () => {
    for (const input of [null, [], "x", 3]) {
      const problems = problemsOf(input);
      assert(problems.length >= 1);
      assert(problems[0]!.startsWith("(root): "), problems[0]);
    }
  });

  await t.step("DRP: token, or username and password, never both", () => {
    const ok = parseConfig({
      sources: [drp({ token: undefined, username: "rocketskates", password: "r0cketsk8ts" })],
    }, envOf());
    assertEquals(ok.config.sources.length, 1);
    assertEquals(
      problemsOf({ sources: [drp({ username: "u", password: "p" })] }),
      ["sources[0].token: Give either token or username/password, not both"],
    );
    assertEquals(
      problemsOf({ sources: [drp({ token: undefined })] }),
      ["sources[0].token: DRP needs token, or username and password"],
    );
    assertEquals(
      problemsOf({ sources: [drp({ token: undefined, username: "u" })] }),
      ["sources[0].password: DRP needs token, or username and password"],
    );
    assertEquals(
      problemsOf({ sources: [drp({ token: undefined, password: "p" })] }),
      ["sources[0].token: DRP needs token, or username and password"],
    );
    const empty = problemsOf({ sources: [drp({ token: "" })] });
    assert(empty.some((p) => p.startsWith("sources[0].token: ")), empty.join("\n"));
  });

  await t.step("DRP standing patterns are validated one by one", () => {
    const { config } = parseConfig(
      { sources: [drp({ standing: ["machines.*.*", "params.update.a.b.c"] })] },
      envOf(),
    );
    assertEquals((config.sources[0] as unknown as { standing: string[] }).standing, [
      "machines.*.*",
      "params.update.a.b.c",
    ]);
    const problems = problemsOf({
      sources: [drp({ standing: ["machines.*.*", "machines", "jobs.*. x", "a..*"] })],
    });
    assertEquals(problems.map((p) => p.slice(0, p.indexOf(": "))), [
      "sources[0].standing[1]",
      "sources[0].standing[2]",
      "sources[0].standing[3]",
    ]);
    assertStringIncludes(problems[0]!, '"machines" is not type.action.key');
    assertStringIncludes(problems[1]!, "whitespace");
    assertStringIncludes(problems[2]!, "empty");
  });

  await t.step("secrets: token and password fields are collected, URLs are not", () => {
    const { secrets } = parseConfig({
      sources: [
        drp({ name: "a", token: "plain-token-1" }),
        drp({ name: "b", token: undefined, username: "operator", password: "pa55word" }),
      ],
    }, envOf());
    assert(secrets.includes("plain-token-1"));
    assert(secrets.includes("pa55word"));
    assert(!secrets.includes("operator"), "a username is not a secret");
    assert(!secrets.some((s) => s.startsWith("wss://")), "URLs are not secrets");
    assertEquals(new Set(secrets).size, secrets.length, "no duplicates");
  });
});

Deno.test("locateConfig()", async (t) => {
  const all = { RELAY_CONFIG: "env.json", RELAY_CONFIG_JSON: '{"inline":true}' };
  const read = (path: string) => `contents of ${path}`;

  await t.step("--config PATH comes first", () => {
    assertEquals(locateConfig(["--config", "arg.json"], envOf(all), read), {
      kind: "file",
      path: "arg.json",
      text: "contents of arg.json",
    });
  });

  await t.step("--config=PATH works the same", () => {
    assertEquals(locateConfig(["--config=eq.json"], envOf(all), read), {
      kind: "file",
      path: "eq.json",
      text: "contents of eq.json",
    });
  });

  await t.step("--config without a path is an error", () => {
    const err = assertThrows(() => locateConfig(["--config"], envOf(all), read), ConfigError);
    assertEquals(err.problems, ["--config: needs a path"]);
  });

  await t.step("then RELAY_CONFIG (a path)", () => {
    assertEquals(locateConfig([], envOf(all), read), {
      kind: "file",
      path: "env.json",
      text: "contents of env.json",
    });
  });

  await t.step("then RELAY_CONFIG_JSON (inline)", () => {
    const env = envOf({ RELAY_CONFIG: "", RELAY_CONFIG_JSON: all.RELAY_CONFIG_JSON });
    assertEquals(locateConfig(["--other"], env, noFile), {
      kind: "inline",
      text: all.RELAY_CONFIG_JSON,
    });
  });

  await t.step("with none of them: demo mode", () => {
    assertEquals(locateConfig([], envOf(), noFile), { kind: "demo" });
    assertEquals(locateConfig([], envOf({ RELAY_CONFIG_JSON: "" }), noFile), { kind: "demo" });
  });

  await t.step("an unreadable file is a config error naming the file", () => {
    const err = assertThrows(
      () =>
        locateConfig(["--config", "missing.json"], envOf(), () => {
          throw new Deno.errors.NotFound("No such file or directory");
        }),
      ConfigError,
    );
    assertEquals(err.problems.length, 1);
    assertStringIncludes(err.problems[0]!, "config file missing.json: ");
    assertStringIncludes(err.problems[0]!, "No such file");
  });
});

Deno.test("parseConfigText()", async (t) => {
  await t.step("parses JSON text", () => {
    const { config } = parseConfigText('{"server":{"port":9000}}', envOf());
    assertEquals(config.server.port, 9000);
  });

  await t.step("bad JSON is reported as a single (root) problem", () => {
    const err = assertThrows(() => parseConfigText("{ not json", envOf()), ConfigError);
    assertEquals(err.problems.length, 1);
    assert(err.problems[0]!.startsWith("(root): not valid JSON"), err.problems[0]);
  });
});

Deno.test("src/main.ts exits 2 with one stderr line per bad field", async () => {
  const secret = "sup3r-s3cret-token-value";
  const config = {
    server: { port: -1 },
    sources: [
      { name: "bad name", kind: "drp", url: "http://x/ws", token: secret },
      { name: "ok", kind: "drp", url: "ws://x/ws", token: { env: "RELAY_TEST_UNSET_VAR" } },
    ],
  };
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "--allow-net", "--allow-env", "--allow-read", "src/main.ts"],
    env: { RELAY_CONFIG_JSON: JSON.stringify(config), RELAY_CONFIG: "" },
    cwd: new URL("..", import.meta.url),
    stdout: "piped",
    stderr: "piped",
  }).output();
  const stderr = new TextDecoder().decode(out.stderr);
  assertEquals(out.code, 2, stderr);
  assertEquals(stderr.includes(secret), false, "no secret in the output");
  const messages = stderr.trim().split("\n").map((line) =>
    (JSON.parse(line) as { msg: string }).msg
  );
  for (const m of messages) assert(m.startsWith("config: "), m);
  const paths = messages.map((m) => m.slice("config: ".length, m.indexOf(": ", "config: ".length)));
  assertEquals(paths.sort(), [
    "server.port",
    "sources[0].name",
    "sources[0].url",
    "sources[1].token",
  ]);
  assert(
    messages.includes(
      "config: sources[1].token: environment variable RELAY_TEST_UNSET_VAR is not set",
    ),
    stderr,
  );
});
