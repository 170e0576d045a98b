/**
 * Kazoo blackhole binding semantics (PROTOCOLS.md §4.4), pure: AMQP-style topic matching
 * (`*` = exactly one dot-separated word, `#` = zero or more), the syntax check the relay
 * applies before asking the server, and how an event frame's routing key maps back to the
 * client-binding shape (`call.<EVENT>.<CALL_ID>`, `object.<ACTION>.<TYPE>`, …) and to its
 * account.
 *
 * Module-specific rules (which events a module knows, which slots may hold a wildcard) are
 * deliberately left to the server: its `error` reply becomes BAD_FILTER for the subscriber
 * that asked, so the relay never disagrees with the server it talks to.
 *
 * @module
 */

/** Longest binding the relay forwards (blackhole has no limit; this bounds frames and keys). */
export const MAX_BINDING_LENGTH = 256;

/** AMQP topic match of `pattern` against a concrete dot-separated `key`. */
export function amqpMatch(pattern: string, key: string): boolean {
  return walk(pattern.split("."), 0, key.split("."), 0, matchesWord);
}

/**
 * True when every routing key `narrow` matches also matches `wide`, for two interest keys
 * of the same account. Sound, not complete: a `*` or `#` in `narrow` is only taken as
 * covered by the same or a wider wildcard at that place.
 */
export function bindingKeyCovers(wide: string, narrow: string): boolean {
  const w = parseInterestKey(wide);
  const n = parseInterestKey(narrow);
  if (w.accountId !== n.accountId) return false;
  return walk(w.binding.split("."), 0, n.binding.split("."), 0, coversWord);
}

/** Whether one pattern segment (not `#`) accepts one word of the other side. */
type WordTest = (segment: string, word: string) => boolean;

const matchesWord: WordTest = (segment, word) => segment === "*" || segment === word;

/** A narrow binding's wildcard word is covered only by a wildcard at least as wide. */
const coversWord: WordTest = (segment, word) =>
  word !== "#" && (segment === "*" || (segment === word && word !== "*"));

function walk(
  p: readonly string[],
  i: number,
  k: readonly string[],
  j: number,
  word: WordTest,
): boolean {
  // Iterative for plain segments, recursive only at `#` (which tries every tail).
  while (i < p.length) {
    const seg = p[i]!;
    if (seg === "#") {
      if (i === p.length - 1) return true;
      for (let n = j; n <= k.length; n++) if (walk(p, i + 1, k, n, word)) return true;
      return false;
    }
    if (j >= k.length || !word(seg, k[j]!)) return false;
    i++;
    j++;
  }
  return j === k.length;
}

/**
 * Rejects bindings that are malformed whatever the module: empty, whitespace, an empty
 * dot segment (`call..*`, a leading or trailing dot), a wildcard glued to text (`CHANNEL_*`),
 * or longer than {@link MAX_BINDING_LENGTH}. Returns the problem, or undefined.
 */
export function checkBinding(binding: string): string | undefined {
  if (binding === "") return "Kazoo binding must not be empty";
  if (/\s/.test(binding)) return `Kazoo binding must not contain whitespace: "${binding}"`;
  if (binding.length > MAX_BINDING_LENGTH) {
    return `Kazoo binding is longer than ${MAX_BINDING_LENGTH} characters`;
  }
  const segments = binding.split(".");
  if (segments.some((s) => s === "")) {
    return `Kazoo binding has an empty segment: "${binding}" (use "*" for any word)`;
  }
  if (segments.some((s) => s.length > 1 && /[*#]/.test(s))) {
    return `Kazoo binding wildcards must be whole segments ("*" or "#"): "${binding}"`;
  }
  if (segments.length < 2) {
    return `Kazoo binding needs a module and at least one key, e.g. "call.*.*": "${binding}"`;
  }
  return undefined;
}

/** Rejects account ids that cannot be right (the server checks authorization). */
export function checkAccountId(accountId: string): string | undefined {
  if (accountId === "") return "Kazoo accountId must not be empty";
  if (/[\s|]/.test(accountId)) return `Kazoo accountId is malformed: "${accountId}"`;
  if (accountId.length > 64) return "Kazoo accountId is longer than 64 characters";
  return undefined;
}

/** The interest key of one (account, binding); `""` stands for the source's default account. */
export function interestKey(accountId: string | undefined, binding: string): string {
  return `${accountId ?? ""}|${binding}`;
}

/** Splits an {@link interestKey}; an empty account means "the default account". */
export function parseInterestKey(key: string): { accountId: string | undefined; binding: string } {
  const bar = key.indexOf("|");
  const accountId = bar > 0 ? key.slice(0, bar) : undefined;
  return { accountId, binding: key.slice(bar + 1) };
}

const DOC_ACTION = /^doc_(created|edited|deleted)$/;

/** kz_amqp_util:encode/1 reversed for one routing-key segment. */
function decodeSegment(segment: string): string {
  return segment.replaceAll("%2E", ".").replaceAll("%2A", "*").replaceAll("%23", "#");
}

/**
 * The routing key in client-binding shape, so subscribers' bindings can be matched against
 * it locally: `call.<ACCOUNT>.<EVENT>.<CALL>` → `call.<EVENT>.<CALL>`,
 * `<doc action>.<db>.<type>.<id>` → `object.<action>.<type>`, and the account segment
 * removed from fax and conference keys. Undefined for shapes the relay does not know.
 */
export function clientKeyOf(routingKey: string): string | undefined {
  const s = routingKey.split(".");
  const [head, second, third] = s;
  if (head === "call" && s.length === 4) return `call.${s[2]}.${s[3]}`;
  // A key already in client form (`call.CHANNEL_CREATE.<call>`: some servers and proxies).
  if (head === "call" && s.length === 3) return routingKey;
  if (head !== undefined && DOC_ACTION.test(head) && s.length >= 3) {
    return `object.${head}.${third}`;
  }
  if (head === "fax" && second === "status" && s.length === 4) return `fax.status.${s[3]}`;
  if (head === "conference" && second === "event" && s.length === 6) {
    return `conference.event.${s[3]}.${s[4]}.${s[5]}`;
  }
  if (head === "conference" && second === "command") return routingKey;
  return undefined;
}

/** A Kazoo account id: 32 hex characters (kz_term:is_ne_binary of an md5-sized uuid). */
export const ACCOUNT_ID = /^[0-9a-f]{32}$/i;

/**
 * The account an event belongs to, read from a routing or subscription key: the second
 * segment of `call.<ACCOUNT>.…` / `fax.status.<ACCOUNT>.…` / `conference.event.<ACCOUNT>.…`,
 * or the account database (`account%2Fab%2Fcd%2Fef…[-YYYYMM]`) of a document change — and
 * only when that segment looks like an account id (a key in client form,
 * `call.CHANNEL_CREATE.<call>`, carries no account at all).
 */
export function accountOfKey(key: string): string | undefined {
  const s = key.split(".");
  const [head, second] = s;
  let candidate: string | undefined;
  if (head === "call") candidate = second;
  else if (head === "fax" && second === "status") candidate = s[2];
  else if (head === "conference" && second === "event") candidate = s[2];
  else if (head !== undefined && (DOC_ACTION.test(head) || head === "*")) {
    candidate = accountOfDb(second ?? "");
  }
  return candidate !== undefined && ACCOUNT_ID.test(candidate) ? candidate : undefined;
}

/** `account%2Fab%2Fcd%2Fefgh…` (optionally `-YYYYMM`) → `abcdefgh…`. */
function accountOfDb(db: string): string | undefined {
  const decoded = db.replaceAll("%2F", "/");
  const m = /^account\/([0-9a-f]{2})\/([0-9a-f]{2})\/([0-9a-f]+)(?:-\d{6})?$/.exec(decoded);
  return m ? `${m[1]}${m[2]}${m[3]}` : undefined;
}

/** The call id of a call routing key (its last segment, decoded). */
export function callIdOfKey(routingKey: string): string | undefined {
  const s = routingKey.split(".");
  if (s[0] !== "call" || (s.length !== 4 && s.length !== 3)) return undefined;
  const id = s[s.length - 1];
  return id === undefined || id === "*" || id === "#" ? undefined : decodeSegment(id);
}

/** What a subscriber's local matcher needs to know about one event frame. */
export interface KazooEventFacts {
  /** The frame's `subscribed_key`: the client binding that made the server send it. */
  binding: string;
  /** The event's account, when it can be told. */
  accountId: string | null;
  routingKey: string;
}

/**
 * Builds the exact local filter of one subscription: `bindings` on `accountId` (`"*"`
 * for every account). Blackhole sends one frame per matching session binding, and the
 * socket's bindings are the union of every subscriber's, so a frame is accepted only when
 * its `subscribed_key` is one of this subscriber's bindings, and only for the first of
 * them that matches the routing key (one delivery per event even when a subscriber's own
 * bindings overlap, e.g. `call.*.*` and `call.CHANNEL_CREATE.*`).
 */
export function bindingMatcher(
  bindings: readonly string[],
): (facts: KazooEventFacts, accountId: string | undefined) => boolean {
  const own = new Set(bindings);
  return (facts, accountId) => {
    if (!own.has(facts.binding)) return false;
    if (accountId !== undefined && accountId !== "*" && facts.accountId !== null) {
      if (facts.accountId !== accountId) return false;
    }
    const key = clientKeyOf(facts.routingKey);
    if (key === undefined) return true;
    const first = bindings.find((b) => amqpMatch(b, key));
    // No local match means the server's shapes differ from ours: trust its subscribed_key.
    return first === undefined || first === facts.binding;
  };
}
