/**
 * External programs some suites need (Debian's `redis-server`, `chromium`). Where one is
 * missing, its suites are skipped with a loud notice saying how to enable them; under CI
 * (`CI=true`, as `.ci/run` sets it) a missing program fails instead, so CI can never pass
 * by skipping.
 *
 * @module
 */

const INSTALL_HINT: Record<string, string> = {
  "redis-server": "apt-get update && apt-get install -y redis-server",
  chromium: "apt-get update && apt-get install -y chromium",
};

const found = new Map<string, string | undefined>();

/** The absolute path of `name` on `PATH`, or undefined. */
export function findBinary(name: string): string | undefined {
  if (found.has(name)) return found.get(name);
  let path: string | undefined;
  for (const dir of (Deno.env.get("PATH") ?? "").split(":")) {
    if (!dir) continue;
    try {
      const candidate = `${dir}/${name}`;
      if (Deno.statSync(candidate).isFile) {
        path = candidate;
        break;
      }
    } catch {
      // not in this directory
    }
  }
  found.set(name, path);
  return path;
}

/**
 * Whether the suite `suite` can run: true when `name` is installed. Otherwise prints a notice
 * naming the suite and the install command and returns false (pass it to `Deno.test`'s
 * `ignore`), or throws under CI.
 */
export function requireBinary(name: string, suite: string): boolean {
  if (findBinary(name)) return true;
  const hint = INSTALL_HINT[name] ?? `install ${name}`;
  const message = `${suite}: SKIPPED, ${name} is not installed (enable with: ${hint})`;
  if (Deno.env.get("CI") === "true") throw new Error(`${message}; CI requires it`);
  // The notice must stand out in test output: it is the only sign that a suite did not run.
  // deno-lint-ignore no-console
  console.error(`\n!!! ${message}\n`);
  return false;
}
