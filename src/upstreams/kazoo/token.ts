/**
 * Kazoo auth tokens from Crossbar (PROTOCOLS.md §4.1): `PUT {apiUrl}/user_auth` with the
 * md5 (or sha1) of `lower(user):pass` and the account name, or `PUT {apiUrl}/api_auth` with
 * an API key. Tokens live `token_auth_expiry_s` (3600 s by default); the expiry is read
 * from the JWT `exp` claim when the token is a JWT, else assumed from config. A token is
 * replaced shortly before it expires and whenever blackhole refuses it.
 *
 * @module
 */
import type { Clock } from "../../platform/clock.ts";
import { UpstreamError } from "../session.ts";
import type { KazooSourceConfig } from "./config.ts";
import { authResponseSchema } from "./messages.ts";

/** A token and what came with it. */
export interface KazooToken {
  value: string;
  /** The account the token belongs to (`data.account_id`). */
  accountId: string;
  /** Epoch ms. */
  expiresAt: number;
}

/** What {@link KazooTokens} needs. */
export interface KazooTokenDeps {
  config: KazooSourceConfig;
  fetch: typeof fetch;
  clock: Clock;
}

/** Fetches, caches and renews one source's token. */
export class KazooTokens {
  readonly #d: KazooTokenDeps;
  #token: KazooToken | undefined;
  #inflight: Promise<KazooToken> | undefined;
  #issuedAt: number | undefined;
  /** Recent token values, so text that echoes one can be scrubbed. */
  readonly #recent: string[] = [];

  constructor(deps: KazooTokenDeps) {
    this.#d = deps;
  }

  /** The account of the last token, once one was fetched. */
  get accountId(): string | undefined {
    return this.#token?.accountId;
  }

  /** Token values to scrub from vendor text. */
  get known(): readonly string[] {
    return this.#recent;
  }

  /** A token good for a while yet: the cached one, or a fresh one near expiry. */
  current(): Promise<KazooToken> {
    const t = this.#token;
    if (t && this.#d.clock.now() < t.expiresAt - this.#margin(t)) return Promise.resolve(t);
    return this.fresh();
  }

  /** Forgets `value` if it is the cached token (blackhole refused it). */
  invalidate(value: string): void {
    if (this.#token?.value === value) this.#token = undefined;
  }

  /** Fetches a new token; concurrent callers share one request. */
  fresh(): Promise<KazooToken> {
    this.#inflight ??= this.#fetch().finally(() => {
      this.#inflight = undefined;
    });
    return this.#inflight;
  }

  /** Renew this long before expiry: the configured margin, at most half the lifetime. */
  #margin(t: KazooToken): number {
    const lifetime = Math.max(0, t.expiresAt - (this.#issuedAt ?? t.expiresAt));
    return Math.min(this.#d.config.tokenRenewSeconds * 1000, lifetime / 2);
  }

  async #fetch(): Promise<KazooToken> {
    const { config, clock } = this.#d;
    const useKey = config.apiKey !== undefined;
    const endpoint = useKey ? "api_auth" : "user_auth";
    const body = useKey ? { data: { api_key: config.apiKey } } : {
      data: { credentials: config.credentials, account_name: config.accountName },
      method: config.method,
    };
    const url = `${config.apiUrl.replace(/\/+$/, "")}/${endpoint}`;
    let res: Response;
    try {
      res = await this.#d.fetch(url, {
        method: "PUT",
        headers: { "content-type": "application/json", accept: "application/json" },
        body: JSON.stringify(body),
      });
    } catch (err) {
      throw new UpstreamError(
        `Kazoo ${endpoint} request failed: ${err instanceof Error ? err.message : String(err)}`,
        { cause: err },
      );
    }
    const json: unknown = await res.json().catch(() => undefined);
    if (!res.ok) {
      const refused = res.status === 401 || res.status === 403;
      throw new UpstreamError(
        refused
          ? `Kazoo ${endpoint} refused the credentials (HTTP ${res.status})`
          : `Kazoo ${endpoint} failed with HTTP ${res.status}${crossbarMessage(json)}`,
        { auth: refused },
      );
    }
    const parsed = authResponseSchema.safeParse(json);
    if (!parsed.success) {
      throw new UpstreamError(`Kazoo ${endpoint} answered without auth_token and account_id`);
    }
    const now = clock.now();
    const value = parsed.data.auth_token;
    const expiresAt = jwtExpiry(value) ?? now + config.tokenTtlSeconds * 1000;
    this.#issuedAt = now;
    this.#token = { value, accountId: parsed.data.data.account_id, expiresAt };
    this.#recent.push(value);
    if (this.#recent.length > 4) this.#recent.shift();
    return this.#token;
  }
}

/** Crossbar's `message` field (never echoes credentials), for non-auth failures. */
function crossbarMessage(json: unknown): string {
  if (json && typeof json === "object" && "message" in json) {
    const m = (json as { message: unknown }).message;
    if (typeof m === "string" && m.length < 200) return `: ${m}`;
  }
  return "";
}

/** The `exp` claim (epoch ms) of a JWT-shaped token, if it has one. */
export function jwtExpiry(token: string): number | undefined {
  const parts = token.split(".");
  if (parts.length !== 3 || !parts[1]) return undefined;
  try {
    const b64 = parts[1].replaceAll("-", "+").replaceAll("_", "/");
    const claims: unknown = JSON.parse(atob(b64.padEnd(Math.ceil(b64.length / 4) * 4, "=")));
    if (claims && typeof claims === "object" && "exp" in claims) {
      const exp = (claims as { exp: unknown }).exp;
      if (typeof exp === "number" && Number.isFinite(exp)) return exp * 1000;
    }
  } catch {
    // not a JWT: fall back to the configured lifetime
  }
  return undefined;
}
