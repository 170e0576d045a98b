/**
 * Client authentication: API keys (stored as SHA-256 hex, compared in constant time) and,
 * optionally, JWTs (HS256 with a shared secret, or RS256 with keys from a JWKS URL, via
 * `jose`). Either yields an {@link AccessScope}. Keys arrive in the graphql-ws
 * `connection_init` payload (`{ "apiKey": "..." }`) or as `Authorization: Bearer` on HTTP
 * (and on the WebSocket upgrade, for non-browser clients).
 *
 * @module
 */
import { createRemoteJWKSet, type JWTPayload, jwtVerify } from "jose";
import { z } from "zod";
import type { AccessScope } from "../model/access.ts";

const sha256Hex = z.string().regex(/^[0-9a-fA-F]{64}$/, "Expected 64 hex characters (SHA-256)");

/** One API key. */
export const apiKeySchema = z.object({
  /** Names the key in logs and shared-stream keys; never the key itself. */
  id: z.string().min(1).max(64),
  /** SHA-256 of the key, hex (`printf %s "$KEY" | sha256sum`). */
  sha256: sha256Hex,
  /** Sources the key may use; `["*"]` for all. */
  sources: z.array(z.string().min(1)).min(1),
  /** Optional tenants per source (iland company ids, Kazoo account ids). */
  tenants: z.record(z.string(), z.array(z.string().min(1))).optional(),
}).strict();

/** JWT verification. */
export const jwtSchema = z.object({
  /** HS256 shared secret (use `{ "env": ... }`). */
  secret: z.string().min(32, "Use at least 32 characters for an HS256 secret").optional(),
  /** JWKS URL for RS256 keys. */
  jwksUrl: z.string().url().optional(),
  issuer: z.string().optional(),
  audience: z.string().optional(),
  /** Claim holding the allowed sources (array of names, or "*"). */
  sourcesClaim: z.string().default("sources"),
  /** Claim holding `{ source: [tenant, ...] }`. */
  tenantsClaim: z.string().default("tenants"),
  /** Refuse tokens without `exp` (a token that never expires cannot be revoked by time). */
  requireExp: z.boolean().default(true),
  /**
   * Longest accepted lifetime: `exp` minus `iat` (or minus now, without `iat`). A token
   * minted to last for years is refused even though it verifies.
   */
  maxLifetimeSec: z.number().int().min(60).max(366 * 86_400).default(86_400),
}).strict().refine((j) => (j.secret === undefined) !== (j.jwksUrl === undefined), {
  message: "Give exactly one of secret (HS256) or jwksUrl (RS256)",
});

/** The `auth` config section. */
export const authSchema = z.object({
  apiKeys: z.array(apiKeySchema).default([]),
  jwt: jwtSchema.optional(),
}).strict();
/** A validated `auth` section. */
export type AuthConfig = z.infer<typeof authSchema>;

/** Verifies presented credentials. */
export interface Authenticator {
  /** The scope for a presented key or token, or undefined when it is not valid. */
  authenticate(credential: string): Promise<AccessScope | undefined>;
}

function hexToBytes(hex: string): Uint8Array {
  const out = new Uint8Array(hex.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(hex.slice(i * 2, i * 2 + 2), 16);
  return out;
}

/** Compares equal-length byte arrays without an early exit. */
export function timingSafeEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= a[i]! ^ b[i]!;
  return diff === 0;
}

function scopeFrom(
  id: string,
  sources: readonly string[] | "*",
  tenants: Record<string, readonly string[]> | undefined,
): AccessScope {
  return {
    id,
    sources: sources === "*" || sources.includes("*") ? "*" : new Set(sources),
    tenants: new Map(Object.entries(tenants ?? {}).map(([s, t]) => [s, new Set(t)])),
  };
}

function claimScope(payload: JWTPayload, config: z.infer<typeof jwtSchema>): AccessScope {
  const rawSources = payload[config.sourcesClaim];
  const sources = rawSources === "*"
    ? "*"
    : Array.isArray(rawSources)
    ? rawSources.filter((s): s is string => typeof s === "string")
    : [];
  const rawTenants = payload[config.tenantsClaim];
  const tenants: Record<string, string[]> = {};
  if (rawTenants && typeof rawTenants === "object" && !Array.isArray(rawTenants)) {
    for (const [source, list] of Object.entries(rawTenants)) {
      if (Array.isArray(list)) tenants[source] = list.filter((t) => typeof t === "string");
    }
  }
  return scopeFrom(`jwt:${payload.sub ?? "anonymous"}`, sources, tenants);
}

/** Why a verified token's lifetime is not acceptable, if it is not. */
function lifetimeProblem(
  payload: JWTPayload,
  config: z.infer<typeof jwtSchema>,
  nowSec: number,
): string | undefined {
  if (payload.exp === undefined) return config.requireExp ? "no exp" : undefined;
  const from = typeof payload.iat === "number" ? Math.min(payload.iat, nowSec) : nowSec;
  return payload.exp - from > config.maxLifetimeSec ? "lifetime over maxLifetimeSec" : undefined;
}

async function tokenDigest(token: string): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(token));
  return [...new Uint8Array(digest).subarray(0, 12)].map((b) => b.toString(16).padStart(2, "0"))
    .join("");
}

/** Builds the authenticator for an `auth` section (`now` in ms, for token lifetimes). */
export function createAuthenticator(
  config: AuthConfig,
  now: () => number = Date.now,
): Authenticator {
  const keys = config.apiKeys.map((k) => ({
    digest: hexToBytes(k.sha256.toLowerCase()),
    scope: scopeFrom(k.id, k.sources, k.tenants),
  }));
  const jwt = config.jwt;
  const secretKey = jwt?.secret !== undefined ? new TextEncoder().encode(jwt.secret) : undefined;
  const jwks = jwt?.jwksUrl ? createRemoteJWKSet(new URL(jwt.jwksUrl)) : undefined;
  return {
    async authenticate(credential) {
      if (credential === "" || credential.length > 8192) return undefined;
      if (jwt && credential.split(".").length === 3) {
        const options = {
          algorithms: secretKey ? ["HS256"] : ["RS256"],
          currentDate: new Date(now()),
          ...(jwt.issuer ? { issuer: jwt.issuer } : {}),
          ...(jwt.audience ? { audience: jwt.audience } : {}),
        };
        try {
          const { payload } = secretKey
            ? await jwtVerify(credential, secretKey, options)
            : await jwtVerify(credential, jwks!, options);
          if (lifetimeProblem(payload, jwt, Math.floor(now() / 1000))) return undefined;
          const scope = claimScope(payload, jwt);
          // Without `sub`, each token is its own identity (it shares no bucket with others).
          return payload.sub === undefined
            ? { ...scope, id: `jwt:~${await tokenDigest(credential)}` }
            : scope;
        } catch {
          return undefined;
        }
      }
      const digest = new Uint8Array(
        await crypto.subtle.digest("SHA-256", new TextEncoder().encode(credential)),
      );
      // Check every key so the time taken does not reveal which one (if any) matched.
      let found: AccessScope | undefined;
      for (const key of keys) {
        if (timingSafeEqual(digest, key.digest) && !found) found = key.scope;
      }
      return found;
    },
  };
}

/** The bearer credential of an `Authorization` header, if any. */
export function bearer(header: string | null): string | undefined {
  const m = /^Bearer\s+(\S+)\s*$/i.exec(header ?? "");
  return m?.[1];
}
