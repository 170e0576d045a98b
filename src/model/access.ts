/**
 * Access scopes: what an authenticated client may see. A scope lists the sources it may
 * use and, optionally, the tenants within them (iland company ids, Kazoo account ids).
 *
 * @module
 */
import type { Event } from "./event.ts";

/** What one client may see. */
export interface AccessScope {
  /** Stable id (the API key's id or the JWT subject); part of {@link scopeKey}. */
  readonly id: string;
  /** Allowed source names; `"*"` for all. */
  readonly sources: ReadonlySet<string> | "*";
  /** Per source, the allowed tenants; a source absent here is unrestricted. */
  readonly tenants: ReadonlyMap<string, ReadonlySet<string>>;
}

/** The scope of an open relay (no `auth` configured): everything. */
export const OPEN_SCOPE: AccessScope = { id: "open", sources: "*", tenants: new Map() };

/** True when the scope may use `source`. */
export function allowsSource(scope: AccessScope, source: string): boolean {
  return scope.sources === "*" || scope.sources.has(source);
}

/** The tenant an event belongs to, for vendors that have tenants. */
export function tenantOf(event: Event): string | null {
  switch (event.detail.vendor) {
    case "ILAND":
      return event.detail.companyId;
    case "KAZOO":
      return event.detail.accountId;
    default:
      return null;
  }
}

/** True when the scope may see `tenant` of `source` (always, where unrestricted). */
export function allowsTenant(scope: AccessScope, source: string, tenant: string | null): boolean {
  const allowed = scope.tenants.get(source);
  if (!allowed) return true;
  return tenant !== null && allowed.has(tenant);
}

/** True when the scope may see the event. */
export function allowsEvent(scope: AccessScope, event: Event): boolean {
  return allowsSource(scope, event.source) && allowsTenant(scope, event.source, tenantOf(event));
}

const keys = new WeakMap<AccessScope, string>();

/**
 * The identity of a scope for shared streams and rate limits: its id and everything it
 * grants (sources and tenants, sorted). Two credentials with one id but different rights
 * (two JWTs of one `sub`) never share a stream or a bucket.
 */
export function scopeKey(scope: AccessScope): string {
  let key = keys.get(scope);
  if (key === undefined) {
    const sources = scope.sources === "*" ? "*" : [...scope.sources].sort();
    const tenants = [...scope.tenants.entries()]
      .map(([source, set]) => [source, [...set].sort()] as const)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    key = JSON.stringify([scope.id, sources, tenants]);
    keys.set(scope, key);
  }
  return key;
}
