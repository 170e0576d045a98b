/**
 * GraphiQL served by the relay itself: `@graphql-yoga/render-graphiql` inlines every script,
 * style sheet, font and web worker into the page, so nothing is fetched from a CDN and the
 * page works on a machine without internet. It opens on a document built from the config:
 * the `sources` query and one example subscription per configured source.
 *
 * @module
 */
import type { GraphiQLOptions } from "graphql-yoga";
import type { Vendor } from "../model/event.ts";

/** A configured source as GraphiQL's default document needs it. */
export interface ExampleSource {
  name: string;
  vendor: Vendor;
}

const COMMON = "id type action key subject time";

/** The root field, its arguments and vendor fields of each vendor's example. */
const EXAMPLES: Record<Vendor, { field: string; args: string[]; fields: string }> = {
  DRP: { field: "drpEvents", args: [], fields: "... on DrpEvent { principal object }" },
  ILAND: {
    field: "ilandEvents",
    args: ["kinds: [EVENT, TASK]"],
    fields: "... on IlandEvent { kind entityType status }",
  },
  ISYMPHONY: { field: "isymphonyEvents", args: [], fields: "... on ISymphonyEvent { properties }" },
  KAZOO: {
    field: "kazooEvents",
    args: ['bindings: ["call.*.*"]'],
    fields: "... on KazooEvent { accountId routingKey }",
  },
  WEBINATE: { field: "webinateEvents", args: [], fields: "... on WebinateEvent { eventType }" },
};

/** One example subscription, short enough for GraphiQL's editor pane. */
function exampleFor(source: ExampleSource, name: string): string {
  const { field, args, fields } = EXAMPLES[source.vendor];
  const all = [`source: ${JSON.stringify(source.name)}`, ...args, "after: $after"];
  const call = `  ${field}(${all.join(", ")}) {`;
  const head = call.length <= 56
    ? call
    : `  ${field}(\n${all.map((a) => `    ${a}`).join("\n")}\n  ) {`;
  return `subscription ${name}($after: ID) {\n${head}\n    ${COMMON}\n    ${fields}\n  }\n}`;
}

/** `lab-drp` -> `LabDrp`: a valid, readable GraphQL operation name. */
function operationName(source: string): string {
  const words = source.split(/[^A-Za-z0-9]+/).filter(Boolean);
  const name = words.map((w) => w[0]!.toUpperCase() + w.slice(1)).join("");
  return /^[A-Za-z_]/.test(name) ? name : `Source${name}`;
}

/**
 * The document GraphiQL opens on: the `sources` query first, then one subscription per
 * configured source (press the run button and pick one).
 */
export function defaultDocument(sources: readonly ExampleSource[]): string {
  const header = [
    "# The configured sources and their upstream state:",
    "query Sources {",
    "  sources {",
    "    name vendor state",
    "    connectedSince lastEventAt eventsReceived interest",
    "  }",
    "}",
  ].join("\n");
  const seen = new Set<string>();
  const examples = sources.flatMap((s) => {
    let name = operationName(s.name);
    while (seen.has(name)) name += "_";
    seen.add(name);
    return [exampleFor(s, name)];
  });
  if (examples.length === 0) return header + "\n";
  return [
    header,
    "# Live events, one subscription per source: press run\n" +
    "# and pick one. Set the `after` variable to an event's\n" +
    "# id to replay what followed it (history permitting).",
    ...examples,
  ].join("\n\n") + "\n";
}

/** GraphiQL options: the default document, a title, and graphql-ws for subscriptions. */
export function graphiqlOptions(sources: readonly ExampleSource[]): GraphiQLOptions {
  return {
    title: "Event relay",
    defaultQuery: defaultDocument(sources),
    subscriptionsProtocol: "WS",
  };
}

/**
 * Content-Security-Policy of the page: it may talk to its own origin only (HTTP and
 * WebSocket), so even a stray asset URL inside the bundle cannot reach another host.
 * Inline scripts and blob workers are how the renderer packs GraphiQL into one document.
 */
export const GRAPHIQL_CSP = [
  "default-src 'self'",
  "script-src 'self' 'unsafe-inline' 'unsafe-eval' blob:",
  "worker-src 'self' blob:",
  "style-src 'self' 'unsafe-inline'",
  "font-src 'self' data:",
  "img-src 'self' data: blob:",
  "connect-src 'self'",
  "frame-ancestors 'self'",
].join("; ");

/** Serves the GraphiQL page; answers GET requests that accept HTML. */
export type GraphiqlPage = (req: Request) => Promise<Response>;

/**
 * The page handler. The renderer (about 9 MB of inlined assets) is loaded, rendered and
 * gzipped once, on the first request, so start-up and relays with GraphiQL off pay nothing
 * and each later request costs a copy of the compressed bytes (about 2 MB).
 */
export function createGraphiqlPage(opts: GraphiQLOptions): GraphiqlPage {
  let page: Promise<{ html: Uint8Array; gzip: Uint8Array; etag: string }> | undefined;
  const build = async () => {
    const { renderGraphiQL } = await import("@graphql-yoga/render-graphiql");
    const html = new TextEncoder().encode(renderGraphiQL(opts));
    const gzip = new Uint8Array(
      await new Response(
        new Blob([html]).stream().pipeThrough(new CompressionStream("gzip")),
      ).arrayBuffer(),
    );
    const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", html));
    const etag = `"${
      [...digest.slice(0, 12)].map((b) => b.toString(16).padStart(2, "0")).join("")
    }"`;
    return { html, gzip, etag };
  };
  return async (req) => {
    page ??= build();
    const { html, gzip, etag } = await page;
    const headers: Record<string, string> = {
      "content-type": "text/html; charset=utf-8",
      "cache-control": "no-cache",
      "content-security-policy": GRAPHIQL_CSP,
      "x-content-type-options": "nosniff",
      etag,
      vary: "accept-encoding",
    };
    if (req.headers.get("if-none-match") === etag) {
      return new Response(null, { status: 304, headers });
    }
    const gzipOk = /\bgzip\b/.test(req.headers.get("accept-encoding") ?? "");
    if (gzipOk) headers["content-encoding"] = "gzip";
    return new Response((gzipOk ? gzip : html).slice(), { status: 200, headers });
  };
}

/** Whether `req` asks for the GraphiQL page (what yoga also treats as a page request). */
export function wantsGraphiql(req: Request): boolean {
  return req.method === "GET" && (req.headers.get("accept") ?? "").includes("text/html");
}
