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
import { originAllowed } from "./origin.ts";

/** A scope that sees nothing: what an HTTP request gets if its scope was lost. */
export const NO_SCOPE: AccessScope = { id: "none", sources: new Set(), tenants: new Map() };

/** What the handler routes to. */
export interface HandlerDeps {
  relay: Relay;
  graphqlPath: string;
  /** graphql-yoga's fetch handler; gets the request's access scope. */
  http: (req: Request, scope: AccessScope) => Response | Promise<Response>;
  /** graphql-ws upgrade handler. */
  ws: (req: Request) => Response;
  /** Verifies credentials; undefined means the relay is open. */
  authenticator: Authenticator | undefined;
  /** Browser origins allowed (see `server.allowedOrigins`). */
  allowedOrigins: readonly string[];
  /** Largest request body accepted. */
  maxBodyBytes: number;
  /** Scope of unauthenticated requests when the relay is open. */
  openScope: AccessScope;
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

/** Authenticates and size-checks an HTTP GraphQL request, then hands it to yoga. */
async function graphqlHttp(deps: HandlerDeps, req: Request): Promise<Response> {
  const length = Number(req.headers.get("content-length") ?? 0);
  if (length > deps.maxBodyBytes) {
    return graphqlError(413, "LIMIT_EXCEEDED", `Request body over ${deps.maxBodyBytes} bytes`);
  }
  if (!deps.authenticator) return deps.http(req, deps.openScope);
  // The GraphiQL page itself carries no data; its requests must authenticate.
  const wantsPage = req.method === "GET" && (req.headers.get("accept") ?? "").includes("text/html");
  if (wantsPage || req.method === "OPTIONS") return deps.http(req, NO_SCOPE);
  const credential = bearer(req.headers.get("authorization"));
  const scope = credential ? await deps.authenticator.authenticate(credential) : undefined;
  if (!scope) {
    return graphqlError(401, "FORBIDDEN", "Missing or invalid API key", {
      "www-authenticate": 'Bearer realm="relay"',
    });
  }
  return deps.http(req, scope);
}

/** Builds the request handler. */
export function createHandler(deps: HandlerDeps): (req: Request) => Response | Promise<Response> {
  return (req) => {
    const url = new URL(req.url);
    switch (url.pathname) {
      case "/healthz":
        return json(200, { status: "ok" });
      case "/readyz": {
        const sources = deps.relay.sources().map((s) => ({
          name: s.name,
          state: s.connection.state,
        }));
        return json(deps.relay.ready() ? 200 : 503, {
          status: deps.relay.ready() ? "ready" : "not ready",
          sources,
        });
      }
      case deps.graphqlPath:
        if (!originAllowed(req, deps.allowedOrigins)) {
          return graphqlError(403, "FORBIDDEN", "Origin not allowed");
        }
        if (req.headers.get("upgrade")?.toLowerCase() === "websocket") return deps.ws(req);
        return graphqlHttp(deps, req);
      case "/":
        return new Response(null, { status: 302, headers: { location: deps.graphqlPath } });
      default:
        return json(404, { error: "Not found" });
    }
  };
}
