/**
 * Secret masking: every configured secret (and its common encodings) is replaced by
 * `[redacted]` in any text that leaves the process: log lines, errors, `lastError`.
 *
 * @module
 */

/** Replaces known secrets in a text. */
export type Redactor = (text: string) => string;

const MIN_SECRET_LENGTH = 3;

function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

/**
 * Builds a redactor for `secrets`. Besides the raw value it masks the forms a secret takes
 * on the wire: URL-encoded, JSON-escaped, and base64 of the value.
 */
export function createRedactor(secrets: Iterable<string>): Redactor {
  const forms = new Set<string>();
  for (const secret of secrets) {
    if (secret.length < MIN_SECRET_LENGTH) continue;
    forms.add(secret);
    forms.add(encodeURIComponent(secret));
    // URLSearchParams (how `?token=` is set) form-encodes: space as "+", "!'()~" escaped.
    forms.add(new URLSearchParams({ s: secret }).toString().slice(2));
    forms.add(JSON.stringify(secret).slice(1, -1));
    forms.add(btoa(String.fromCharCode(...new TextEncoder().encode(secret))));
  }
  if (forms.size === 0) return (text) => text;
  // Longest first so a secret that contains another is masked whole.
  const pattern = new RegExp(
    [...forms].sort((a, b) => b.length - a.length).map(escapeRegExp).join("|"),
    "g",
  );
  return (text) => text.replace(pattern, "[redacted]");
}
