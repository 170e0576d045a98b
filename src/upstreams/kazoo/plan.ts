/**
 * Turns `kazooEvents(accountId, bindings)` and `events(types)` into Kazoo interest (one
 * item per (account, binding), so identical needs share one upstream `subscribe`) and an
 * exact local matcher (the socket's bindings are everyone's, so each frame is routed by
 * its `subscribed_key` and account).
 *
 * `events(types:)` mapping: a call event name (`CHANNEL_CREATE`, … the nine bh_call knows)
 * becomes `call.<NAME>.*`, a document action (`doc_created`, `doc_edited`, `doc_deleted`)
 * becomes `object.<action>.*`; other names are not Kazoo's and add nothing. Without types:
 * `call.*.*` and `object.*.*`. All on the source's default account.
 *
 * @module
 */
import type { SubscriptionPart } from "../../hub/hub.ts";
import { RelayError } from "../../model/errors.ts";
import type { Event } from "../../model/event.ts";
import { bindingMatcher, checkAccountId, checkBinding, interestKey } from "./match.ts";

/** Call events bh_call publishes (PROTOCOLS.md §4.4). */
export const KAZOO_CALL_EVENTS: readonly string[] = [
  "CHANNEL_CREATE",
  "CHANNEL_ANSWER",
  "CHANNEL_DESTROY",
  "CHANNEL_HOLD",
  "CHANNEL_UNHOLD",
  "CHANNEL_BRIDGE",
  "PARK_PARKED",
  "PARK_RETRIEVED",
  "PARK_ABANDONED",
];
/** Document actions bh_object publishes. */
export const KAZOO_DOC_ACTIONS: readonly string[] = ["doc_created", "doc_edited", "doc_deleted"];

/** Most bindings one subscription may ask for. */
export const MAX_BINDINGS = 1000;

/** Looks up a source's default account (known once its first token arrived). */
export type DefaultAccount = (source: string) => string | undefined;

/** The event name a binding can produce, when it names exactly one. */
function typeOf(binding: string): string | undefined {
  const [module, first] = binding.split(".");
  if ((module === "call" || module === "object") && first && first !== "*" && first !== "#") {
    return first;
  }
  return undefined;
}

/** Plans a set of bindings on one account (undefined: the source's default account). */
export function planKazooBindings(
  source: string,
  input: { accountId: string | undefined; bindings: readonly string[] },
  defaults: DefaultAccount,
): SubscriptionPart {
  const { accountId } = input;
  if (accountId !== undefined) {
    const problem = checkAccountId(accountId);
    if (problem) throw new RelayError("BAD_FILTER", problem);
  }
  const bindings = [...new Set(input.bindings)];
  if (bindings.length === 0) throw new RelayError("BAD_FILTER", "Give at least one Kazoo binding");
  if (bindings.length > MAX_BINDINGS) {
    throw new RelayError("BAD_FILTER", `At most ${MAX_BINDINGS} Kazoo bindings per subscription`);
  }
  for (const b of bindings) {
    const problem = checkBinding(b);
    if (problem) throw new RelayError("BAD_FILTER", problem);
  }
  const types = bindings.map(typeOf);
  const matcher = bindingMatcher(bindings);
  return {
    source,
    interest: bindings.map((b) => ({ key: interestKey(accountId, b) })),
    types: types.every((t) => t !== undefined) ? [...new Set(types as string[])] : undefined,
    match: (e: Event) =>
      e.detail.vendor === "KAZOO" &&
      matcher(
        {
          binding: e.detail.binding,
          accountId: e.detail.accountId,
          routingKey: e.detail.routingKey,
        },
        accountId ?? defaults(source),
      ),
  };
}

/** Plans `kazooEvents(accountId, bindings)`. */
export function planKazooArgs(
  source: string,
  args: Record<string, unknown>,
  defaults: DefaultAccount,
): SubscriptionPart {
  const raw = args.bindings;
  if (!Array.isArray(raw) || raw.some((b) => typeof b !== "string")) {
    throw new RelayError("BAD_FILTER", "bindings must be a list of strings");
  }
  const accountId = typeof args.accountId === "string" ? args.accountId : undefined;
  return planKazooBindings(source, { accountId, bindings: raw as string[] }, defaults);
}

/** The bindings `events(types:)` needs on a Kazoo source (see the module doc). */
export function bindingsForTypes(types: readonly string[] | undefined): string[] {
  if (types === undefined) return ["call.*.*", "object.*.*"];
  return [...new Set(types)].flatMap((t) =>
    KAZOO_CALL_EVENTS.includes(t)
      ? [`call.${t}.*`]
      : KAZOO_DOC_ACTIONS.includes(t)
      ? [`object.${t}.*`]
      : []
  );
}

/**
 * Plans `events(types:)` for a Kazoo source: on the default account, or, for a client
 * limited to some accounts (tenants), on each of those accounts.
 */
export function planKazooTypes(
  source: string,
  types: readonly string[] | undefined,
  defaults: DefaultAccount,
  tenants?: readonly string[],
): SubscriptionPart {
  const bindings = bindingsForTypes(types);
  // None of the types is a Kazoo event: this source contributes nothing (and registers nothing).
  if (bindings.length === 0) return { source, interest: [], types: [], match: () => false };
  if (!tenants?.length) {
    return planKazooBindings(source, { accountId: undefined, bindings }, defaults);
  }
  const parts = tenants.map((accountId) =>
    planKazooBindings(source, { accountId, bindings }, defaults)
  );
  return {
    source,
    interest: parts.flatMap((p) => p.interest),
    types: parts[0]!.types,
    match: (e) => parts.some((p) => p.match(e)),
  };
}
