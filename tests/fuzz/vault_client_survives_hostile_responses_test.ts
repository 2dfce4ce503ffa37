/**
 * The Vault client reading hostile answers (any status, odd headers, bodies
 * that are not JSON, JSON of the wrong shape, objects with their own
 * toString, a huge declared length) ends every call in success or one
 * user-error line: a Vault error (exit 7) or a malformed token (exit 3).
 */
import { fuzzTargets } from "./_harness.ts";

Deno.test("hostile Vault answers end in success or one Vault-error line", async () => {
  await fuzzTargets(["vault-response"]);
});
