/**
 * Config of a Kazoo (blackhole) source.
 *
 * @module
 */
import { z } from "zod";
import { baseSourceFields, httpUrlSchema, wsUrlSchema } from "../source_config.ts";
import { checkAccountId, checkBinding } from "./match.ts";

const binding = z.string().superRefine((text, ctx) => {
  const problem = checkBinding(text);
  if (problem) ctx.addIssue({ code: "custom", message: problem });
});

const accountId = z.string().superRefine((text, ctx) => {
  const problem = checkAccountId(text);
  if (problem) ctx.addIssue({ code: "custom", message: problem });
});

/** A Kazoo cluster: blackhole websocket plus the Crossbar API that issues tokens. */
export const kazooSourceSchema = z.strictObject({
  ...baseSourceFields,
  kind: z.literal("kazoo"),
  /** Blackhole, e.g. `ws://kazoo:5555` (any path). */
  url: wsUrlSchema,
  /** Crossbar base URL including the version, e.g. `http://kazoo:8000/v2`. */
  apiUrl: httpUrlSchema,
  /** md5 (or sha1, see `method`) hex of `lower(username):password`, for `user_auth`. */
  credentials: z.string().min(1).optional(),
  /** The user's account name (with `credentials`). */
  accountName: z.string().min(1).optional(),
  /** The hash in `credentials`: `md5` (default) or `sha`. */
  method: z.enum(["md5", "sha"]).default("md5"),
  /** An account API key, for `api_auth` (instead of credentials). */
  apiKey: z.string().min(1).optional(),
  /** Account for subscriptions that name none; default: the account the token belongs to. */
  accountId: accountId.optional(),
  /** Token lifetime assumed when the token is not a JWT with `exp` (crossbar default 3600). */
  tokenTtlSeconds: z.number().int().min(10).max(31_536_000).default(3600),
  /** A token this close to expiry is replaced before it is used. */
  tokenRenewSeconds: z.number().int().min(0).max(86_400).default(300),
  /** A `ping` this often keeps blackhole's 1-hour idle timeout away (0 disables). */
  keepaliveMs: z.number().int().min(0).max(3_000_000).default(300_000),
  /** How long to wait for the reply to one request. */
  replyTimeoutMs: z.number().int().min(1).max(120_000).default(10_000),
  /**
   * Request pacing under blackhole's per-socket token bucket (100 tokens, refilled 10/s):
   * at most `burst` requests at once, then `perSecond`.
   */
  pacing: z.strictObject({
    burst: z.number().int().min(1).max(1000).default(50),
    perSecond: z.number().min(0.1).max(1000).default(8),
  }).prefault({}),
  /** Bindings always subscribed: `"call.*.*"` (default account) or `{accountId, binding}`. */
  standing: z.array(z.union([binding, z.strictObject({ accountId, binding })])).default([]),
}).superRefine((c, ctx) => {
  if (c.apiKey !== undefined && c.credentials !== undefined) {
    ctx.addIssue({
      code: "custom",
      path: ["apiKey"],
      message: "Give either credentials (with accountName) or apiKey, not both",
    });
  } else if (c.apiKey === undefined && c.credentials === undefined) {
    ctx.addIssue({
      code: "custom",
      path: ["credentials"],
      message: "Kazoo needs credentials (md5 of user:pass) with accountName, or apiKey",
    });
  } else if (c.credentials !== undefined && c.accountName === undefined) {
    ctx.addIssue({ code: "custom", path: ["accountName"], message: "Required with credentials" });
  }
});
/** A validated Kazoo source config. */
export type KazooSourceConfig = z.infer<typeof kazooSourceSchema>;
