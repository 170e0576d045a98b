/**
 * The benchmark's processes talk in JSON lines: the parent writes one command per line to a
 * child's stdin, the child answers each with one line on stdout. This module has both ends.
 *
 * @module
 */

/** A command: `cmd` names it, the rest are its arguments. */
export type Command = { cmd: string } & Record<string, unknown>;

const encoder = new TextEncoder();

/** Writes one answer line (also the announcement a child makes before any command). */
export function announce(value: unknown): void {
  Deno.stdout.writeSync(encoder.encode(JSON.stringify({ ok: true, value }) + "\n"));
}

/** Reads commands from stdin and answers each with `handle`'s result (or its error). */
export async function serveCommands(
  handle: (command: Command) => Promise<unknown> | unknown,
): Promise<void> {
  const answer = (value: unknown) =>
    Deno.stdout.writeSync(encoder.encode(JSON.stringify(value) + "\n"));
  for await (const line of lines(Deno.stdin.readable)) {
    if (line.trim() === "") continue;
    const command = JSON.parse(line) as Command;
    try {
      answer({ ok: true, value: await handle(command) });
    } catch (err) {
      answer({ ok: false, error: err instanceof Error ? err.message : String(err) });
    }
    if (command.cmd === "quit") break;
  }
}

async function* lines(stream: ReadableStream<Uint8Array>): AsyncGenerator<string> {
  const decoder = new TextDecoder();
  let buffered = "";
  for await (const chunk of stream) {
    buffered += decoder.decode(chunk, { stream: true });
    let nl: number;
    while ((nl = buffered.indexOf("\n")) >= 0) {
      yield buffered.slice(0, nl);
      buffered = buffered.slice(nl + 1);
    }
  }
}

/** Where a child runs: pinned to one CPU with `taskset` when there is one and a CPU to spare. */
export interface Placement {
  cpu?: number | undefined;
}

let tasksetChecked: boolean | undefined;

/** True when `taskset` exists and the machine has at least two CPUs. */
export async function canPin(): Promise<boolean> {
  if (tasksetChecked !== undefined) return tasksetChecked;
  try {
    const out = await new Deno.Command("taskset", { args: ["-cp", String(Deno.pid)] }).output();
    tasksetChecked = out.success && navigator.hardwareConcurrency >= 2;
  } catch {
    tasksetChecked = false;
  }
  return tasksetChecked;
}

/** A child Deno process driven by commands. */
export class Child {
  readonly #child: Deno.ChildProcess;
  readonly #writer: WritableStreamDefaultWriter<Uint8Array>;
  readonly #replies: AsyncGenerator<string>;
  readonly pid: number;

  constructor(script: string, args: string[], placement: Placement, denoFlags: string[] = []) {
    const deno = [Deno.execPath(), "run", "--quiet", ...denoFlags, script, ...args];
    const [cmd, ...rest] = placement.cpu === undefined
      ? deno
      : ["taskset", "-c", String(placement.cpu), ...deno];
    this.#child = new Deno.Command(cmd!, {
      args: rest,
      stdin: "piped",
      stdout: "piped",
      stderr: "inherit",
    }).spawn();
    this.pid = this.#child.pid;
    this.#writer = this.#child.stdin.getWriter();
    this.#replies = lines(this.#child.stdout);
  }

  /** Sends a command and waits for its answer. */
  async call<T>(cmd: string, args: Record<string, unknown> = {}): Promise<T> {
    await this.#writer.write(encoder.encode(JSON.stringify({ cmd, ...args }) + "\n"));
    return await this.reply<T>(cmd);
  }

  /** The next answer line (a child may announce itself with one before any command). */
  async reply<T>(what: string): Promise<T> {
    const { value, done } = await this.#replies.next();
    if (done) throw new Error(`child ${this.pid} exited during "${what}"`);
    const reply = JSON.parse(value) as { ok: boolean; value?: T; error?: string };
    if (!reply.ok) throw new Error(`${what}: ${reply.error}`);
    return reply.value as T;
  }

  /** Asks the child to quit; kills it if it has not exited within 10 s. */
  async close(): Promise<void> {
    try {
      await this.call("quit");
      await this.#writer.close();
    } catch {
      // gone already
    }
    const killer = setTimeout(() => {
      try {
        this.#child.kill("SIGKILL");
      } catch {
        // exited meanwhile
      }
    }, 10_000);
    await this.#child.status;
    clearTimeout(killer);
  }
}
