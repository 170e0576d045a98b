import { assert, assertEquals } from "@std/assert";
import {
  accountOfKey,
  amqpMatch,
  bindingKeyCovers,
  bindingMatcher,
  callIdOfKey,
  checkBinding,
  clientKeyOf,
  interestKey,
  parseInterestKey,
} from "./match.ts";

const ACCT = "6b71cb72c876b5b1396a335f8f8a2594";

Deno.test("amqpMatch: * is exactly one word", () => {
  assert(amqpMatch("call.*.*", "call.CHANNEL_CREATE.abc"));
  assert(!amqpMatch("call.*.*", "call.CHANNEL_CREATE"));
  assert(!amqpMatch("call.*", "call.CHANNEL_CREATE.abc"));
  assert(amqpMatch("call.CHANNEL_CREATE.*", "call.CHANNEL_CREATE.x"));
  assert(!amqpMatch("call.CHANNEL_CREATE.*", "call.CHANNEL_ANSWER.x"));
  assert(!amqpMatch("call.channel_create.*", "call.CHANNEL_CREATE.x"), "case-sensitive");
});

Deno.test("amqpMatch: # is zero or more words, at either end or inside", () => {
  assert(amqpMatch("call.#", "call"));
  assert(amqpMatch("call.#", "call.a"));
  assert(amqpMatch("call.#", "call.a.b.c"));
  assert(!amqpMatch("call.#", "object.a"));
  assert(amqpMatch("#.CHANNEL_CREATE", "CHANNEL_CREATE"));
  assert(amqpMatch("#.CHANNEL_CREATE", "call.x.CHANNEL_CREATE"));
  assert(!amqpMatch("#.CHANNEL_CREATE", "call.CHANNEL_CREATE.x"));
  assert(amqpMatch("#", "anything.at.all"));
  assert(amqpMatch("call.#.x", "call.x"));
  assert(amqpMatch("call.#.x", "call.a.b.x"));
  assert(amqpMatch("#.*.x", "a.x"));
  assert(!amqpMatch("#.*.x", "x"));
});

Deno.test("checkBinding rejects malformed bindings only", () => {
  for (const ok of ["call.*.*", "object.doc_created.user", "call.CHANNEL_CREATE.#", "a.b"]) {
    assertEquals(checkBinding(ok), undefined, ok);
  }
  for (const bad of ["", "call", "call..*", ".call.*", "call.*.", "call. *", "call.CHANNEL_*.*"]) {
    assert(checkBinding(bad) !== undefined, bad);
  }
  assert(checkBinding(`call.${"x".repeat(300)}.*`) !== undefined);
});

Deno.test("interest keys round-trip, with an empty account for the default", () => {
  assertEquals(parseInterestKey(interestKey(undefined, "call.*.*")), {
    accountId: undefined,
    binding: "call.*.*",
  });
  assertEquals(parseInterestKey(interestKey(ACCT, "a.b|c")), { accountId: ACCT, binding: "a.b|c" });
});

Deno.test("routing keys map back to client shape and account", () => {
  const call = `call.${ACCT}.CHANNEL_CREATE.abc%2Edef`;
  assertEquals(clientKeyOf(call), "call.CHANNEL_CREATE.abc%2Edef");
  assertEquals(accountOfKey(call), ACCT);
  assertEquals(callIdOfKey(call), "abc.def");
  const doc = `doc_created.account%2F6b%2F71%2Fcb72c876b5b1396a335f8f8a2594-202405.user.x`;
  assertEquals(clientKeyOf(doc), "object.doc_created.user");
  assertEquals(accountOfKey(doc), ACCT);
  assertEquals(accountOfKey(`call.*.CHANNEL_CREATE.*`), undefined);
  assertEquals(clientKeyOf("presence.update.x"), undefined);
});

Deno.test("bindingMatcher routes by subscribed_key and account, once per event", () => {
  const routingKey = `call.${ACCT}.CHANNEL_CREATE.c1`;
  const facts = (binding: string, accountId: string | null = ACCT) => ({
    binding,
    accountId,
    routingKey,
  });
  const creates = bindingMatcher(["call.CHANNEL_CREATE.*"]);
  assert(creates(facts("call.CHANNEL_CREATE.*"), ACCT));
  assert(!creates(facts("call.*.*"), ACCT), "another subscriber's binding");
  assert(!creates(facts("call.CHANNEL_CREATE.*", "other"), ACCT), "another account");
  assert(creates(facts("call.CHANNEL_CREATE.*", "other"), "*"), "any account");
  const both = bindingMatcher(["call.*.*", "call.CHANNEL_CREATE.*"]);
  assert(both(facts("call.*.*"), ACCT));
  assert(!both(facts("call.CHANNEL_CREATE.*"), ACCT), "second frame of the same event");
  const hash = bindingMatcher(["call.CHANNEL_CREATE.#"]);
  assert(hash(facts("call.CHANNEL_CREATE.#"), ACCT));
});

Deno.test("bindingKeyCovers: wider bindings of the same account cover narrower ones", () => {
  assertEquals(bindingKeyCovers("|#", "|call.*.*"), true);
  assertEquals(bindingKeyCovers("acct|call.#", "acct|call.CHANNEL_CREATE.*"), true);
  assertEquals(bindingKeyCovers("acct|call.*.*", "acct|call.CHANNEL_CREATE.c1"), true);
  assertEquals(bindingKeyCovers("acct|call.*.*", "acct|call.*.*"), true);
  assertEquals(bindingKeyCovers("acct|call.CHANNEL_CREATE.*", "acct|call.*.*"), false);
  assertEquals(bindingKeyCovers("acct|call.*.*", "acct|call.#"), false);
  assertEquals(bindingKeyCovers("a|call.*.*", "b|call.*.*"), false, "another account");
  assertEquals(bindingKeyCovers("|call.*.*", "acct|call.*.*"), false, "default vs named");
});
