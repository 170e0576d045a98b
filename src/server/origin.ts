/**
 * Browser-origin checks. WebSocket upgrades are not covered by CORS, so without this a
 * page on any site could open a socket to the relay with the visitor's ambient
 * credentials (cross-site WebSocket hijacking).
 *
 * Same-origin is decided from configuration (`server.publicOrigin`, the allowlist), never
 * from the request's `Host`: a DNS-rebinding page sends `Origin` and `Host` both naming the
 * attacker's domain. The one exception is a loopback name (`localhost`, `127.0.0.1`,
 * `[::1]`) on both sides, so GraphiQL works when the relay is opened locally without a
 * `publicOrigin`; a rebinding domain is never a loopback name.
 *
 * @module
 */

/** Who may talk to the relay from a browser. */
export interface OriginPolicy {
  /** `server.allowedOrigins` (`"*"` for any). */
  allowed: readonly string[];
  /** `server.publicOrigin`: the origin the relay's own pages are served from. */
  publicOrigin: string | undefined;
}

const LOOPBACK_NAMES = new Set(["localhost", "127.0.0.1", "[::1]"]);

/** Decides whether a request's `Origin` may talk to the relay. */
export function originAllowed(req: Request, policy: OriginPolicy): boolean {
  const origin = req.headers.get("origin");
  // Non-browser clients send no Origin; they could forge one anyway.
  if (origin === null) return true;
  if (policy.allowed.includes("*") || policy.allowed.includes(origin)) return true;
  if (policy.publicOrigin !== undefined) return origin === policy.publicOrigin;
  let url: URL;
  try {
    url = new URL(origin);
  } catch {
    return false;
  }
  return LOOPBACK_NAMES.has(url.hostname) && url.host === req.headers.get("host");
}

/** True for a loopback peer address (127.0.0.0/8, ::1, IPv4-mapped loopback). */
export function isLoopbackAddress(hostname: string | undefined): boolean {
  if (hostname === undefined) return false;
  return hostname === "::1" || /^127\./.test(hostname) || /^::ffff:127\./i.test(hostname);
}
