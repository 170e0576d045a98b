/**
 * The resume cursor of the cross-vendor `events` stream: for every source of that
 * subscription, the newest offset delivered so far on it (with the source's epoch), so a
 * client that reconnects with it replays every source from its own position.
 *
 * Wire form: `c1.` then base64url (no padding) of the entries `<source>:<epoch>:<offset>`
 * joined by `,`. The `c1` is the format version; event ids never start with it (they contain
 * `:`, which base64url never does). Its size grows with the number of sources, about 40
 * characters per source, and `after:` refuses anything over {@link MAX_COMPOSITE_LENGTH}.
 *
 * @module
 */
import { type Cursor, formatCursor, parseCursor } from "./cursor.ts";

/** The version prefix of composite cursors. */
export const COMPOSITE_PREFIX = "c1.";

/** Longest composite cursor accepted (roughly 150 sources). */
export const MAX_COMPOSITE_LENGTH = 8192;

/** True when `text` is meant as a composite cursor (any version), not an event id. */
export function isCompositeCursor(text: string): boolean {
  return /^c\d+\./.test(text);
}

/** Encodes one entry per source. */
export function formatComposite(entries: readonly Cursor[]): string {
  const bytes = new TextEncoder().encode(entries.map(formatCursor).join(","));
  let binary = "";
  for (const b of bytes) binary += String.fromCharCode(b);
  return COMPOSITE_PREFIX +
    btoa(binary).replaceAll("+", "-").replaceAll("/", "_").replace(/=+$/, "");
}

/**
 * Decodes a composite cursor; `undefined` when it is not one this relay issues (wrong
 * version, too long, not base64url, a malformed or repeated entry).
 */
export function parseComposite(text: string): Cursor[] | undefined {
  if (!text.startsWith(COMPOSITE_PREFIX) || text.length > MAX_COMPOSITE_LENGTH) return undefined;
  const body = text.slice(COMPOSITE_PREFIX.length);
  if (!/^[A-Za-z0-9_-]*$/.test(body)) return undefined;
  let decoded: string;
  try {
    const binary = atob(body.replaceAll("-", "+").replaceAll("_", "/"));
    decoded = new TextDecoder("utf-8", { fatal: true }).decode(
      Uint8Array.from(binary, (c) => c.charCodeAt(0)),
    );
  } catch {
    return undefined;
  }
  if (decoded === "") return undefined;
  const out: Cursor[] = [];
  const sources = new Set<string>();
  for (const part of decoded.split(",")) {
    const cursor = parseCursor(part);
    if (!cursor || sources.has(cursor.source)) return undefined;
    sources.add(cursor.source);
    out.push(cursor);
  }
  return out;
}
