/**
 * A WebSocket client written over a raw TCP connection, for fault tests that need what a
 * browser-grade client refuses to do: stop reading while the server keeps writing, send
 * arbitrary (masked) frames, and see the exact close code the server sends.
 *
 * Nothing reads in the background: bytes are pulled from the socket only when a test calls
 * {@link RawWsClient.readFrame}, so a test that stops calling it is a client that never
 * reads, and the server's data piles up in the kernel buffers and then in the server.
 *
 * @module
 */

/** WebSocket opcodes (RFC 6455 §5.2). */
export const Opcode = {
  continuation: 0x0,
  text: 0x1,
  binary: 0x2,
  close: 0x8,
  ping: 0x9,
  pong: 0xa,
} as const;

/** One frame received from the server. */
export interface RawFrame {
  opcode: number;
  payload: Uint8Array;
}

/** The close frame the server sent, or how the connection ended without one. */
export interface RawClose {
  /** The close code, or undefined when the TCP stream ended without a close frame. */
  code: number | undefined;
  reason: string;
  /** Data frames read before the close. */
  framesBefore: number;
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();
const GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

/**
 * Encodes one client frame: FIN set, masked with a random key (RFC 6455 §5.3), with the
 * 7-, 16- or 64-bit length form the payload needs.
 */
export function encodeClientFrame(opcode: number, payload: Uint8Array): Uint8Array {
  const len = payload.length;
  const lenBytes = len < 126 ? 0 : len < 65536 ? 2 : 8;
  const out = new Uint8Array(2 + lenBytes + 4 + len);
  out[0] = 0x80 | (opcode & 0x0f);
  let at = 2;
  if (lenBytes === 0) {
    out[1] = 0x80 | len;
  } else if (lenBytes === 2) {
    out[1] = 0x80 | 126;
    new DataView(out.buffer).setUint16(2, len);
    at = 4;
  } else {
    out[1] = 0x80 | 127;
    new DataView(out.buffer).setBigUint64(2, BigInt(len));
    at = 10;
  }
  const mask = crypto.getRandomValues(new Uint8Array(4));
  out.set(mask, at);
  at += 4;
  for (let i = 0; i < len; i++) out[at + i] = payload[i]! ^ mask[i & 3]!;
  return out;
}

/** Options of {@link RawWsClient.connect}. */
export interface RawConnectOptions {
  /** `Sec-WebSocket-Protocol`; default `graphql-transport-ws`; `null` sends none. */
  protocol?: string | null;
  headers?: Record<string, string>;
}

/** A WebSocket client over `Deno.connect` that reads only when asked. */
export class RawWsClient implements AsyncDisposable {
  readonly #conn: Deno.TcpConn;
  #buf: Uint8Array;
  #pendingRead: Promise<number | null> | undefined;
  #readChunk = new Uint8Array(64 * 1024);
  #eof = false;
  #closed = false;
  /** The protocol the server agreed to (empty when none). */
  readonly protocol: string;

  private constructor(conn: Deno.TcpConn, leftover: Uint8Array, protocol: string) {
    this.#conn = conn;
    this.#buf = leftover;
    this.protocol = protocol;
  }

  /** Opens the TCP connection and performs the upgrade handshake. */
  static async connect(url: string, options: RawConnectOptions = {}): Promise<RawWsClient> {
    const u = new URL(url);
    const conn = await Deno.connect({ hostname: u.hostname, port: Number(u.port) });
    try {
      const key = btoa(String.fromCharCode(...crypto.getRandomValues(new Uint8Array(16))));
      const protocol = options.protocol === undefined ? "graphql-transport-ws" : options.protocol;
      const lines = [
        `GET ${u.pathname}${u.search} HTTP/1.1`,
        `Host: ${u.host}`,
        "Upgrade: websocket",
        "Connection: Upgrade",
        `Sec-WebSocket-Key: ${key}`,
        "Sec-WebSocket-Version: 13",
        ...(protocol === null ? [] : [`Sec-WebSocket-Protocol: ${protocol}`]),
        ...Object.entries(options.headers ?? {}).map(([k, v]) => `${k}: ${v}`),
      ];
      await writeAll(conn, encoder.encode(`${lines.join("\r\n")}\r\n\r\n`));
      let head: Uint8Array = new Uint8Array(0);
      let end = -1;
      const chunk = new Uint8Array(4096);
      while (end < 0) {
        const n = await conn.read(chunk);
        if (n === null) throw new Error("Connection closed during the WebSocket handshake");
        head = concat(head, chunk.subarray(0, n));
        end = indexOfCrlfCrlf(head);
        if (head.length > 65536) throw new Error("Handshake response too long");
      }
      const text = decoder.decode(head.subarray(0, end));
      const [status, ...headerLines] = text.split("\r\n");
      if (!/^HTTP\/1\.1 101/.test(status ?? "")) {
        throw new Error(`Upgrade refused: ${status}`);
      }
      const headers = new Map(
        headerLines.map((l) => {
          const i = l.indexOf(":");
          return [l.slice(0, i).trim().toLowerCase(), l.slice(i + 1).trim()] as const;
        }),
      );
      const digest = await crypto.subtle.digest("SHA-1", encoder.encode(key + GUID));
      const accept = btoa(String.fromCharCode(...new Uint8Array(digest)));
      if (headers.get("sec-websocket-accept") !== accept) {
        throw new Error("Bad Sec-WebSocket-Accept in the handshake response");
      }
      return new RawWsClient(
        conn,
        head.slice(end + 4),
        headers.get("sec-websocket-protocol") ?? "",
      );
    } catch (err) {
      conn.close();
      throw err;
    }
  }

  /** Sends a masked text frame. */
  sendText(text: string): Promise<void> {
    return this.sendFrame(Opcode.text, encoder.encode(text));
  }

  /** Sends a masked text frame holding `JSON.stringify(value)`. */
  sendJson(value: unknown): Promise<void> {
    return this.sendText(JSON.stringify(value));
  }

  /** Sends any masked frame. */
  sendFrame(opcode: number, payload: Uint8Array): Promise<void> {
    return writeAll(this.#conn, encodeClientFrame(opcode, payload));
  }

  /** Reads the next data or control frame; pings are answered and skipped. */
  async readFrame(timeoutMs = 5000): Promise<RawFrame | undefined> {
    const deadline = Date.now() + timeoutMs;
    while (true) {
      const frame = this.#parse();
      if (frame) {
        if (frame.opcode === Opcode.ping) {
          await this.sendFrame(Opcode.pong, frame.payload).catch(() => {});
          continue;
        }
        return frame;
      }
      if (this.#eof) return undefined;
      await this.#fill(deadline - Date.now());
    }
  }

  /** Reads the next text frame as JSON, skipping nothing but pings. */
  async readJson(timeoutMs = 5000): Promise<Record<string, unknown>> {
    const frame = await this.readFrame(timeoutMs);
    if (!frame) throw new Error("Connection ended while waiting for a message");
    if (frame.opcode === Opcode.close) {
      const { code, reason } = parseClose(frame.payload);
      throw new Error(`Server closed with ${code} ${reason} while waiting for a message`);
    }
    return JSON.parse(decoder.decode(frame.payload));
  }

  /**
   * Reads (and discards) frames until the server's close frame or the end of the stream;
   * answers the close so the server can finish its side.
   */
  async readUntilClose(timeoutMs = 10_000): Promise<RawClose> {
    const deadline = Date.now() + timeoutMs;
    let framesBefore = 0;
    while (true) {
      const frame = await this.readFrame(deadline - Date.now());
      if (!frame) return { code: undefined, reason: "", framesBefore };
      if (frame.opcode !== Opcode.close) {
        framesBefore++;
        continue;
      }
      const { code, reason } = parseClose(frame.payload);
      await this.sendFrame(Opcode.close, frame.payload.slice(0, 2)).catch(() => {});
      return { code, reason, framesBefore };
    }
  }

  /**
   * Hands the connection and any bytes already read to a caller that reads on its own (the
   * benchmark's load generator); this client must not be used afterwards.
   */
  async detach(): Promise<{ conn: Deno.TcpConn; leftover: Uint8Array }> {
    const pending = this.#pendingRead;
    this.#pendingRead = undefined;
    let leftover = this.#buf;
    const n = pending ? await pending.catch(() => null) : null;
    if (n) leftover = concat(leftover, this.#readChunk.subarray(0, n));
    this.#closed = true;
    return { conn: this.#conn, leftover };
  }

  /** Closes the TCP connection (no close handshake). */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    try {
      this.#conn.close();
    } catch {
      // already closed
    }
  }

  async [Symbol.asyncDispose](): Promise<void> {
    this.close();
    // A read cut short by close settles with an error; wait for it so no op leaks.
    await this.#pendingRead?.catch(() => null);
  }

  async #fill(timeoutMs: number): Promise<void> {
    if (timeoutMs <= 0) throw new Error("Timed out reading from the raw WebSocket");
    this.#pendingRead ??= this.#conn.read(this.#readChunk);
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timeout = new Promise<"timeout">((resolve) => {
      timer = setTimeout(() => resolve("timeout"), timeoutMs);
    });
    const n = await Promise.race([this.#pendingRead.catch(() => null), timeout]);
    clearTimeout(timer);
    if (n === "timeout") throw new Error("Timed out reading from the raw WebSocket");
    this.#pendingRead = undefined;
    if (n === null) {
      this.#eof = true;
      return;
    }
    this.#buf = concat(this.#buf, this.#readChunk.subarray(0, n));
  }

  /** Takes one complete frame off the buffer, or undefined when it is not all here yet. */
  #parse(): RawFrame | undefined {
    const b = this.#buf;
    if (b.length < 2) return undefined;
    const opcode = b[0]! & 0x0f;
    const masked = (b[1]! & 0x80) !== 0;
    let len = b[1]! & 0x7f;
    let at = 2;
    if (len === 126) {
      if (b.length < 4) return undefined;
      len = new DataView(b.buffer, b.byteOffset).getUint16(2);
      at = 4;
    } else if (len === 127) {
      if (b.length < 10) return undefined;
      len = Number(new DataView(b.buffer, b.byteOffset).getBigUint64(2));
      at = 10;
    }
    const maskAt = at;
    if (masked) at += 4;
    if (b.length < at + len) return undefined;
    const payload = b.slice(at, at + len);
    if (masked) { for (let i = 0; i < len; i++) payload[i]! ^= b[maskAt + (i & 3)]!; }
    this.#buf = b.subarray(at + len);
    return { opcode, payload };
  }
}

/** Close code and reason of a close frame's payload. */
export function parseClose(payload: Uint8Array): { code: number | undefined; reason: string } {
  if (payload.length < 2) return { code: undefined, reason: "" };
  const code = new DataView(payload.buffer, payload.byteOffset).getUint16(0);
  return { code, reason: decoder.decode(payload.subarray(2)) };
}

async function writeAll(conn: Deno.Conn, data: Uint8Array): Promise<void> {
  let off = 0;
  while (off < data.length) off += await conn.write(data.subarray(off));
}

function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  if (a.length === 0) return b.slice();
  const out = new Uint8Array(a.length + b.length);
  out.set(a);
  out.set(b, a.length);
  return out;
}

function indexOfCrlfCrlf(b: Uint8Array): number {
  for (let i = 0; i + 3 < b.length; i++) {
    if (b[i] === 13 && b[i + 1] === 10 && b[i + 2] === 13 && b[i + 3] === 10) return i;
  }
  return -1;
}
