/**
 * All five vendors at once, through one graphql-ws connection: every vendor-typed field
 * and the cross-vendor `events` stream, with inline fragments for vendor fields. Also the
 * tenant scope of an API key (Kazoo accounts).
 */
import { assert, assertEquals } from "@std/assert";
import { createDrpSimulator } from "../src/simulators/drp/simulator.ts";
import { createIlandSimulator } from "../src/simulators/iland/simulator.ts";
import { createISymphonySimulator } from "../src/simulators/isymphony/simulator.ts";
import { createKazooSimulator } from "../src/simulators/kazoo/simulator.ts";
import { createWebinateSimulator } from "../src/simulators/webinate/simulator.ts";
import { connectClient } from "./helpers/gql_client.ts";
import { httpQuery, startRelay, waitFor } from "./helpers/relay.ts";

const EVENTS = `subscription {
  events {
    id source vendor type key time
    ... on DrpEvent { action object }
    ... on IlandEvent { kind entityType companyId }
    ... on ISymphonyEvent { properties }
    ... on KazooEvent { accountId routingKey }
    ... on WebinateEvent { eventType }
  }
}`;

type Row = { events: { source: string; vendor: string; type: string } & Record<string, unknown> };

async function allReady(url: string, n: number): Promise<boolean> {
  const res = await httpQuery<{ sources: { state: string }[] }>(url, `{ sources { state } }`);
  return res.data?.sources.filter((s) => s.state === "READY").length === n;
}

Deno.test("all five vendors through one graphql-ws connection", async () => {
  await using drp = createDrpSimulator();
  await using iland = createIlandSimulator();
  await using isym = createISymphonySimulator();
  await using kazoo = createKazooSimulator();
  await using webinate = createWebinateSimulator();
  for (const sim of [drp, iland, isym, kazoo, webinate]) await sim.start();
  await using relay = await startRelay([
    drp.sourceConfig("drp"),
    iland.sourceConfig("iland"),
    isym.sourceConfig("isym"),
    kazoo.sourceConfig("kazoo"),
    webinate.sourceConfig("webinate"),
  ]);
  await waitFor(() => allReady(relay.httpUrl, 5), "five READY sources", 10_000);

  await using client = connectClient(relay.wsUrl);
  const all = client.subscribe<Row>(EVENTS);
  const typed = {
    drp: client.subscribe(`subscription { drpEvents(type: "machines") { key } }`),
    iland: client.subscribe(`subscription { ilandEvents { key kind } }`),
    isym: client.subscribe(
      `subscription { isymphonyEvents(filters: [{ property: "type", value: "hangup" }]) { type } }`,
    ),
    kazoo: client.subscribe(`subscription { kazooEvents(bindings: ["call.*.*"]) { type } }`),
    webinate: client.subscribe(`subscription { webinateEvents(eventTypes: [1]) { eventType } }`),
  };
  await waitFor(
    () =>
      drp.sessions()[0]?.filters.includes("machines.*.*") &&
      kazoo.server.connections.size === 1 &&
      [...kazoo.server.connections].some((c) => kazoo.subscriptions(c.id).length > 0) &&
      isym.server.received.length > 0,
    "upstream interest registered",
  );
  // iSymphony and Kazoo confirm their interest asynchronously; the Source says when.
  await waitFor(async () => {
    const res = await httpQuery<{ sources: { name: string; interest: string[] }[] }>(
      relay.httpUrl,
      `{ sources { name interest } }`,
    );
    const interest = Object.fromEntries(res.data!.sources.map((s) => [s.name, s.interest]));
    return (interest.kazoo?.length ?? 0) >= 2 && (interest.isym?.length ?? 0) > 0;
  }, "kazoo and isymphony interest confirmed");

  drp.emit({ Type: "machines", Action: "update", Key: "m-1", Object: { Name: "m1" } });
  iland.emitEvent({ type: "VM_POWER_STATE_CHANGE", entity_type: "IAAS_VM" });
  isym.emit({ type: "hangup" });
  kazoo.emitCall({ event: "CHANNEL_CREATE" });
  webinate.emit({ type: "Login", username: "bob" });

  const rows = await all.waitForCount(5, 10_000);
  const byVendor = Object.fromEntries(rows.map((r) => [r.events.vendor, r.events]));
  assertEquals(Object.keys(byVendor).sort(), ["DRP", "ILAND", "ISYMPHONY", "KAZOO", "WEBINATE"]);
  assertEquals(byVendor.DRP?.action, "update");
  assertEquals(byVendor.ILAND?.kind, "EVENT");
  assertEquals(byVendor.ISYMPHONY?.type, "hangup");
  assert(typeof byVendor.KAZOO?.routingKey === "string");
  assertEquals(byVendor.WEBINATE?.eventType, 1);
  for (const [name, sub] of Object.entries(typed)) {
    const [first] = await sub.waitForCount(1);
    assert(first, `${name} delivered`);
  }
});

Deno.test("an API key limited to one Kazoo account never sees another's events", async () => {
  const sha256 = async (text: string) =>
    [...new Uint8Array(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(text)))]
      .map((b) => b.toString(16).padStart(2, "0")).join("");
  const tenantKey = "tenant-key-0123456789";
  const opsKey = "ops-key-0123456789";
  await using kazoo = createKazooSimulator();
  await kazoo.start();
  const master = kazoo.accountId;
  const sub = kazoo.accounts.find((a) => a.id !== master)!.id;
  await using relay = await startRelay([kazoo.sourceConfig("voip")], {
    config: {
      auth: {
        apiKeys: [
          {
            id: "tenant",
            sha256: await sha256(tenantKey),
            sources: ["voip"],
            tenants: { voip: [sub] },
          },
          { id: "ops", sha256: await sha256(opsKey), sources: ["*"] },
        ],
      },
    },
  });
  await using tenant = connectClient(relay.wsUrl, { connectionParams: { apiKey: tenantKey } });
  await using ops = connectClient(relay.wsUrl, { connectionParams: { apiKey: opsKey } });
  const BY_ACCOUNT = `subscription($a: ID) {
    kazooEvents(accountId: $a, bindings: ["call.*.*"]) { accountId }
  }`;
  const denied = tenant.subscribe(BY_ACCOUNT, { a: master });
  await denied.waitForEnd();
  assertEquals(denied.errorCodes, ["FORBIDDEN"]);
  const own = tenant.subscribe<{ kazooEvents: { accountId: string } }>(BY_ACCOUNT, { a: sub });
  // Without accountId, a key limited to one account gets that account, not the default.
  const implicit = tenant.subscribe<{ kazooEvents: { accountId: string } }>(
    `subscription { kazooEvents(bindings: ["call.*.*"]) { accountId } }`,
  );
  const EVENTS_Q = `subscription { events { ... on KazooEvent { accountId } } }`;
  const tenantAll = tenant.subscribe<{ events: { accountId: string } }>(EVENTS_Q);
  const opsAll = ops.subscribe<{ events: { accountId: string } }>(EVENTS_Q);
  await waitFor(async () => {
    const res = await httpQuery<{ source: { interest: string[] } }>(
      relay.httpUrl,
      `{ source(name: "voip") { interest } }`,
      {},
      { authorization: `Bearer ${opsKey}` },
    );
    // call.*.* on sub (shared by three), object.*.* on sub, and both on the default account.
    return (res.data?.source.interest.length ?? 0) >= 4;
  }, "interest confirmed");
  kazoo.emitCall({ accountId: master, event: "CHANNEL_CREATE" });
  kazoo.emitCall({ accountId: sub, event: "CHANNEL_CREATE" });
  assertEquals((await own.waitForCount(1))[0]?.kazooEvents.accountId, sub);
  assertEquals((await implicit.waitForCount(1))[0]?.kazooEvents.accountId, sub);
  assertEquals((await tenantAll.waitForCount(1))[0]?.events.accountId, sub);
  assertEquals((await opsAll.waitForCount(1))[0]?.events.accountId, master);
  // One more event for the tenant proves nothing of the master account slipped in before it.
  kazoo.emitCall({ accountId: sub, event: "CHANNEL_DESTROY" });
  const rows = await tenantAll.waitForCount(2);
  assertEquals(rows.map((r) => r.events.accountId), [sub, sub]);

  // Source shows the tenant only its own account's interest; the ops key sees both.
  const SOURCE_Q = `{ source(name: "voip") { interest interestItems { key } gaps { interest } } }`;
  type SourceView = {
    interest: string[];
    interestItems: { key: string }[];
    gaps: { interest: string | null }[];
  };
  const view = async (key: string) =>
    (await httpQuery<{ source: SourceView }>(relay.httpUrl, SOURCE_Q, {}, {
      authorization: `Bearer ${key}`,
    })).data!.source;
  const mine = await view(tenantKey);
  const all = await view(opsKey);
  const texts = (v: SourceView) => [
    ...v.interest,
    ...v.interestItems.map((i) => i.key),
    ...v.gaps.map((g) => g.interest ?? ""),
  ];
  assert(texts(all).some((t) => t.includes(master)), "the ops key sees the default account");
  assert(mine.interest.length >= 2 && mine.interestItems.length >= 2, JSON.stringify(mine));
  for (const text of texts(mine)) {
    assert(!text.includes(master), `the tenant key sees another account: ${text}`);
  }
  assert(mine.interest.every((t) => t.endsWith(` on ${sub}`)), JSON.stringify(mine.interest));
  assert(mine.interestItems.every((i) => i.key.startsWith(`${sub}|`)), JSON.stringify(mine));
});
