/**
 * The live status page: one self-contained HTML document (inline style and script, nothing
 * fetched from elsewhere, so it works offline) that polls {@link STATUS_DATA_PATH} on the
 * relay itself. The data endpoint is scoped like GraphQL: under `auth` it wants the same
 * Bearer API key and shows only that key's sources.
 *
 * @module
 */
import type { AccessScope } from "../model/access.ts";
import type { Relay } from "../relay.ts";
import { STATUS_PAGE_SCRIPT, STATUS_PAGE_STYLE } from "./status_page_assets.ts";

/** Where the page reads its data. */
export const STATUS_DATA_PATH = "/status.json";

/** Client totals, shown only to scopes that see every source. */
export interface ClientTotals {
  connections: number;
  subscriptions: Record<string, number>;
}

/** One source as the page shows it. */
export interface SourceRow {
  name: string;
  vendor: string;
  state: string;
  stateSince: string;
  /** Cluster mode: the node holding the upstream, null while none does (absent otherwise). */
  holder?: string | null;
  interest: number;
  /** Interest in the vendor's words; left out where the scope is tenant-restricted. */
  interestItems?: string[];
  eventsReceived: number;
  lastEventAt: string | null;
  lastError: string | null;
  lastErrorAt: string | null;
  reconnects: number;
  framesDropped: number;
  subscribers: number;
}

/** The document {@link STATUS_DATA_PATH} answers with. */
export interface StatusData {
  version: string;
  /** This node's id in cluster mode, else null. */
  node: string | null;
  now: string;
  sources: SourceRow[];
  clients: ClientTotals | null;
}

const iso = (ms: number | undefined) => (ms === undefined ? null : new Date(ms).toISOString());

/**
 * The status of every source `scope` may see. Client totals describe the whole relay, so
 * only a scope that sees every source gets them.
 */
export function statusData(
  relay: Relay,
  scope: AccessScope,
  clients: () => ClientTotals,
  at: { version: string; node: string | undefined; now: number },
): StatusData {
  return {
    version: at.version,
    node: at.node ?? null,
    now: new Date(at.now).toISOString(),
    sources: relay.withScope(scope).sources().map((s) => {
      const row: SourceRow = {
        name: s.name,
        vendor: s.vendor,
        state: s.connection.state,
        stateSince: new Date(s.connection.since).toISOString(),
        interest: s.interest.length,
        eventsReceived: s.eventsReceived,
        lastEventAt: iso(s.lastEventAt),
        lastError: s.lastError ?? null,
        lastErrorAt: iso(s.lastErrorAt),
        reconnects: s.reconnects,
        framesDropped: s.framesDropped,
        subscribers: s.subscribers,
      };
      // Another tenant's registration could name its account: counts only, then.
      if (!scope.tenants.has(s.name)) row.interestItems = s.interest.slice(0, 20);
      if (at.node !== undefined) row.holder = s.holder ?? null;
      return row;
    }),
    clients: scope.sources === "*" ? clients() : null,
  };
}

/** Links the page shows in its header. */
export interface StatusPageLinks {
  graphiql?: string | undefined;
  metrics?: string | undefined;
}

const escapeHtml = (s: string) => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

/** The page's HTML and the Content-Security-Policy that allows exactly its inline parts. */
export async function statusPage(
  links: StatusPageLinks,
): Promise<{ html: string; csp: string }> {
  const nav = [
    links.graphiql ? `<a href="${escapeHtml(links.graphiql)}">GraphiQL</a>` : "",
    links.metrics ? `<a href="${escapeHtml(links.metrics)}">Prometheus metrics</a>` : "",
    `<a href="/readyz">readyz</a>`,
  ].filter(Boolean).join(" · ");
  const html = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Relay status</title>
<link rel="icon" href="data:,">
<style>${STATUS_PAGE_STYLE}</style>
</head>
<body>
<header>
  <h1>Relay status</h1>
  <nav>${nav}</nav>
  <span id="meta" class="muted"></span>
</header>
<main>
  <form id="login" hidden>
    <p>This relay needs an API key. It stays in this tab only (sessionStorage).</p>
    <input id="key" type="password" autocomplete="off" placeholder="API key" aria-label="API key">
    <button type="submit">Show status</button>
    <p id="login-error" class="error"></p>
  </form>
  <section id="clients" hidden>
    <h2>Clients</h2>
    <div class="tiles">
      <div class="tile"><span class="label">connections</span><span id="connections" class="big">–</span></div>
      <div class="tile"><span class="label">subscriptions</span><span id="subscriptions" class="big">–</span></div>
      <div class="tile wide"><span class="label">by field</span><span id="by-field" class="small">–</span></div>
    </div>
  </section>
  <section>
    <h2>Sources <span id="source-count" class="muted"></span></h2>
    <div id="sources" class="cards"></div>
  </section>
  <p id="status-error" class="error" role="alert"></p>
</main>
<script>${STATUS_PAGE_SCRIPT}</script>
</body>
</html>
`;
  const hash = async (text: string) =>
    `'sha256-${
      btoa(String.fromCharCode(
        ...new Uint8Array(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(text))),
      ))
    }'`;
  const csp = [
    "default-src 'none'",
    `script-src ${await hash(STATUS_PAGE_SCRIPT)}`,
    `style-src ${await hash(STATUS_PAGE_STYLE)}`,
    "connect-src 'self'",
    "img-src 'self' data:",
    "base-uri 'none'",
    "form-action 'none'",
    "frame-ancestors 'none'",
  ].join("; ");
  return { html, csp };
}
