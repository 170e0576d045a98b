/**
 * iland access tokens (PROTOCOLS.md §1.1): a static token, or Keycloak's OAuth2 password
 * grant with refresh. One {@link IlandTokens} serves every socket of a source, so several
 * company sockets share one login.
 *
 * The token is presented once per connection, in the auth line, so it is renewed when a
 * socket is about to be dialled: when it expires within `refreshSkewMs` (the Go client's
 * 60 s) or after the server refused it. Renewal tries the refresh_token grant first and
 * falls back to a new password grant.
 *
 * @module
 */
import type { Clock } from "../../platform/clock.ts";
import type { Logger } from "../../platform/log.ts";
import { UpstreamError } from "../session.ts";
import type { IlandSourceConfig } from "./config.ts";
import { oauthErrorSchema, type TokenResponse, tokenResponseSchema } from "./messages.ts";

/** What {@link IlandTokens} needs. */
export interface IlandTokensDeps {
  config: IlandSourceConfig;
  fetch: typeof fetch;
  clock: Clock;
  log: Logger;
}

interface Held {
  value: string;
  /** Epoch ms; Infinity when the server gave no lifetime. */
  expiresAt: number;
}

type Grant =
  | { grant_type: "password"; username: string; password: string }
  | { grant_type: "refresh_token"; refresh_token: string };

/** Runtime tokens remembered for scrubbing (current and a few previous). */
const REMEMBERED = 8;

/** The access token source of one iland source. */
export class IlandTokens {
  readonly #d: IlandTokensDeps;
  #access: Held | undefined;
  #refresh: Held | undefined;
  #pending: Promise<string> | undefined;
  readonly #seen: string[] = [];

  constructor(deps: IlandTokensDeps) {
    this.#d = deps;
    if (deps.config.accessToken !== undefined) {
      this.#access = { value: deps.config.accessToken, expiresAt: Infinity };
    }
  }

  /** True when the token comes from config and cannot be renewed. */
  get isStatic(): boolean {
    return this.#d.config.accessToken !== undefined;
  }

  /** A token valid for at least `refreshSkewMs`, fetching one if needed (single flight). */
  token(): Promise<string> {
    const { clock, config } = this.#d;
    const held = this.#access;
    if (held && (this.isStatic || clock.now() < held.expiresAt - config.refreshSkewMs)) {
      return Promise.resolve(held.value);
    }
    this.#pending ??= this.#renew().finally(() => {
      this.#pending = undefined;
    });
    return this.#pending;
  }

  /** The server refused `token`: forget it so the next {@link token} renews. */
  refused(token: string): void {
    if (this.isStatic || this.#access?.value !== token) return;
    this.#access = undefined;
  }

  /** Replaces every runtime token in `text` (error replies may echo them). */
  scrub(text: string): string {
    let out = text;
    for (const t of this.#seen) out = out.replaceAll(t, "[redacted]");
    return out;
  }

  async #renew(): Promise<string> {
    const { config, log, clock } = this.#d;
    const refresh = this.#refresh;
    if (refresh && clock.now() < refresh.expiresAt - config.refreshSkewMs) {
      try {
        const token = this.#keep(
          await this.#request({
            grant_type: "refresh_token",
            refresh_token: refresh.value,
          }),
        );
        log.debug("iland token obtained", { grant: "refresh_token" });
        return token;
      } catch (err) {
        this.#refresh = undefined;
        log.info("iland refresh grant failed; logging in again", { error: errorText(err) });
      }
    }
    const token = this.#keep(
      await this.#request({
        grant_type: "password",
        username: config.username ?? "",
        password: config.password ?? "",
      }),
    );
    log.debug("iland token obtained", { grant: "password" });
    return token;
  }

  #keep(body: TokenResponse): string {
    const now = this.#d.clock.now();
    this.#access = {
      value: body.access_token,
      expiresAt: body.expires_in === undefined ? Infinity : now + body.expires_in * 1000,
    };
    this.#remember(body.access_token);
    if (body.refresh_token !== undefined) {
      this.#refresh = {
        value: body.refresh_token,
        // Keycloak sends 0 for offline tokens that do not expire.
        expiresAt: body.refresh_expires_in ? now + body.refresh_expires_in * 1000 : Infinity,
      };
      this.#remember(body.refresh_token);
    }
    return body.access_token;
  }

  #remember(token: string): void {
    this.#seen.unshift(token);
    this.#seen.length = Math.min(this.#seen.length, REMEMBERED);
  }

  /** One POST to the token endpoint; errors never contain the form's secrets. */
  async #request(grant: Grant): Promise<TokenResponse> {
    const { config, clock } = this.#d;
    const form = new URLSearchParams({
      ...grant,
      client_id: config.clientId ?? "",
      client_secret: config.clientSecret ?? "",
    });
    const abort = new AbortController();
    const timer = clock.setTimeout(() => abort.abort(), config.tokenTimeoutMs);
    const what = `iland ${grant.grant_type} grant`;
    let res: Response;
    let body: unknown;
    try {
      res = await this.#d.fetch(config.tokenUrl, {
        method: "POST",
        headers: {
          "content-type": "application/x-www-form-urlencoded",
          accept: "application/json",
        },
        body: form,
        signal: abort.signal,
      });
      body = await res.json().catch(() => undefined);
    } catch (err) {
      const reason = abort.signal.aborted
        ? `no answer within ${config.tokenTimeoutMs} ms`
        : errorText(err);
      throw new UpstreamError(`${what} failed: ${this.scrub(reason)}`);
    } finally {
      clock.clearTimeout(timer);
    }
    if (!res.ok) {
      const oauth = oauthErrorSchema.safeParse(body);
      const reason = oauth.success
        ? `${oauth.data.error}${
          oauth.data.error_description ? ` (${oauth.data.error_description})` : ""
        }`
        : "no OAuth error body";
      // 400/401 with an OAuth error means the credentials or the grant are wrong: retrying
      // the same request cannot help. Anything else (5xx, proxies) may be transient.
      throw new UpstreamError(
        `${what} refused with HTTP ${res.status}: ${this.scrub(reason).slice(0, 200)}`,
        { auth: oauth.success && (res.status === 400 || res.status === 401) },
      );
    }
    const parsed = tokenResponseSchema.safeParse(body);
    if (!parsed.success) {
      throw new UpstreamError(`${what} answered without an access_token`);
    }
    return parsed.data;
  }
}

function errorText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
