/**
 * Event ids double as resume cursors: `<source>:<epoch>:<offset>`.
 *
 * The epoch changes whenever a source's history starts afresh (every relay start), so a
 * cursor from an earlier run is recognised as expired instead of silently pointing at
 * unrelated events. The offset increases by one per event within an epoch.
 *
 * @module
 */

/** A decoded cursor. */
export interface Cursor {
  source: string;
  epoch: string;
  offset: number;
}

const CURSOR_PATTERN = /^([A-Za-z0-9_.-]+):([a-z0-9]+):(\d{1,15})$/;

/** Formats a cursor as an event id. */
export function formatCursor(cursor: Cursor): string {
  return `${cursor.source}:${cursor.epoch}:${cursor.offset}`;
}

/** Parses an event id; `undefined` when it is not a cursor this relay issues. */
export function parseCursor(id: string): Cursor | undefined {
  const m = CURSOR_PATTERN.exec(id);
  if (!m) return undefined;
  const [, source, epoch, offset] = m;
  if (source === undefined || epoch === undefined || offset === undefined) return undefined;
  return { source, epoch, offset: Number(offset) };
}

/** A fresh epoch: base-36 start time plus randomness, so two runs never share one. */
export function newEpoch(now: number, random: () => number = Math.random): string {
  return now.toString(36) + Math.floor(random() * 36 ** 4).toString(36).padStart(4, "0");
}
