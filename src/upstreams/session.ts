/**
 * One upstream socket's lifetime, as connectors see it: send text, await the next frame
 * during a handshake, and learn when it closed. Frames that arrive before the connector
 * starts listening are buffered, never lost.
 *
 * @module
 */
import type { Clock, TimerId } from "../platform/clock.ts";

/** Why a session ended or failed. */
export class UpstreamError extends Error {
  /** True when retrying with the same credentials cannot help (e.g. HTTP 401/403). */
  readonly auth: boolean;
  /** The HTTP status of a refused upgrade. */
  readonly httpStatus: number | undefined;
  /** The WebSocket close code and reason, when the upstream closed an open socket. */
  readonly closeCode: number | undefined;
  readonly closeReason: string | undefined;

  constructor(
    message: string,
    options: {
      auth?: boolean;
      cause?: unknown;
      httpStatus?: number;
      closeCode?: number;
      closeReason?: string;
    } = {},
  ) {
    super(message, { cause: options.cause });
    this.name = "UpstreamError";
    this.auth = options.auth ?? false;
    this.httpStatus = options.httpStatus;
    this.closeCode = options.closeCode;
    this.closeReason = options.closeReason;
  }
}

/** The part of a session connectors use. */
export interface UpstreamSession {
  /** Sends a text frame; throws when the socket is no longer open. */
  send(text: string): void;
  /** The next inbound frame within `timeoutMs`, for handshakes. */
  nextFrame(timeoutMs: number): Promise<string>;
  /** Closes the socket. */
  close(code?: number, reason?: string): void;
  /** Aborted when the socket closes. */
  readonly signal: AbortSignal;
  /** When the last inbound frame arrived (epoch ms). */
  readonly lastFrameAt: number;
}

/** A WebSocket wrapped for the supervisor. */
export class Session implements UpstreamSession {
  readonly #socket: WebSocket;
  readonly #clock: Clock;
  readonly #buffer: string[] = [];
  readonly #abort = new AbortController();
  readonly #opened = Promise.withResolvers<void>();
  readonly #closed = Promise.withResolvers<UpstreamError>();
  #waiter: ((frame: string) => void) | undefined;
  #listener: ((frame: string) => void) | undefined;
  #lastError = "";
  #lastFrameAt: number;
  #ended = false;
  #closeTimer: TimerId | undefined;
  readonly #closeGraceMs: number;

  /** `closeGraceMs`: how long close() waits for the peer's close frame before giving up. */
  constructor(socket: WebSocket, clock: Clock, options: { closeGraceMs?: number } = {}) {
    this.#socket = socket;
    this.#clock = clock;
    this.#closeGraceMs = options.closeGraceMs ?? 2000;
    this.#lastFrameAt = clock.now();
    // The default "blob" would hand binary frames over as Blobs, which TextDecoder cannot
    // read: the throw inside onmessage would escape as an uncaught error and end the process.
    socket.binaryType = "arraybuffer";
    // The opened promise may be abandoned when close wins; never leave it unhandled.
    this.#opened.promise.catch(() => {});
    socket.onopen = () => this.#opened.resolve();
    socket.onerror = (e) => {
      this.#lastError = e instanceof ErrorEvent ? e.message : "socket error";
    };
    socket.onmessage = (e) => {
      this.#lastFrameAt = this.#clock.now();
      const data = typeof e.data === "string" ? e.data : new TextDecoder().decode(e.data);
      if (this.#waiter) {
        const w = this.#waiter;
        this.#waiter = undefined;
        w(data);
      } else if (this.#listener) this.#listener(data);
      else this.#buffer.push(data);
    };
    socket.onclose = (e) => {
      if (!this.#ended) this.#end(describeClose(e.code, e.reason, this.#lastError));
    };
  }

  #end(err: UpstreamError): void {
    this.#ended = true;
    if (this.#closeTimer !== undefined) this.#clock.clearTimeout(this.#closeTimer);
    this.#opened.reject(err);
    this.#abort.abort(err);
    this.#closed.resolve(err);
  }

  get signal(): AbortSignal {
    return this.#abort.signal;
  }

  get lastFrameAt(): number {
    return this.#lastFrameAt;
  }

  /** Resolves once open; rejects with the failure (or after `timeoutMs`). */
  async opened(timeoutMs: number): Promise<void> {
    let timer: TimerId | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = this.#clock.setTimeout(() => {
        reject(new UpstreamError(`No WebSocket handshake within ${timeoutMs} ms`));
        this.close(1000, "connect timeout");
      }, timeoutMs);
    });
    try {
      await Promise.race([this.#opened.promise, timeout]);
    } finally {
      if (timer !== undefined) this.#clock.clearTimeout(timer);
    }
  }

  /** Resolves with the reason once the socket has closed. */
  get closed(): Promise<UpstreamError> {
    return this.#closed.promise;
  }

  send(text: string): void {
    if (this.#socket.readyState !== WebSocket.OPEN) {
      throw new UpstreamError("Upstream socket is not open");
    }
    this.#socket.send(text);
  }

  nextFrame(timeoutMs: number): Promise<string> {
    const buffered = this.#buffer.shift();
    if (buffered !== undefined) return Promise.resolve(buffered);
    if (this.signal.aborted) return Promise.reject(this.signal.reason);
    return new Promise((resolve, reject) => {
      const onAbort = () => {
        this.#clock.clearTimeout(timer);
        this.#waiter = undefined;
        reject(this.signal.reason);
      };
      const timer = this.#clock.setTimeout(() => {
        this.#waiter = undefined;
        this.signal.removeEventListener("abort", onAbort);
        reject(new UpstreamError(`No reply from upstream within ${timeoutMs} ms`));
      }, timeoutMs);
      this.#waiter = (frame) => {
        this.#clock.clearTimeout(timer);
        this.signal.removeEventListener("abort", onAbort);
        resolve(frame);
      };
      this.signal.addEventListener("abort", onAbort, { once: true });
    });
  }

  /** Hands every later frame (and any buffered ones, first) to `listener`. */
  listen(listener: (frame: string) => void): void {
    this.#listener = listener;
    while (this.#buffer.length > 0 && this.#listener === listener) {
      listener(this.#buffer.shift()!);
    }
  }

  close(code = 1000, reason = ""): void {
    try {
      this.#socket.close(code, reason);
    } catch {
      // already closed or closing
    }
    // A half-open peer never answers the close frame, and then Deno never fires `close`:
    // after a grace period the session counts as closed anyway, so the supervisor moves on.
    if (!this.#ended && this.#closeTimer === undefined) {
      this.#closeTimer = this.#clock.setTimeout(() => {
        if (!this.#ended) {
          this.#end(new UpstreamError("Upstream did not answer the close; socket abandoned"));
        }
      }, this.#closeGraceMs);
    }
  }
}

const HTTP_STATUS = /Invalid status code:? (\d{3})/i;

/** Turns a close event into an error a person can act on (never containing the URL). */
function describeClose(code: number, reason: string, lastError: string): UpstreamError {
  const status = HTTP_STATUS.exec(lastError)?.[1];
  if (status) {
    const n = Number(status);
    if (n === 401 || n === 403) {
      return new UpstreamError(
        `Upgrade refused with HTTP ${n}: the upstream rejected the credentials`,
        { auth: true, httpStatus: n },
      );
    }
    return new UpstreamError(`Upgrade refused with HTTP ${n}`, { httpStatus: n });
  }
  if (lastError && code !== 1000) {
    return new UpstreamError(lastError.replace(/^NetworkError: /, ""), {
      closeCode: code,
      closeReason: reason,
    });
  }
  return new UpstreamError(
    `Upstream closed the connection (code ${code}${reason ? `, ${reason}` : ""})`,
    { closeCode: code, closeReason: reason },
  );
}
