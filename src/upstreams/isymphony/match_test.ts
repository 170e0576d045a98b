import { assertEquals, assertThrows } from "@std/assert";
import {
  canonicalFilters,
  compileFilters,
  expand,
  filterSetKey,
  matchesFilters,
  supersetOf,
} from "./match.ts";
import type { FilterEntry } from "./messages.ts";

const f = (property: string, value: string): FilterEntry => ({ property, value });
const set = (...entries: FilterEntry[]) => compileFilters(entries);

Deno.test("matchesFilters(): OR within a property, AND across, '*' needs presence", () => {
  const login = { type: "userLogin", username: "mike", port: 57042, userCreated: true };
  assertEquals(matchesFilters(login, set()), true);
  assertEquals(matchesFilters(login, set(f("type", "userLogin"), f("type", "userLogout"))), true);
  assertEquals(matchesFilters(login, set(f("type", "userLogin"), f("username", "sarah"))), false);
  assertEquals(matchesFilters(login, set(f("type", "userLogin"), f("username", "mike"))), true);
  assertEquals(matchesFilters(login, set(f("username", "*"))), true);
  // A filtered property the event lacks excludes it, wildcard or not.
  assertEquals(matchesFilters(login, set(f("queue", "*"))), false);
  assertEquals(matchesFilters(login, set(f("type", "*"), f("queue", "Support"))), false);
  // Case-sensitive; numbers and booleans compare as text.
  assertEquals(matchesFilters(login, set(f("type", "userlogin"))), false);
  assertEquals(matchesFilters(login, set(f("port", "57042"))), true);
  assertEquals(matchesFilters(login, set(f("userCreated", "true"))), true);
  // null is present: only '*' matches it.
  const hangup = { type: "hangup", username: null };
  assertEquals(matchesFilters(hangup, set(f("username", "*"))), true);
  assertEquals(matchesFilters(hangup, set(f("username", "null"))), false);
  // Inherited properties are not event properties.
  assertEquals(matchesFilters({ type: "x" }, set(f("toString", "*"))), false);
});

Deno.test("canonicalFilters(): sorted, deduplicated, '*' absorbs other values", () => {
  const entries = [f("type", "b"), f("queue", "Q"), f("type", "a"), f("type", "b")];
  assertEquals(canonicalFilters(entries), [f("queue", "Q"), f("type", "a"), f("type", "b")]);
  assertEquals(canonicalFilters([f("type", "a"), f("type", "*")]), [f("type", "*")]);
  assertEquals(
    filterSetKey([f("type", "b"), f("type", "a")]),
    filterSetKey([f("type", "a"), f("type", "b")]),
  );
});

Deno.test("supersetOf(): a property only when every set constrains it, values unioned", () => {
  // DESIGN.md's two-subscriber case.
  const a = set(f("type", "agentLogin"), f("queue", "Support"));
  const b = set(f("type", "agentLogout"));
  assertEquals(expand(supersetOf([a, b])), [f("type", "agentLogin"), f("type", "agentLogout")]);
  assertEquals(expand(supersetOf([a])), [f("queue", "Support"), f("type", "agentLogin")]);
  // Any unconstrained subscriber means no filter.
  assertEquals(expand(supersetOf([a, set()])), []);
  // Disjoint properties: nothing in common, no filter.
  assertEquals(expand(supersetOf([set(f("username", "*")), b])), []);
  // '*' in one set absorbs the other values.
  assertEquals(
    expand(supersetOf([set(f("username", "*")), set(f("username", "mike"), f("type", "x"))])),
    [f("username", "*")],
  );
  assertThrows(() => supersetOf([]), RangeError);
});

Deno.test("supersetOf(): lets through every event some subscriber accepts", () => {
  const sets = [
    set(f("type", "agentLogin"), f("queue", "Support")),
    set(f("type", "agentLogout"), f("queue", "Sales"), f("username", "mike")),
    set(f("type", "*"), f("queue", "Support")),
  ];
  const superset = supersetOf(sets);
  const events = [
    { type: "agentLogin", queue: "Support", username: "dave" },
    { type: "agentLogout", queue: "Sales", username: "mike" },
    { type: "hangup", queue: "Support" },
    { type: "hangup" },
    { type: "agentLogout", queue: "Sales", username: "dave" },
  ];
  for (const e of events) {
    if (sets.some((s) => matchesFilters(e, s))) assertEquals(matchesFilters(e, superset), true);
  }
  assertEquals(expand(superset), [f("queue", "Sales"), f("queue", "Support"), f("type", "*")]);
});
