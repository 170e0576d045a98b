/**
 * Browser-origin checks. WebSocket upgrades are not covered by CORS, so without this a
 * page on any site could open a socket to the relay with the visitor's ambient
 * credentials (cross-site WebSocket hijacking).
 *
 * @module
 */

/** Decides whether a request's `Origin` may talk to the relay. */
export function originAllowed(req: Request, allowed: readonly string[]): boolean {
  const origin = req.headers.get("origin");
  // Non-browser clients send no Origin; they could forge one anyway.
  if (origin === null) return true;
  if (allowed.includes("*")) return true;
  if (allowed.includes(origin)) return true;
  // Same origin: the page was served by this relay (GraphiQL).
  const host = req.headers.get("host");
  try {
    return host !== null && new URL(origin).host === host;
  } catch {
    return false;
  }
}
