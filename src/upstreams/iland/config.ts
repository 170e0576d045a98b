/**
 * Config of an iland cloud source (PROTOCOLS.md §1.1).
 *
 * Credentials are either a static `accessToken`, or the OAuth2 password grant against the
 * Keycloak token endpoint (`clientId`, `clientSecret`, `username`, `password`), which the
 * relay then refreshes by itself. The stream is scoped by `companyId` (one socket),
 * `companyIds` (one socket per company), or neither (one socket for every company the user
 * can see).
 *
 * @module
 */
import { z } from "zod";
import { baseSourceFields, httpUrlSchema, wsUrlSchema } from "../source_config.ts";

/** The public event websocket (§1.1). */
export const ILAND_DEFAULT_URL = "wss://api.ilandcloud.com/v1/event-websocket";
/** Keycloak realm `iland-core` token endpoint (§1.1). */
export const ILAND_DEFAULT_TOKEN_URL =
  "https://console.ilandcloud.com/auth/realms/iland-core/protocol/openid-connect/token";

// A company id goes into the auth line `companyId=<id>,Bearer …`: a comma or whitespace
// would change the line's meaning, so they are refused here rather than on the wire.
const companyIdSchema = z.string().regex(
  /^[^,\s]{1,128}$/,
  "Company ids are 1-128 characters without commas or whitespace",
);

/** An iland source. */
export const ilandSourceSchema = z.strictObject({
  ...baseSourceFields,
  // iland has no probe (nothing the server must answer) and a quiet company can go a long
  // time without events, so the silence timeout is long: it re-dials a half-open socket
  // after 10 minutes without a frame instead of reconnecting a healthy quiet one every minute.
  silenceMs: z.number().int().min(0).max(86_400_000).default(600_000),
  kind: z.literal("iland"),
  url: wsUrlSchema.default(ILAND_DEFAULT_URL),
  /** One company: the auth line becomes `companyId=<id>,Bearer <token>`. */
  companyId: companyIdSchema.optional(),
  /** Several companies: one upstream socket each, sharing one token. */
  companyIds: z.array(companyIdSchema).min(1).optional(),
  /** A static access token (no refresh possible). */
  accessToken: z.string().min(1).optional(),
  /** OAuth2 token endpoint for the password and refresh_token grants. */
  tokenUrl: httpUrlSchema.default(ILAND_DEFAULT_TOKEN_URL),
  clientId: z.string().min(1).optional(),
  clientSecret: z.string().min(1).optional(),
  username: z.string().min(1).optional(),
  password: z.string().min(1).optional(),
  /** Renew a fetched token this long before it expires (the Go client uses 60 s). */
  refreshSkewMs: z.number().int().min(0).max(3_600_000).default(60_000),
  /** How long a token request may take. */
  tokenTimeoutMs: z.number().int().min(1).max(120_000).default(10_000),
}).superRefine((c, ctx) => {
  if (c.companyId !== undefined && c.companyIds !== undefined) {
    ctx.addIssue({
      code: "custom",
      path: ["companyIds"],
      message: "Give either companyId or companyIds, not both",
    });
  }
  if (c.companyIds && new Set(c.companyIds).size !== c.companyIds.length) {
    ctx.addIssue({ code: "custom", path: ["companyIds"], message: "Company ids must be unique" });
  }
  const oauth = (["clientId", "clientSecret", "username", "password"] as const)
    .filter((k) => c[k] !== undefined);
  if (c.accessToken !== undefined && oauth.length > 0) {
    ctx.addIssue({
      code: "custom",
      path: ["accessToken"],
      message: "Give either accessToken or clientId/clientSecret/username/password, not both",
    });
  } else if (c.accessToken === undefined && oauth.length < 4) {
    const missing = (["clientId", "clientSecret", "username", "password"] as const)
      .find((k) => c[k] === undefined);
    ctx.addIssue({
      code: "custom",
      path: [oauth.length === 0 ? "accessToken" : missing ?? "accessToken"],
      message: "iland needs accessToken, or clientId, clientSecret, username and password",
    });
  }
});
/** A validated iland source config. */
export type IlandSourceConfig = z.infer<typeof ilandSourceSchema>;

/** The company scopes to open sockets for: `undefined` is the all-companies `Bearer` socket. */
export function companyScopes(config: IlandSourceConfig): (string | undefined)[] {
  if (config.companyIds) return [...config.companyIds];
  return [config.companyId];
}
