/**
 * Config fields every source shares, and zod helpers for vendor config schemas.
 *
 * @module
 */
import { z } from "zod";

/** Source names double as cursor prefixes, so they are restricted to a safe alphabet. */
export const sourceNameSchema = z.string().regex(
  /^[A-Za-z0-9_.-]{1,64}$/,
  "Use 1-64 letters, digits, '_', '-' or '.'",
);

/** A ws:// or wss:// URL. */
export const wsUrlSchema = z.string().refine((s) => {
  try {
    const u = new URL(s);
    return u.protocol === "ws:" || u.protocol === "wss:";
  } catch {
    return false;
  }
}, "Expected a ws:// or wss:// URL");

/** An http:// or https:// URL. */
export const httpUrlSchema = z.string().refine((s) => {
  try {
    const u = new URL(s);
    return u.protocol === "http:" || u.protocol === "https:";
  } catch {
    return false;
  }
}, "Expected an http:// or https:// URL");

const ms = (def: number) => z.number().int().min(0).max(86_400_000).default(def);

/** Fields every source accepts, with their defaults. */
export const baseSourceFields = {
  name: sourceNameSchema,
  /** Events kept for `after:` replay and `recentEvents`. */
  history: z.number().int().min(0).max(1_000_000).default(1000),
  /**
   * How long upstream interest stays registered after its last subscriber leaves, so a
   * client that reconnects within it resumes with nothing missed; 0 deregisters at once.
   */
  resumeWindowMs: ms(60_000),
  reconnect: z.strictObject({
    baseMs: z.number().int().min(1).max(600_000).default(500),
    maxMs: z.number().int().min(1).max(3_600_000).default(30_000),
    /** READY this long resets the backoff. */
    stableMs: ms(30_000),
  }).prefault({}),
  connectTimeoutMs: ms(10_000),
  authTimeoutMs: ms(10_000),
  /** No frame for this long (after a probe) and the socket is treated as dead; 0 disables. */
  silenceMs: ms(60_000),
  /** PEM CA certificate(s) to trust for a wss:// upstream with a private CA. */
  caCert: z.string().optional(),
  /** Path of a PEM CA file (read at start-up), the same as caCert. */
  caFile: z.string().optional(),
};
