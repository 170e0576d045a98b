/**
 * The `cluster` config section. Without it the relay keeps everything in-process; with it,
 * nodes share a Redis (Streams) for history, upstream leases and interest.
 *
 * @module
 */
import { z } from "zod";

/** Node roles: `ingest` may hold vendor sockets, `edge` only serves clients, `both` does both. */
export const CLUSTER_ROLES = ["both", "ingest", "edge"] as const;
/** One of {@link CLUSTER_ROLES}. */
export type ClusterRole = typeof CLUSTER_ROLES[number];

/** A redis:// or rediss:// (TLS) URL. */
const redisUrlSchema = z.string().refine((s) => {
  try {
    const u = new URL(s);
    return (u.protocol === "redis:" || u.protocol === "rediss:") && u.hostname !== "";
  } catch {
    return false;
  }
}, "Expected a redis:// or rediss:// URL");

/** zod schema of the `cluster` section. */
export const clusterSchema = z.object({
  /** Redis URL (`rediss://` for TLS); may be `{ "env": NAME }`. */
  redis: redisUrlSchema,
  /** Prefix of every Redis key and channel the relay uses. */
  keyPrefix: z.string().regex(/^[A-Za-z0-9_.:-]{1,64}$/, "Use 1-64 letters, digits, '_.:-'")
    .default("relay"),
  /** This node's id in leases and `Query.cluster`; random per process when left out. */
  nodeId: z.string().regex(/^[A-Za-z0-9_.-]{1,64}$/, "Use 1-64 letters, digits, '_', '-' or '.'")
    .optional(),
  role: z.enum(CLUSTER_ROLES).default("both"),
  /**
   * How long an upstream lease and a node's interest live without renewal: the longest a
   * dead holder keeps a source unserved, and a dead node's interest keeps counting.
   */
  leaseMs: z.number().int().min(1000).max(600_000).default(10_000),
  /** Events the holder keeps while Redis is unreachable; past this a gap is recorded. */
  outageBufferEvents: z.number().int().min(0).max(1_000_000).default(10_000),
  /** How many recent vendor event ids are remembered to append each event at most once. */
  dedupeWindow: z.number().int().min(0).max(1_000_000).default(10_000),
}).strict();

/** A validated `cluster` section. */
export type ClusterConfig = z.infer<typeof clusterSchema>;

/** The credentials inside a Redis URL, for redaction (user, password, and both joined). */
export function redisUrlSecrets(url: string): string[] {
  try {
    const u = new URL(url);
    const out: string[] = [];
    const password = decodeURIComponent(u.password);
    if (password) out.push(password, u.password);
    if (password && u.username) out.push(`${decodeURIComponent(u.username)}:${password}`);
    return out;
  } catch {
    return [];
  }
}

/** The URL with its credentials masked: safe for logs and responses. */
export function displayRedisUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = "redacted";
    return u.toString();
  } catch {
    return "(invalid redis URL)";
  }
}
