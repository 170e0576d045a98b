/**
 * Runs a vendor's fixture corpus end to end: each frame is sent raw by that vendor's
 * simulator to the relay, and must reach a real graphql-ws subscriber with its mapped
 * fields. Shared by the per-vendor corpus tests.
 *
 * @module
 */
import { assertEquals } from "@std/assert";
import { connectClient } from "./gql_client.ts";
import { assertMapped, expectations, loadFixtures } from "./fixtures.ts";
import { type SourceStatus, sourceStatus, startRelay, waitFor } from "./relay.ts";

/** What a vendor's corpus test provides. */
export interface CorpusTarget {
  vendor: string;
  /** The source config pointing at the running simulator. */
  sourceConfig: Record<string, unknown>;
  sendRaw(text: string): number;
  /** The subscription document; its root field is `field`. */
  subscription: string;
  field: string;
  /** True once the upstream interest the subscription needs is in place. */
  registered(status: SourceStatus): boolean;
}

/** Sends every fixture, checking each is delivered and mapped; nothing is dropped. */
export async function runCorpus(t: Deno.TestContext, target: CorpusTarget): Promise<number> {
  const fixtures = loadFixtures(target.vendor);
  const name = String(target.sourceConfig.name);
  await using relay = await startRelay([target.sourceConfig], { logLevel: "error" });
  await using client = connectClient(relay.wsUrl);
  const sub = client.subscribe<Record<string, Record<string, unknown>>>(target.subscription);
  await waitFor(
    async () => {
      const s = await sourceStatus(relay.httpUrl, name);
      return s.state === "READY" && s.subscribers === 1 && target.registered(s);
    },
    `${name}: READY and registered`,
    10_000,
  );
  let seen = 0;
  for (const f of fixtures) {
    await t.step(`${f.name}: delivered and mapped`, async () => {
      const want = expectations(f);
      assertEquals(target.sendRaw(JSON.stringify(f.frame)), 1, "sent on one socket");
      const rows = await sub.waitForCount(seen + want.length, 10_000);
      assertEquals(sub.results.slice(seen).flatMap((r) => r.errors ?? []), [], "no errors");
      want.forEach((w, i) => assertMapped(rows[seen + i]![target.field]!, w, f.name));
      seen += want.length;
    });
  }
  const status = await sourceStatus(relay.httpUrl, name);
  assertEquals(status.framesDropped, 0, "no fixture was dropped");
  assertEquals(sub.results.length, seen, "nothing extra delivered");
  return fixtures.length;
}
