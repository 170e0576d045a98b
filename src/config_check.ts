/**
 * `--check`: validates a config the way start-up would, resolving its `{ "env": NAME }`
 * references and reading its CA files, and wires the app without starting it, so nothing
 * connects anywhere. Every problem is reported at once.
 *
 * @module
 */
import { createApp } from "./app.ts";
import { ConfigError, locateConfig, parseConfigText } from "./config.ts";
import { createLogger } from "./platform/log.ts";
import { createRedactor } from "./platform/redact.ts";

/** What `--check` found. */
export type CheckResult =
  | { ok: true; summary: string }
  | { ok: false; problems: string[] };

/**
 * Checks the config `args`/`env` point at (`--config FILE`, `RELAY_CONFIG`,
 * `RELAY_CONFIG_JSON`). Problems never contain a resolved secret: only paths and names.
 */
export async function checkConfig(
  args: readonly string[],
  env: (name: string) => string | undefined,
  readTextFile: (path: string) => string,
): Promise<CheckResult> {
  try {
    const located = locateConfig(args, env, readTextFile);
    if (located.kind === "demo") {
      return {
        ok: false,
        problems: ["no config given: pass --config FILE, or set RELAY_CONFIG or RELAY_CONFIG_JSON"],
      };
    }
    const { config, secrets } = parseConfigText(located.text, env);
    const problems: string[] = [];
    config.sources.forEach((s, i) => {
      if (!s.caFile) return;
      try {
        readTextFile(s.caFile);
      } catch (err) {
        problems.push(`sources[${i}].caFile: cannot read ${s.caFile} (${(err as Error).name})`);
      }
    });
    if (problems.length > 0) return { ok: false, problems };
    // Wiring builds every connector, the schema and the authenticator; start() is what
    // would connect, and it is never called.
    try {
      const app = createApp({
        config,
        secrets,
        log: createLogger({ level: "error", sink: () => {} }),
        readTextFile,
      });
      await app.close();
    } catch (err) {
      return {
        ok: false,
        problems: [`(root): ${createRedactor(secrets)((err as Error).message)}`],
      };
    }
    const from = located.kind === "file" ? located.path : "RELAY_CONFIG_JSON";
    const names = config.sources.map((s) => `${s.name} (${s.kind})`).join(", ");
    return {
      ok: true,
      summary: `config ok: ${from}, ${config.sources.length} source(s)${names ? `: ${names}` : ""}`,
    };
  } catch (err) {
    if (err instanceof ConfigError) return { ok: false, problems: err.problems };
    return { ok: false, problems: [`(root): ${(err as Error).message}`] };
  }
}
