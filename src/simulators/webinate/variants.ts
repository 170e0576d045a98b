/**
 * Webinate users-server flavours (PROTOCOLS.md §3.3), on top of the Gen A / Gen B choice:
 * `older` sends file events as Gen A did up to 2016-05-05 (`FilesUploaded`/`FilesRemoved`
 * with `files[]`); `newer` sends buckets as Webinate/mantle does (`VolumeUploaded`/
 * `VolumeRemoved` with `volume`); `sparse` leaves out `username` and the entries' `_id`;
 * `extra` adds unknown fields.
 *
 * @module
 */
import { asFrame, type Frame, type SimulatorVariant, withExtras, without } from "../variant.ts";

/** Every flavour the Webinate simulator plays. */
export const WEBINATE_VARIANTS: readonly SimulatorVariant[] = [
  "current",
  "older",
  "newer",
  "sparse",
  "extra",
];

const FILES_NAMES: Record<string, string> = {
  FileUploaded: "FilesUploaded",
  FileRemoved: "FilesRemoved",
};
const VOLUME_NAMES: Record<string, string> = {
  BucketUploaded: "VolumeUploaded",
  BucketRemoved: "VolumeRemoved",
};

/** One server event in the flavour's shape (replies to client requests are not reshaped). */
export function reshapeWebinate(frame: Frame, variant: SimulatorVariant): Frame {
  switch (variant) {
    case "older": {
      if (frame.file === undefined) return frame;
      const { file, ...rest } = frame;
      const type = typeof rest.type === "string" ? FILES_NAMES[rest.type] ?? rest.type : undefined;
      return { ...rest, ...(type ? { type } : {}), files: [file] };
    }
    case "newer": {
      if (frame.bucket === undefined) return frame;
      const { bucket, ...rest } = frame;
      const type = typeof rest.type === "string" ? VOLUME_NAMES[rest.type] ?? rest.type : undefined;
      return { ...rest, ...(type ? { type } : {}), volume: bucket };
    }
    case "sparse": {
      const out = without(frame, ["username"]);
      for (const k of ["file", "bucket"]) {
        const entity = asFrame(out[k]);
        if (entity) out[k] = without(entity, ["_id"]);
      }
      return out;
    }
    case "extra":
      return withExtras(frame);
    default:
      return frame;
  }
}
