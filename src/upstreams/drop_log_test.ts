import { assertEquals } from "@std/assert";
import { DROP_LOG_INTERVAL_MS, DropLog } from "./drop_log.ts";

Deno.test("DropLog: counts per reason, logs each reason once per interval with what it held back", () => {
  const log = new DropLog();
  assertEquals(log.count("not JSON", 0), 0, "the first drop of a reason is logged");
  assertEquals(log.count("not JSON", 10), undefined);
  assertEquals(log.count("not JSON", DROP_LOG_INTERVAL_MS - 1), undefined);
  assertEquals(log.count("DRP event without Key", 20), 0, "another reason has its own clock");
  assertEquals(log.count("not JSON", DROP_LOG_INTERVAL_MS), 2, "two were held back");
  assertEquals(log.count("not JSON", DROP_LOG_INTERVAL_MS + 1), undefined);
  assertEquals(Object.fromEntries(log.counts()), { "not JSON": 5, "DRP event without Key": 1 });
});
