/**
 * Config of a DRP source.
 *
 * @module
 */
import { z } from "zod";
import { baseSourceFields, wsUrlSchema } from "../source_config.ts";
import { parsePattern, validatePattern } from "./match.ts";

const standingPattern = z.string().superRefine((text, ctx) => {
  const p = parsePattern(text);
  const problem = p ? validatePattern(p) : `"${text}" is not type.action.key`;
  if (problem) ctx.addIssue({ code: "custom", message: problem });
});

/** A DRP endpoint (`wss://host:8092/api/v3/ws`). */
export const drpSourceSchema = z.strictObject({
  ...baseSourceFields,
  kind: z.literal("drp"),
  url: wsUrlSchema,
  /** A DRP token (sent as `Authorization: Bearer`). */
  token: z.string().min(1).optional(),
  /** With `password`: sent as `Authorization: Basic`. */
  username: z.string().min(1).optional(),
  password: z.string().min(1).optional(),
  /**
   * `header` (default) sends `Authorization`; `query` sends `?token=` (for proxies that
   * strip the header). In header mode an HTTP 401 switches to the query form once.
   */
  authMode: z.enum(["header", "query"]).default("header"),
  /** How long to wait for the server's `websocket` acknowledgement of each command. */
  ackTimeoutMs: z.number().int().min(1).max(120_000).default(5000),
  /** Patterns always registered (`machines.*.*`), so history fills before anyone asks. */
  standing: z.array(standingPattern).default([]),
}).superRefine((c, ctx) => {
  const basic = c.username !== undefined || c.password !== undefined;
  if (c.token !== undefined && basic) {
    ctx.addIssue({
      code: "custom",
      path: ["token"],
      message: "Give either token or username/password, not both",
    });
  } else if (c.token === undefined && !(c.username && c.password)) {
    ctx.addIssue({
      code: "custom",
      path: c.username ? ["password"] : ["token"],
      message: "DRP needs token, or username and password",
    });
  }
});
/** A validated DRP source config. */
export type DrpSourceConfig = z.infer<typeof drpSourceSchema>;
