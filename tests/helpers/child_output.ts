/**
 * Reading a relay child process's JSON log lines.
 *
 * @module
 */

/**
 * Reads `stdout` until `pattern` matches (its first group is returned), then keeps draining so
 * the child never blocks on a full pipe. Throws with the text read so far on timeout or EOF.
 */
export async function waitForLogged(
  stdout: ReadableStream<Uint8Array>,
  pattern: RegExp,
  timeoutMs = 30_000,
): Promise<string> {
  const reader = stdout.getReader();
  const decoder = new TextDecoder();
  let text = "";
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const { value, done } = await reader.read();
    if (done) break;
    text += decoder.decode(value, { stream: true });
    const m = pattern.exec(text);
    if (m?.[1]) {
      (async () => {
        while (!(await reader.read()).done) { /* discard */ }
      })().catch(() => {});
      return m[1];
    }
  }
  throw new Error(`relay did not report its URL: ${text.slice(0, 500)}`);
}
