/**
 * The outbound WebSocket factory: connectors dial through it so tests (and TLS options)
 * are injected instead of hard-wired.
 *
 * @module
 */

/** What a connector asks for when it dials an upstream. */
export interface DialOptions {
  /** Extra request headers on the upgrade (Deno supports them on `new WebSocket`). */
  headers?: Record<string, string>;
  /** Subprotocols to offer; absent means no `Sec-WebSocket-Protocol` header. */
  protocols?: string[];
  /** PEM CA certificates to trust for this socket only (self-signed upstreams). */
  caCerts?: string[];
}

/** Opens a client WebSocket. */
export type WebSocketFactory = (url: string, options: DialOptions) => WebSocket;

/** Dials with Deno's built-in WebSocket client. */
export const denoWebSocketFactory: WebSocketFactory = (url, options) => {
  const init: {
    headers?: Record<string, string>;
    protocols?: string[];
    client?: Deno.HttpClient;
  } = {};
  if (options.headers) init.headers = options.headers;
  if (options.protocols) init.protocols = options.protocols;
  if (options.caCerts?.length) init.client = Deno.createHttpClient({ caCerts: options.caCerts });
  // Deno's WebSocket accepts an options object (headers, protocols, client) in place of
  // the protocols argument; the DOM typings do not know it.
  // deno-lint-ignore no-explicit-any
  const socket = new WebSocket(url, init as any);
  // The per-socket TLS client is a resource of its own: free it with the socket.
  const client = init.client;
  if (client) socket.addEventListener("close", () => client.close(), { once: true });
  return socket;
};
