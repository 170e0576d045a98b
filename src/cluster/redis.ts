/**
 * Redis connections for the cluster (node-redis). Commands fail fast while Redis is away
 * (no offline queue), so callers see an outage at once and can buffer or report it; the
 * client keeps reconnecting in the background with a bounded backoff.
 *
 * @module
 */
import { createClient } from "redis";
import type { Logger } from "../platform/log.ts";
import type { Redactor } from "../platform/redact.ts";
import { displayRedisUrl } from "./config.ts";

/** A node-redis client as {@link createRedis} makes it. */
export type RedisClient = ReturnType<typeof createRedis>;

/** Options of {@link connectRedis}. */
export interface RedisOptions {
  url: string;
  log: Logger;
  redact: Redactor;
  /** What the connection is for, in log lines. */
  name: string;
  connectTimeoutMs?: number;
}

/** A client that reconnects forever, 50 ms doubling to 500 ms (short: leases ride on it). */
export function createRedis(options: RedisOptions) {
  const { log, redact, name } = options;
  const client = createClient({
    url: options.url,
    disableOfflineQueue: true,
    socket: {
      connectTimeout: options.connectTimeoutMs ?? 2000,
      reconnectStrategy: (retries: number) => Math.min(500, 50 * 2 ** Math.min(retries, 4)),
    },
  });
  let down = false;
  client.on("error", (err: unknown) => {
    if (down) return;
    down = true;
    log.warn("redis connection lost", {
      connection: name,
      redis: displayRedisUrl(options.url),
      error: redact(err instanceof Error ? err.message : String(err)),
    });
  });
  client.on("ready", () => {
    if (down) log.info("redis connection back", { connection: name });
    down = false;
  });
  return client;
}

/** Connects `client`, retrying in the background when Redis is not up yet. */
export async function connectInBackground(client: RedisClient): Promise<void> {
  try {
    await client.connect();
  } catch {
    // node-redis keeps retrying by its reconnect strategy; commands fail until it is back.
  }
}

/** Closes a client whatever its state: politely, else (after 2 s, or on error) at once. */
export async function closeRedis(client: RedisClient): Promise<void> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    if (client.isOpen) {
      await Promise.race([
        client.close(),
        new Promise((_, reject) => timer = setTimeout(() => reject(new Error("slow")), 2000)),
      ]);
    }
  } catch {
    try {
      client.destroy();
    } catch {
      // already closed
    }
  } finally {
    clearTimeout(timer);
  }
}

/** Runs a Lua script. */
export function runScript(
  client: RedisClient,
  script: string,
  keys: string[],
  args: string[],
): Promise<unknown> {
  return client.eval(script, { keys, arguments: args });
}

/** A Redis error message without secrets. */
export function redisErrorText(err: unknown, redact: Redactor): string {
  return redact(err instanceof Error ? err.message : String(err));
}
