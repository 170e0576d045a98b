/**
 * A private `redis-server` per suite, on a free loopback port, with persistence off so a
 * restart starts empty unless the test says otherwise. Tests stop and restart it to make
 * Redis outages and flushes real; it is killed on dispose.
 *
 * @module
 */
import { findBinary, requireBinary } from "./services.ts";

/** Whether suites that need Redis can run here (loud skip locally, failure under CI). */
export function redisAvailable(suite: string): boolean {
  return requireBinary("redis-server", suite);
}

/** A port no one listens on right now. */
function freePort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  listener.close();
  return port;
}

/** A running (or stopped) test Redis. */
export class TestRedis implements AsyncDisposable {
  readonly port: number;
  #child: Deno.ChildProcess | undefined;

  constructor(port = freePort()) {
    this.port = port;
  }

  /** redis://127.0.0.1:port */
  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  /** True while the server process runs. */
  get running(): boolean {
    return this.#child !== undefined;
  }

  /** Starts the server and waits until it answers PING. */
  async start(): Promise<void> {
    if (this.#child) return;
    const bin = findBinary("redis-server");
    if (!bin) throw new Error("redis-server is not installed");
    this.#child = new Deno.Command(bin, {
      args: [
        "--port",
        String(this.port),
        "--bind",
        "127.0.0.1",
        "--save",
        "",
        "--appendonly",
        "no",
        "--protected-mode",
        "no",
        "--loglevel",
        "warning",
      ],
      stdin: "null",
      stdout: "null",
      stderr: "null",
    }).spawn();
    const deadline = Date.now() + 10_000;
    while (true) {
      if (await this.#ping()) return;
      if (Date.now() > deadline) throw new Error(`redis-server on ${this.port} did not start`);
      await new Promise((r) => setTimeout(r, 20));
    }
  }

  /** Kills the server (SIGKILL: an outage, not a shutdown) and waits for it to exit. */
  async stop(): Promise<void> {
    const child = this.#child;
    if (!child) return;
    this.#child = undefined;
    try {
      child.kill("SIGKILL");
    } catch {
      // already gone
    }
    await child.status;
  }

  /** Stops and starts again on the same port (empty: persistence is off). */
  async restart(): Promise<void> {
    await this.stop();
    await this.start();
  }

  /** Sends one command over a raw RESP connection; returns the reply's raw text. */
  async command(...args: string[]): Promise<string> {
    const conn = await Deno.connect({ hostname: "127.0.0.1", port: this.port });
    try {
      const body = `*${args.length}\r\n` +
        args.map((a) => `$${new TextEncoder().encode(a).length}\r\n${a}\r\n`).join("");
      await conn.write(new TextEncoder().encode(body));
      const buf = new Uint8Array(64 * 1024);
      const n = await conn.read(buf);
      return new TextDecoder().decode(buf.subarray(0, n ?? 0));
    } finally {
      conn.close();
    }
  }

  async #ping(): Promise<boolean> {
    try {
      return (await this.command("PING")).startsWith("+PONG");
    } catch {
      return false;
    }
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.stop();
  }
}

/** Starts a fresh test Redis. */
export async function startRedis(): Promise<TestRedis> {
  const redis = new TestRedis();
  await redis.start();
  return redis;
}
