/**
 * LUKS2 containers with mutated binary headers (sizes, offsets, version,
 * checksum algorithm) and JSON areas (wrong types, huge numbers, objects with
 * their own toString), with and without a fresh checksum, are read or
 * refused with one input-error line (exit 3).
 */
import { fuzzTargets } from "./_harness.ts";

Deno.test("hostile LUKS2 headers and JSON areas end in success or one input-error line", async () => {
  await fuzzTargets(["luks2-header"]);
});
