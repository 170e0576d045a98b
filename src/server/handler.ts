/**
 * The single `Deno.serve` handler: health and readiness, then the GraphQL path, where
 * WebSocket upgrades go to graphql-ws and everything else (queries, GraphiQL on GET,
 * SSE subscriptions) to graphql-yoga.
 *
 * @module
 */
import type { Relay } from "../relay.ts";

/** What the handler routes to. */
export interface HandlerDeps {
  relay: Relay;
  graphqlPath: string;
  /** graphql-yoga's fetch handler. */
  http: (req: Request) => Response | Promise<Response>;
  /** graphql-ws upgrade handler. */
  ws: (req: Request) => Response;
}

const json = (status: number, body: unknown) =>
  new Response(JSON.stringify(body), {
    status,
    headers: { "content-type": "application/json; charset=utf-8", "cache-control": "no-store" },
  });

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
        if (req.headers.get("upgrade")?.toLowerCase() === "websocket") return deps.ws(req);
        return deps.http(req);
      case "/":
        return new Response(null, { status: 302, headers: { location: deps.graphqlPath } });
      default:
        return json(404, { error: "Not found" });
    }
  };
}
