/**
 * A minimal SSE reader over fetch for tests: it parses frames as a browser would (`id:`,
 * `event:`, `data:`, `retry:`), records them, and can be awaited with timeouts.
 *
 * @module
 */

/** One dispatched SSE event. */
export interface SseFrame {
  id: string | undefined;
  event: string;
  data: string;
}

/** An open SSE request. */
export interface SseStream extends AsyncDisposable {
  status: number;
  headers: Headers;
  /** The response body for non-stream answers (errors). */
  text: string | undefined;
  frames: SseFrame[];
  /** The `data` of each `next` frame, parsed. */
  readonly results: {
    data?: Record<string, unknown>;
    errors?: { extensions?: { code?: string } }[];
  }[];
  /** Resolves when the server ends the stream. */
  ended: Promise<void>;
  waitForCount(n: number, timeoutMs?: number): Promise<void>;
  close(): Promise<void>;
}

/** Opens an SSE subscription with GET (query in the URL), like a browser `EventSource`. */
export async function openSse(
  httpUrl: string,
  query: string,
  variables: Record<string, unknown> = {},
  headers: Record<string, string> = {},
): Promise<SseStream> {
  const url = new URL(httpUrl);
  url.searchParams.set("query", query);
  url.searchParams.set("variables", JSON.stringify(variables));
  const abort = new AbortController();
  const res = await fetch(url, {
    headers: { accept: "text/event-stream", ...headers },
    signal: abort.signal,
  });
  const frames: SseFrame[] = [];
  let wake: () => void = () => {};
  const isStream = res.headers.get("content-type")?.startsWith("text/event-stream") ?? false;
  const text = isStream ? undefined : await res.text();
  const ended = (async () => {
    if (!isStream || !res.body) return;
    const decoder = new TextDecoder();
    let buffer = "";
    let id: string | undefined;
    let event = "message";
    let data: string[] = [];
    try {
      for await (const chunk of res.body) {
        buffer += decoder.decode(chunk, { stream: true });
        let nl: number;
        while ((nl = buffer.indexOf("\n")) >= 0) {
          const line = buffer.slice(0, nl).replace(/\r$/, "");
          buffer = buffer.slice(nl + 1);
          if (line === "") {
            if (data.length > 0) frames.push({ id, event, data: data.join("\n") });
            id = undefined;
            event = "message";
            data = [];
            wake();
            continue;
          }
          if (line.startsWith(":")) continue;
          const colon = line.indexOf(":");
          const field = colon < 0 ? line : line.slice(0, colon);
          const value = colon < 0 ? "" : line.slice(colon + 1).replace(/^ /, "");
          if (field === "id") id = value;
          else if (field === "event") event = value;
          else if (field === "data") data.push(value);
        }
      }
    } catch {
      // aborted by close()
    }
    wake();
  })();
  let done = false;
  ended.then(() => (done = true));
  const close = async () => {
    abort.abort();
    await ended;
  };
  return {
    status: res.status,
    headers: res.headers,
    text,
    frames,
    get results() {
      return frames.filter((f) => f.event === "next").map((f) => JSON.parse(f.data));
    },
    ended,
    async waitForCount(n, timeoutMs = 10_000) {
      const deadline = Date.now() + timeoutMs;
      while (frames.filter((f) => f.event === "next").length < n) {
        if (done || Date.now() > deadline) {
          throw new Error(`SSE: wanted ${n} results, got ${frames.length} frames (ended ${done})`);
        }
        let timer: ReturnType<typeof setTimeout> | undefined;
        await new Promise<void>((resolve) => {
          wake = resolve;
          timer = setTimeout(resolve, 100);
        });
        clearTimeout(timer);
      }
    },
    close,
    [Symbol.asyncDispose]: close,
  };
}
