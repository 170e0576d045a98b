/**
 * The attacks of issue 7 as small functions against a relay URL, shared by the
 * `tests/security/` suite (which asserts they fail) and `measure.ts` (which prints the
 * figures against a relay in its own process).
 *
 * @module
 */
import { Opcode, RawWsClient } from "../helpers/raw_ws.ts";

/** What an attack request produced. */
export interface Outcome {
  status: number;
  ms: number;
  body: string;
}

/** A document whose fragments each spread the next twice: 2^levels paths, under 1 KB. */
export function fragmentBomb(levels: number): string {
  const frags: string[] = [];
  for (let i = 0; i < levels; i++) {
    frags.push(`fragment F${i} on Query { ...F${i + 1} ...F${i + 1} sources { name } }`);
  }
  frags.push(`fragment F${levels} on Query { sources { name } }`);
  return `query Bomb { ...F0 }\n${frags.join("\n")}`;
}

/** A query nested `depth` levels deep, 2 bytes a level (parsing alone recurses per level). */
export function deepQuery(depth: number): string {
  return `{${"a{".repeat(depth)}b${"}".repeat(depth)}}`;
}

/** POSTs a GraphQL document; times the full round trip. */
export async function post(
  url: string,
  query: string,
  headers: Record<string, string> = {},
): Promise<Outcome> {
  const start = performance.now();
  const res = await fetch(url, {
    method: "POST",
    headers: { "content-type": "application/json", ...headers },
    body: JSON.stringify({ query }),
  });
  const body = await res.text();
  return { status: res.status, ms: performance.now() - start, body };
}

/** GET with a browser's Accept header (the way GraphiQL's page is asked for). */
export async function browserGet(
  url: string,
  query: string,
  headers: Record<string, string> = {},
): Promise<Outcome> {
  const start = performance.now();
  const u = new URL(url);
  u.searchParams.set("query", query);
  const res = await fetch(u, {
    headers: {
      accept: "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8",
      ...headers,
    },
  });
  const body = await res.text();
  return { status: res.status, ms: performance.now() - start, body };
}

/** Sends a chunked body of `bytes` (no Content-Length) holding one valid query. */
export async function chunkedPost(
  url: string,
  bytes: number,
  headers: Record<string, string> = {},
): Promise<Outcome> {
  const start = performance.now();
  // The padding is whitespace inside the query, so a relay that reads it all executes it.
  const head = new TextEncoder().encode(`{"query":"{ sources { name } `);
  const tail = new TextEncoder().encode(`}"}`);
  const padTotal = Math.max(0, bytes - head.length - tail.length);
  let sent = 0;
  const chunk = new Uint8Array(16 * 1024).fill(0x20);
  const body = new ReadableStream<Uint8Array>({
    start(c) {
      c.enqueue(head);
    },
    pull(c) {
      if (sent >= padTotal) {
        c.enqueue(tail);
        c.close();
        return;
      }
      const n = Math.min(chunk.length, padTotal - sent);
      sent += n;
      c.enqueue(chunk.subarray(0, n));
    },
  });
  try {
    const res = await fetch(url, {
      method: "POST",
      headers: { "content-type": "application/json", ...headers },
      body,
    });
    const text = await res.text();
    return { status: res.status, ms: performance.now() - start, body: text };
  } catch (err) {
    // The server may answer and close before the whole body is sent.
    return { status: 0, ms: performance.now() - start, body: String(err) };
  }
}

/**
 * Opens `sockets` raw WebSockets without authenticating and sends one binary frame of
 * `bytes` on each; returns each socket's close code (undefined when refused or reset).
 */
export async function binaryFlood(
  wsUrl: string,
  sockets: number,
  bytes: number,
): Promise<{ codes: (number | undefined)[]; refused: number; ms: number }> {
  const start = performance.now();
  const payload = new Uint8Array(bytes);
  let refused = 0;
  const codes = await Promise.all(
    Array.from({ length: sockets }, async () => {
      let ws: RawWsClient;
      try {
        ws = await RawWsClient.connect(wsUrl);
      } catch {
        refused++;
        return undefined;
      }
      try {
        await ws.sendFrame(Opcode.binary, payload).catch(() => {});
        return (await ws.readUntilClose(30_000)).code;
      } catch {
        return undefined;
      } finally {
        await ws[Symbol.asyncDispose]();
      }
    }),
  );
  return { codes, refused, ms: performance.now() - start };
}

/**
 * One raw HTTP/1.1 request with exactly these headers (fetch would not forge `Host`);
 * returns the status and body.
 */
export async function rawHttp(
  origin: string,
  method: string,
  path: string,
  headers: Record<string, string>,
  body = "",
): Promise<Outcome> {
  const start = performance.now();
  const u = new URL(origin);
  const conn = await Deno.connect({ hostname: u.hostname, port: Number(u.port) });
  try {
    const bytes = new TextEncoder().encode(body);
    const head = [
      `${method} ${path} HTTP/1.1`,
      ...Object.entries(headers).map(([k, v]) => `${k}: ${v}`),
      ...(bytes.length > 0 ? [`content-length: ${bytes.length}`] : []),
      ...("connection" in headers ? [] : ["connection: close"]),
    ].join("\r\n");
    await conn.write(new TextEncoder().encode(`${head}\r\n\r\n`));
    if (bytes.length > 0) await conn.write(bytes);
    let text = "";
    const buf = new Uint8Array(65536);
    while (true) {
      const n = await conn.read(buf);
      if (n === null) break;
      text += new TextDecoder().decode(buf.subarray(0, n));
    }
    const status = Number(/^HTTP\/1\.1 (\d+)/.exec(text)?.[1] ?? 0);
    return {
      status,
      ms: performance.now() - start,
      body: text.slice(text.indexOf("\r\n\r\n") + 4),
    };
  } finally {
    try {
      conn.close();
    } catch {
      // already closed by the server
    }
  }
}

/** Times `/healthz` (how long every other client waits while an attack runs). */
export async function healthLatency(origin: string): Promise<number> {
  const start = performance.now();
  await (await fetch(`${origin}/healthz`)).text();
  return performance.now() - start;
}

/** Reads `/readyz` with no credentials (as a non-loopback client would, via `headers`). */
export async function readyz(
  origin: string,
  headers: Record<string, string> = {},
): Promise<Outcome> {
  const start = performance.now();
  const res = await fetch(`${origin}/readyz`, { headers });
  return { status: res.status, ms: performance.now() - start, body: await res.text() };
}

/** HS256 JWT signed with `secret` (claims as given; no `exp` unless in `claims`). */
export async function hs256(secret: string, claims: Record<string, unknown>): Promise<string> {
  const { SignJWT } = await import("jose");
  return await new SignJWT(claims).setProtectedHeader({ alg: "HS256" }).setIssuedAt().sign(
    new TextEncoder().encode(secret),
  );
}

/** SHA-256 hex of a key, as `auth.apiKeys[].sha256` wants it. */
export async function sha256Hex(text: string): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(text));
  return [...new Uint8Array(digest)].map((b) => b.toString(16).padStart(2, "0")).join("");
}
