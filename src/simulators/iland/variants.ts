/**
 * iland server flavours (PROTOCOLS.md §1.3): `older` sends TaskJson as the older JS SDK
 * models it (`synchronized`, lower-case `task_type`); `newer` adds `company_id` to events
 * and unknown fields; `sparse` keeps only what routes a message (EVENT `uuid` and `type`,
 * TASK `uuid`: no status); `extra` adds unknown fields to envelope and data.
 *
 * @module
 */
import { asFrame, type Frame, type SimulatorVariant, withExtras } from "../variant.ts";

/** Every flavour the iland simulator plays. */
export const ILAND_VARIANTS: readonly SimulatorVariant[] = [
  "current",
  "older",
  "newer",
  "sparse",
  "extra",
];

/** One `{type, data}` envelope in the flavour's shape. */
export function reshapeIland(frame: Frame, variant: SimulatorVariant): Frame {
  const data = asFrame(frame.data);
  if (!data || variant === "current") return frame;
  const task = frame.type === "TASK";
  switch (variant) {
    case "older": {
      if (!task) return frame;
      const { synced, ...rest } = data;
      const taskType = typeof rest.task_type === "string"
        ? rest.task_type.toLowerCase()
        : undefined;
      return { ...frame, data: { ...rest, synchronized: synced, task_type: taskType } };
    }
    case "newer":
      return {
        ...frame,
        data: withExtras(task ? data : { company_id: data.owner_id ?? null, ...data }),
      };
    case "sparse":
      return {
        ...frame,
        data: task ? { uuid: data.uuid } : { uuid: data.uuid, type: data.type },
      };
    case "extra":
      return withExtras({ ...frame, data: withExtras(data) });
    default:
      return frame;
  }
}
