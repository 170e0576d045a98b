/**
 * Config of an iSymphony source.
 *
 * @module
 */
import { z } from "zod";
import { baseSourceFields, wsUrlSchema } from "../source_config.ts";
import { filterEntrySchema } from "./messages.ts";

/** Most entries one filter set may have (a guard against runaway arguments). */
export const MAX_FILTER_ENTRIES = 256;

/** One filter set, as `isymphonyEvents(filters:)` takes it. */
export const filterSetSchema = z.array(filterEntrySchema).max(MAX_FILTER_ENTRIES);

/** An iSymphony Event API endpoint (`ws://pbx:58080/communication_manager/ws/event`). */
export const isymphonySourceSchema = z.strictObject({
  ...baseSourceFields,
  kind: z.literal("isymphony"),
  url: wsUrlSchema.refine((s) => {
    const u = new URL(s);
    return u.username === "" && u.password === "";
  }, "Put the credentials in username/password, not in the URL, so they stay out of logs"),
  /** HTTP realm (Basic) auth user on the upgrade; the vendor's default is `manager`. */
  username: z.string().min(1).default("manager"),
  /** HTTP realm (Basic) auth password on the upgrade. */
  password: z.string().min(1),
  /**
   * How long to wait for the `success`/`error` reply to a filter message. No reply in time
   * means the socket is not trustworthy: it is closed and the whole filter is sent again on
   * the next connection.
   */
  replyTimeoutMs: z.number().int().min(1).max(120_000).default(5000),
  /**
   * Filter sets always in force, each like `isymphonyEvents(filters:)` (`[]` = every event),
   * so history fills before anyone subscribes. They take part in the upstream superset.
   */
  standing: z.array(filterSetSchema).default([]),
});
/** A validated iSymphony source config. */
export type ISymphonySourceConfig = z.infer<typeof isymphonySourceSchema>;
