/**
 * The single `Deno.serve` handler: health and readiness, then the GraphQL path, where
 * WebSocket upgrades go to graphql-ws and everything else (queries, GraphiQL on GET,
 * SSE subscriptions) to graphql-yoga.
 *
 * @module
 */
import type { AccessScope } from "../model/access.ts";
import type { Relay } from "../relay.ts";
import { type Authenticator, bearer } from "./auth.ts";
import { type MetricsAccess, metricsAllowed } from "./metrics.ts";
import { STATUS_DATA_PATH, type StatusData } from "./status_page.ts";
import { isLoopbackAddress, originAllowed, type OriginPolicy } from "./origin.ts";

/** A scope that sees nothing: what an HTTP request gets if its scope was lost. */
export const NO_SCOPE: AccessScope = { id: "none", sources: new Set(), tenants: new Map() };

/** What the handler routes to. */
export interface HandlerDeps {
  relay: Relay;
  graphqlPath: string;
  /** graphql-yoga's fetch handler; gets the request's access scope. */
  http: (req: Request, scope: AccessScope) => Response | Promise<Response>;
  /** graphql-ws upgrade handler; `remote` is the peer's address (undefined when unknown). */
  ws: (req: Request, remote: string | undefined) => Response;
  /** Verifies credentials; undefined means the relay is open. */
  authenticator: Authenticator | undefined;
  /** Browser origins allowed (`server.allowedOrigins`, `server.publicOrigin`). */
  origins: OriginPolicy;
  /** Largest request body accepted. */
  maxBodyBytes: number;
  /** Scope of unauthenticated requests when the relay is open. */
  openScope: AccessScope;
  /** GraphiQL is served on a browser GET of the GraphQL path. */
  graphiql: boolean;
  /** The Prometheus endpoint; undefined when disabled. */
  metrics?: MetricsEndpoint | undefined;
  /** The status page at `/` and its data; undefined when disabled. */
  status?: StatusEndpoint | undefined;
}

/** What the handler needs to serve `/metrics`. */
export interface MetricsEndpoint {
  path: string;
  access: MetricsAccess;
  render(): Promise<string>;
  contentType: string;
}

/** What the handler needs to serve the status page. */
export interface StatusEndpoint {
  page(): Promise<{ html: string; csp: string }>;
  data(scope: AccessScope): StatusData;
}

/** Connection details `Deno.serve` passes along; only the peer address is read. */
export interface RequestInfo {
  remoteAddr?: { hostname?: string } | Deno.Addr;
}

const json = (status: number, body: unknown) =>
  new Response(JSON.stringify(body), {
    status,
    headers: { "content-type": "application/json; charset=utf-8", "cache-control": "no-store" },
  });

const graphqlError = (status: number, code: string, message: string, headers = {}) =>
  new Response(JSON.stringify({ errors: [{ message, extensions: { code } }] }), {
    status,
    headers: { "content-type": "application/json; charset=utf-8", ...headers },
  });

/**
 * Reads a body, refusing it once more than `max` bytes arrived, whatever the framing
 * (`Content-Length` or chunked): nothing past the limit is buffered.
 */
export async function readBounded(
  body: ReadableStream<Uint8Array> | null,
  max: number,
): Promise<Uint8Array<ArrayBuffer> | "too-big"> {
  if (!body) return new Uint8Array(0);
  const chunks: Uint8Array[] = [];
  let total = 0;
  const reader = body.getReader();
  try {
    while (true) {
      const { value, done } = await reader.read();
      if (done) break;
      total += value.length;
      if (total > max) {
        reader.cancel().catch(() => {});
        return "too-big";
      }
      chunks.push(value);
    }
  } finally {
    reader.releaseLock();
  }
  const out = new Uint8Array(total);
  let at = 0;
  for (const c of chunks) {
    out.set(c, at);
    at += c.length;
  }
  return out;
}

/** True for the GraphiQL page request: a browser GET for HTML. */
function wantsPage(req: Request): boolean {
  return req.method === "GET" && (req.headers.get("accept") ?? "").includes("text/html");
}

/**
 * Authenticates and size-checks an HTTP GraphQL request, then hands yoga a copy whose body
 * is the bytes already read (so the limit holds for chunked bodies too) and whose signal is
 * its own (Deno's request.signal aborts on success, its legacy behaviour, and warns).
 */
async function graphqlHttp(deps: HandlerDeps, req: Request): Promise<Response> {
  const tooBig = () =>
    graphqlError(413, "LIMIT_EXCEEDED", `Request body over ${deps.maxBodyBytes} bytes`);
  if (Number(req.headers.get("content-length") ?? 0) > deps.maxBodyBytes) return tooBig();
  let scope = deps.openScope;
  if (deps.authenticator) {
    // Only the page itself is served without a key: it executes nothing, and with GraphiQL
    // off there is no page, so such a GET is an operation like any other.
    if (deps.graphiql && wantsPage(req)) return deps.http(copyRequest(req, null), NO_SCOPE);
    if (req.method === "OPTIONS") return deps.http(copyRequest(req, null), NO_SCOPE);
    const credential = bearer(req.headers.get("authorization"));
    const found = credential ? await deps.authenticator.authenticate(credential) : undefined;
    if (!found) {
      return graphqlError(401, "FORBIDDEN", "Missing or invalid API key", {
        "www-authenticate": 'Bearer realm="relay"',
      });
    }
    scope = found;
  }
  const body = req.method === "GET" || req.method === "HEAD"
    ? null
    : await readBounded(req.body, deps.maxBodyBytes);
  if (body === "too-big") return tooBig();
  return deps.http(copyRequest(req, body), scope);
}

function copyRequest(req: Request, body: Uint8Array<ArrayBuffer> | null): Request {
  return new Request(req.url, {
    method: req.method,
    headers: req.headers,
    ...(body && body.length > 0 ? { body } : {}),
  });
}

async function serveMetrics(
  endpoint: MetricsEndpoint,
  req: Request,
  info: RequestInfo | undefined,
): Promise<Response> {
  const addr = info?.remoteAddr;
  const remote = addr && "hostname" in addr ? addr.hostname : undefined;
  if (!(await metricsAllowed(endpoint.access, req.headers.get("authorization"), remote))) {
    return endpoint.access.token !== undefined
      ? new Response("Unauthorized\n", {
        status: 401,
        headers: { "www-authenticate": 'Bearer realm="metrics"' },
      })
      : new Response("Metrics are served to loopback clients only\n", { status: 403 });
  }
  return new Response(await endpoint.render(), {
    headers: { "content-type": endpoint.contentType, "cache-control": "no-store" },
  });
}

async function serveStatusData(
  deps: HandlerDeps,
  status: StatusEndpoint,
  req: Request,
): Promise<Response> {
  if (!deps.authenticator) return json(200, status.data(deps.openScope));
  const credential = bearer(req.headers.get("authorization"));
  const scope = credential ? await deps.authenticator.authenticate(credential) : undefined;
  if (!scope) return json(401, { error: "Missing or invalid API key" });
  return json(200, status.data(scope));
}

async function serveStatusPage(status: StatusEndpoint): Promise<Response> {
  const { html, csp } = await status.page();
  return new Response(html, {
    headers: {
      "content-type": "text/html; charset=utf-8",
      "content-security-policy": csp,
      "x-content-type-options": "nosniff",
      "referrer-policy": "no-referrer",
      "cache-control": "no-store",
    },
  });
}

/** The peer's IP address, when the transport has one. */
export function remoteHost(info: RequestInfo | undefined): string | undefined {
  const addr = info?.remoteAddr;
  return addr && "hostname" in addr ? addr.hostname : undefined;
}

/**
 * True when `/readyz` may list sources and their states: on an open relay, to a valid key,
 * or to a loopback peer that is not a proxy forwarding someone else.
 */
async function readyDetail(deps: HandlerDeps, req: Request, remote: string | undefined) {
  if (!deps.authenticator) return true;
  const forwarded = req.headers.has("forwarded") || req.headers.has("x-forwarded-for");
  if (isLoopbackAddress(remote) && !forwarded) return true;
  const credential = bearer(req.headers.get("authorization"));
  return credential !== undefined &&
    (await deps.authenticator.authenticate(credential)) !== undefined;
}

async function readyz(deps: HandlerDeps, req: Request, remote: string | undefined) {
  const ready = deps.relay.ready();
  const status = ready ? "ready" : "not ready";
  if (!(await readyDetail(deps, req, remote))) return json(ready ? 200 : 503, { status });
  const sources = deps.relay.sources().map((s) => ({ name: s.name, state: s.connection.state }));
  return json(ready ? 200 : 503, { status, sources });
}

/** Builds the request handler. */
export function createHandler(
  deps: HandlerDeps,
): (req: Request, info?: RequestInfo) => Response | Promise<Response> {
  return (req, info) => {
    const url = new URL(req.url);
    const read = req.method === "GET" || req.method === "HEAD";
    if (deps.metrics && url.pathname === deps.metrics.path && read) {
      return serveMetrics(deps.metrics, req, info);
    }
    if (deps.status && read) {
      if (url.pathname === "/") return serveStatusPage(deps.status);
      if (url.pathname === STATUS_DATA_PATH) return serveStatusData(deps, deps.status, req);
    }
    switch (url.pathname) {
      case "/healthz":
        return json(200, { status: "ok" });
      case "/readyz":
        return readyz(deps, req, remoteHost(info));
      case deps.graphqlPath:
        if (!originAllowed(req, deps.origins)) {
          return graphqlError(403, "FORBIDDEN", "Origin not allowed");
        }
        if (req.headers.get("upgrade")?.toLowerCase() === "websocket") {
          return deps.ws(req, remoteHost(info));
        }
        return graphqlHttp(deps, req);
      case "/":
        return new Response(null, { status: 302, headers: { location: deps.graphqlPath } });
      default:
        return json(404, { error: "Not found" });
    }
  };
}
