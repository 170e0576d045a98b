/**
 * iland filter semantics. The server sends everything in the socket's scope and offers no
 * filter command (PROTOCOLS.md §1.2, §1.4), so subscriptions are filtered here, on the
 * fields the SDK samples filter on (`entity_type`, `type`) plus the message kind.
 *
 * Rules:
 * - `kinds`: EVENT and/or TASK messages.
 * - `entityTypes`: an EVENT's `entity_type` must be one of them. TASK messages carry no
 *   `entity_type`, so this filter does not restrict them.
 * - `types`: the event's `type` must be one of them; a TASK's type is `TASK_<STATUS>`
 *   (see {@link taskType}).
 * - Different filters are AND'd, values within one filter OR'd. Comparison ignores case:
 *   the typed SDKs send UPPER_SNAKE while the PHP sample and the seed compare lower-case
 *   names (§1.7).
 *
 * @module
 */
import type { Event } from "../../model/event.ts";

/** The two message kinds (§1.3). */
export const ILAND_KINDS = ["EVENT", "TASK"] as const;
/** One of {@link ILAND_KINDS}. */
export type IlandKind = typeof ILAND_KINDS[number];

/** A subscription's local filter; absent sets mean "any". */
export interface IlandFilter {
  /** Absent: every kind, including kinds a newer server adds. */
  kinds?: ReadonlySet<string> | undefined;
  /** Upper-cased entity types. */
  entityTypes?: ReadonlySet<string> | undefined;
  /** Upper-cased event types. */
  types?: ReadonlySet<string> | undefined;
}

/** The canonical (upper-case) form of a type or entity type name. */
export function canonicalName(name: string): string {
  return name.toUpperCase();
}

/**
 * The event `type` of a TASK message: `TASK_` plus the status in UPPER_SNAKE
 * (`running` → `TASK_RUNNING`, `waiting-on-user-input` → `TASK_WAITING_ON_USER_INPUT`).
 * These never collide with iland's own task lifecycle events (`TASK_CREATE`, `TASK_START`,
 * `TASK_ABORT`, `TASK_COMPLETE`, `TASK_FAIL`), which stay EVENTs. An update without a status
 * (optional on the wire) is plain `TASK`.
 */
export function taskType(status: string | undefined): string {
  if (status === undefined || status === "") return "TASK";
  return `TASK_${status.toUpperCase().replace(/[^A-Z0-9]+/g, "_")}`;
}

/** True when an iland event passes `filter`. */
export function matchesIland(filter: IlandFilter, event: Event): boolean {
  if (event.detail.vendor !== "ILAND") return false;
  const d = event.detail;
  if (filter.kinds && !filter.kinds.has(d.kind)) return false;
  if (filter.entityTypes && d.kind === "EVENT") {
    if (d.entityType == null || !filter.entityTypes.has(canonicalName(d.entityType))) {
      return false;
    }
  }
  if (filter.types && !filter.types.has(canonicalName(event.type))) return false;
  return true;
}
