/**
 * Config of a Webinate "users" server source (PROTOCOLS.md §3.1).
 *
 * @module
 */
import { z } from "zod";
import { baseSourceFields, wsUrlSchema } from "../source_config.ts";

/** A Webinate users socket endpoint (`ws://users:8020`; any path is accepted). */
export const webinateSourceSchema = z.strictObject({
  ...baseSourceFields,
  kind: z.literal("webinate"),
  url: wsUrlSchema,
  /**
   * Sent as the upgrade's `Origin` header. The server searches it with every
   * `websocket.approvedSocketDomains` regex, so pick a value one entry matches.
   */
  origin: z.string().min(1).optional(),
  /** The whole `Cookie` header, e.g. `SID=<session id>` (the login session the server resolves). */
  cookie: z.string().min(1).optional(),
  /** A login session id, sent as `Cookie: SID=<sid>` (shorthand for `cookie`). */
  sid: z.string().regex(/^[^ ,;]+$/, "A session id has no spaces, commas or semicolons")
    .optional(),
  /**
   * Gen B `websocket.socketApiKey`, sent as the `users-api-key` header: makes the relay an
   * authorised third party that gets every user's events (§3.4). A secret.
   */
  apiKey: z.string().min(1).optional(),
  /**
   * Protocol generation (§3): "A" numeric `eventType` (what the seed documents), "B" string
   * `type`. Inbound frames of either generation are understood regardless; this picks the
   * liveness probe (A: Echo, B: MetaRequest).
   */
  generation: z.enum(["A", "B"]).default("A"),
  /**
   * Wait after the upgrade before the source counts as READY: the server attaches its
   * message handlers only after an async session lookup, so earlier frames are lost (§3.1),
   * and it refuses a bad Origin by closing the socket right after the upgrade.
   */
  settleMs: z.number().int().min(0).max(60_000).default(300),
}).superRefine((c, ctx) => {
  if (c.origin === undefined && c.apiKey === undefined) {
    ctx.addIssue({
      code: "custom",
      path: ["origin"],
      message: "Webinate needs origin (matched against approvedSocketDomains), or apiKey (Gen B)",
    });
  }
  if (c.settleMs >= c.authTimeoutMs) {
    ctx.addIssue({
      code: "custom",
      path: ["settleMs"],
      message: `settleMs (${c.settleMs}) must be below authTimeoutMs (${c.authTimeoutMs})`,
    });
  }
  if (c.cookie !== undefined && c.sid !== undefined) {
    ctx.addIssue({ code: "custom", path: ["sid"], message: "Give either cookie or sid, not both" });
  }
});
/** A validated Webinate source config. */
export type WebinateSourceConfig = z.infer<typeof webinateSourceSchema>;
